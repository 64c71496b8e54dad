/**
 * The in-database baseline of the catch-up benchmark: the same events as the store, in a
 * plain relational table with typed columns (loaded once by COPY, outside the timing),
 * and ONE `INSERT … SELECT … GROUP BY` that produces the `campaign_analytics` rows by the
 * counting rules of DESIGN §5 (ops/generate/oracle/README.md):
 *
 * - an email counts from its first `email.sent` by store order, which fixes its tenant,
 *   campaign, company and cohort day (UTC date of that send); later sends are ignored;
 * - its lifecycle events count only under the first send's tenant (another tenant's
 *   events match nothing), whatever their order; events of emails never sent count nowhere;
 * - per email: sent = 1, delivered/bounced/opened/human-opened/clicked/replied/
 *   unsubscribed/complained once each, open_events/click_events count events;
 * - company_id: the first (by store order) non-null company of the row's emails, else
 *   the campaign's (`campaign.created`);
 * - completed_leads: distinct leads with a `campaign.lead_completed` on that UTC day; a
 *   day with completions and no sends is a row with sent = 0.
 *
 * The result is compared row for row with what Floe projected.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

export const BASELINE_EVENTS_DDL = `
  CREATE TABLE bench_events (
    position     bigint NOT NULL,
    event_id     uuid NOT NULL,
    type         text NOT NULL,
    tenant_id    text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    email_id     text,
    campaign_id  text,
    step_id      text,
    mailbox_id   text,
    lead_id      text,
    company_id   text,
    machine      boolean,
    bounce_type  text
  );
  CREATE TABLE bench_campaign_analytics (
    tenant_id text NOT NULL, campaign_id text NOT NULL, day date NOT NULL, company_id text,
    sent int NOT NULL, delivered int NOT NULL, bounced int NOT NULL, opened_tracked int NOT NULL,
    human_opened int NOT NULL, clicked_tracked int NOT NULL, replied int NOT NULL,
    unsubscribed int NOT NULL, spam_complaints int NOT NULL, open_events int NOT NULL,
    click_events int NOT NULL, completed_leads int NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id, day)
  );`;

export const COMPARED_COLUMNS = [
  'tenant_id',
  'campaign_id',
  'day',
  'company_id',
  'sent',
  'delivered',
  'bounced',
  'opened_tracked',
  'human_opened',
  'clicked_tracked',
  'replied',
  'unsubscribed',
  'spam_complaints',
  'open_events',
  'click_events',
  'completed_leads',
] as const;

const LIFECYCLE = `'email.delivered', 'email.bounced', 'email.opened', 'email.clicked', 'email.replied', 'email.unsubscribed', 'email.complained'`;

/** The baseline: one statement, timed by the benchmark. */
export const BASELINE_SQL = `
INSERT INTO bench_campaign_analytics (${COMPARED_COLUMNS.join(', ')})
WITH sends AS (           -- each email's first email.sent by store order
  SELECT DISTINCT ON (email_id) email_id, tenant_id, campaign_id, company_id, position,
         (occurred_at AT TIME ZONE 'UTC')::date AS day
    FROM bench_events
   WHERE type = 'email.sent'
   ORDER BY email_id, position
), facts AS (             -- what happened to each (email, tenant), whatever the order
  SELECT email_id, tenant_id,
         bool_or(type = 'email.delivered')::int AS delivered,
         bool_or(type = 'email.bounced')::int AS bounced,
         bool_or(type = 'email.opened')::int AS opened_tracked,
         bool_or(type = 'email.opened' AND machine IS NOT TRUE)::int AS human_opened,
         bool_or(type = 'email.clicked')::int AS clicked_tracked,
         bool_or(type = 'email.replied')::int AS replied,
         bool_or(type = 'email.unsubscribed')::int AS unsubscribed,
         bool_or(type = 'email.complained')::int AS spam_complaints,
         count(*) FILTER (WHERE type = 'email.opened')::int AS open_events,
         count(*) FILTER (WHERE type = 'email.clicked')::int AS click_events
    FROM bench_events
   WHERE type IN (${LIFECYCLE})
   GROUP BY email_id, tenant_id
), sent_rows AS (         -- campaign emails by cohort day; another tenant's facts join nothing
  SELECT s.tenant_id, s.campaign_id, s.day,
         (array_agg(s.company_id ORDER BY s.position) FILTER (WHERE s.company_id IS NOT NULL))[1] AS company_id,
         count(*)::int AS sent,
         coalesce(sum(f.delivered), 0)::int AS delivered,
         coalesce(sum(f.bounced), 0)::int AS bounced,
         coalesce(sum(f.opened_tracked), 0)::int AS opened_tracked,
         coalesce(sum(f.human_opened), 0)::int AS human_opened,
         coalesce(sum(f.clicked_tracked), 0)::int AS clicked_tracked,
         coalesce(sum(f.replied), 0)::int AS replied,
         coalesce(sum(f.unsubscribed), 0)::int AS unsubscribed,
         coalesce(sum(f.spam_complaints), 0)::int AS spam_complaints,
         coalesce(sum(f.open_events), 0)::int AS open_events,
         coalesce(sum(f.click_events), 0)::int AS click_events
    FROM sends s
    LEFT JOIN facts f ON f.email_id = s.email_id AND f.tenant_id = s.tenant_id
   WHERE s.campaign_id IS NOT NULL
   GROUP BY s.tenant_id, s.campaign_id, s.day
), completions AS (       -- distinct leads completing the campaign that UTC day
  SELECT tenant_id, campaign_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, count(DISTINCT lead_id)::int AS completed_leads
    FROM bench_events
   WHERE type = 'campaign.lead_completed'
   GROUP BY 1, 2, 3
), campaigns AS (         -- the campaign's company: first non-null of its campaign.created
  SELECT tenant_id, campaign_id, (array_agg(company_id ORDER BY position) FILTER (WHERE company_id IS NOT NULL))[1] AS company_id
    FROM bench_events
   WHERE type = 'campaign.created'
   GROUP BY tenant_id, campaign_id
)
SELECT r.tenant_id, r.campaign_id, r.day, coalesce(r.company_id, k.company_id),
       coalesce(r.sent, 0), coalesce(r.delivered, 0), coalesce(r.bounced, 0), coalesce(r.opened_tracked, 0),
       coalesce(r.human_opened, 0), coalesce(r.clicked_tracked, 0), coalesce(r.replied, 0), coalesce(r.unsubscribed, 0),
       coalesce(r.spam_complaints, 0), coalesce(r.open_events, 0), coalesce(r.click_events, 0), coalesce(r.completed_leads, 0)
  FROM (SELECT coalesce(s.tenant_id, c.tenant_id) AS tenant_id, coalesce(s.campaign_id, c.campaign_id) AS campaign_id,
               coalesce(s.day, c.day) AS day, s.company_id, s.sent, s.delivered, s.bounced, s.opened_tracked, s.human_opened,
               s.clicked_tracked, s.replied, s.unsubscribed, s.spam_complaints, s.open_events, s.click_events, c.completed_leads
          FROM sent_rows s
          FULL JOIN completions c ON c.tenant_id = s.tenant_id AND c.campaign_id = s.campaign_id AND c.day = s.day) r
  LEFT JOIN campaigns k ON k.tenant_id = r.tenant_id AND k.campaign_id = r.campaign_id`;

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** COPY text format: \N for NULL, backslash escapes for the few special characters. */
const field = (v: string | boolean | number | null): string =>
  v === null ? '\\N' : String(v).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');

/** One `bench_events` COPY line for an event stored at `position`. */
export function baselineLine(position: bigint, e: Record<string, unknown>): string {
  const d = (e.data ?? {}) as Record<string, unknown>;
  const machine = e.type === 'email.opened' ? d.machine === true : null;
  return (
    [
      String(position),
      str(e.id),
      str(e.type),
      str(e.tenantId),
      str(e.occurredAt),
      str(d.emailId),
      str(d.campaignId),
      str(d.stepId),
      str(d.mailboxId),
      str(d.leadId),
      str(d.companyId),
      machine,
      str(d.bounceType),
    ]
      .map(field)
      .join('\t') + '\n'
  );
}

/**
 * A COPY into `bench_events` fed chunk by chunk while the store is being loaded, so the
 * baseline holds exactly the events the store accepted (duplicates left out), at the
 * store's positions.
 */
export class BaselineLoader {
  private wake: (() => void) | undefined;
  private readonly source = new Readable({ read: () => this.resume() });
  private readonly done: Promise<void>;
  private rows = 0;

  private constructor(private readonly client: Client) {
    this.done = pipeline(this.source, client.query(copyFrom('COPY bench_events FROM STDIN')));
    this.done.catch(() => this.resume());
  }

  private resume(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  static async open(url: string): Promise<BaselineLoader> {
    const client = new Client({ connectionString: url });
    await client.connect();
    await client.query(BASELINE_EVENTS_DDL);
    return new BaselineLoader(client);
  }

  /** Queue lines; resolves when the COPY stream wants more. */
  async write(lines: string[]): Promise<void> {
    this.rows += lines.length;
    if (!this.source.push(lines.join(''))) await new Promise<void>((r) => (this.wake = r));
  }

  /** Finish the COPY, then VACUUM ANALYZE (hint bits, visibility map, statistics): all outside any timing. */
  async close(): Promise<number> {
    this.source.push(null);
    try {
      await this.done;
      await this.client.query('VACUUM (ANALYZE) bench_events');
    } finally {
      await this.client.end();
    }
    return this.rows;
  }
}

export interface BaselineRun {
  seconds: number;
  rows: number;
}

/** Empties the result table, then times the one statement. */
export async function runBaseline(url: string): Promise<BaselineRun> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('TRUNCATE bench_campaign_analytics');
    const t0 = process.hrtime.bigint();
    const r = await c.query(BASELINE_SQL);
    return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, rows: r.rowCount ?? 0 };
  } finally {
    await c.end();
  }
}

const SELECT_ROWS = (table: string) =>
  `SELECT ${COMPARED_COLUMNS.map((c) => (c === 'day' ? `to_char(day, 'YYYY-MM-DD') AS day` : c)).join(', ')}
     FROM ${table} ORDER BY tenant_id, campaign_id, day`;

/** The compared columns of a campaign_analytics-shaped table, one JSON string per row, in key order. */
export async function campaignRows(url: string, table: string): Promise<string[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query({ text: SELECT_ROWS(table), rowMode: 'array' });
    return rows.map((r) => JSON.stringify(r));
  } finally {
    await c.end();
  }
}

export interface Comparison {
  identical: boolean;
  floeRows: number;
  baselineRows: number;
  /** A few differing rows on each side, for the report. */
  onlyFloe: string[];
  onlyBaseline: string[];
}

export function compareRows(floe: string[], baseline: string[]): Comparison {
  const b = new Set(baseline);
  const f = new Set(floe);
  const onlyFloe = floe.filter((r) => !b.has(r));
  const onlyBaseline = baseline.filter((r) => !f.has(r));
  return {
    identical: onlyFloe.length === 0 && onlyBaseline.length === 0 && floe.length === baseline.length,
    floeRows: floe.length,
    baselineRows: baseline.length,
    onlyFloe: onlyFloe.slice(0, 5),
    onlyBaseline: onlyBaseline.slice(0, 5),
  };
}
