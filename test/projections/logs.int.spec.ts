/**
 * The log projections (projections/logs/): the email drill-down logs against the
 * generator's ground truth (one row per counted open / click / bounce / reply; ignored
 * lines nowhere), the admin audit log against the generated admin actions, and hand-written
 * events for parking, foreign tenants, second sends, bad JSON and the billing events.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import type { EventLine } from '../../ops/generate';
import type { AppendInput } from '../../streams/store';
import type { Row } from '../../ops/generate/oracle';
import { emailOpens, LOG_PROJECTIONS } from '../../projections/logs';
import { billingMessage } from '../../projections/logs/adminSystemEvents';
import { project } from '../../projections/pipeline';
import type { Fact } from '../../projections/runtime/types';
import { PostgresEventStore } from '../../streams/postgres';
import { useDatabase } from '../helpers/backends';
import { appendLines, workload, type Workload } from '../helpers/pipeline';

const OPTS = { seed: 'proj-spec', tenants: 4, emails: 1500, start: '2026-03-01', days: 30 };

const CONTEXT = ['event_id', 'tenant_id', 'email_id', 'campaign_id', 'step_id', 'mailbox_id', 'lead_id', 'occurred_at'];
const LOGS = {
  email_opens: { type: 'email.opened', columns: [...CONTEXT, 'ip', 'user_agent', 'machine'] },
  email_clicks: { type: 'email.clicked', columns: [...CONTEXT, 'url', 'ip', 'user_agent'] },
  email_bounces: { type: 'email.bounced', columns: [...CONTEXT, 'bounce_type', 'bounce_subtype', 'smtp_code', 'reason'] },
  email_replies: { type: 'email.replied', columns: [...CONTEXT, 'inbound_message_id'] },
} as const;
type LogTable = keyof typeof LOGS;
const AUDIT_COLUMNS = [
  'event_id',
  'tenant_id',
  'admin_user_id',
  'action',
  'resource_type',
  'resource_id',
  'old_values',
  'new_values',
  'ip_address',
  'user_agent',
  'occurred_at',
];

const iso = (ms: number) => new Date(ms).toISOString();
const orNull = (v: unknown) => v ?? null;

/** Expected log rows: every counted fact of every counted email, payloads from its line. */
function expectedLogs(w: Workload): Record<LogTable, Row[]> {
  const data = new Map(w.lines.map((l) => [l.id, l.data]));
  const out: Record<LogTable, Row[]> = { email_opens: [], email_clicks: [], email_bounces: [], email_replies: [] };
  for (const m of w.truth.emails) {
    for (const f of m.events) {
      const d = data.get(f.id)!;
      const ctx = {
        event_id: f.id,
        tenant_id: m.tenantId,
        email_id: m.emailId,
        campaign_id: m.campaignId,
        step_id: m.stepId,
        mailbox_id: m.mailboxId,
        lead_id: m.leadId,
        occurred_at: iso(f.at),
      };
      if (f.type === 'email.opened') out.email_opens.push({ ...ctx, ip: orNull(d.ip), user_agent: orNull(d.userAgent), machine: f.machine === true });
      if (f.type === 'email.clicked') out.email_clicks.push({ ...ctx, url: f.url, ip: orNull(d.ip), user_agent: orNull(d.userAgent) });
      if (f.type === 'email.bounced') {
        out.email_bounces.push({
          ...ctx,
          bounce_type: f.bounceType,
          bounce_subtype: orNull(d.bounceSubtype),
          smtp_code: orNull(d.smtpCode),
          reason: orNull(d.reason),
        });
      }
      if (f.type === 'email.replied') out.email_replies.push({ ...ctx, inbound_message_id: orNull(d.inboundMessageId) });
    }
  }
  return out;
}

const parsed = (text: unknown) => (typeof text === 'string' ? JSON.parse(text) : null);

function expectedAudit(w: Workload): Row[] {
  const data = new Map(w.lines.map((l) => [l.id, l.data]));
  return w.truth.tenants.flatMap((t) =>
    t.adminActions.map((a) => {
      const d = data.get(a.id)!;
      return {
        event_id: a.id,
        tenant_id: t.tenantId,
        admin_user_id: a.adminUserId,
        action: a.action,
        resource_type: a.resourceType,
        resource_id: a.resourceId,
        old_values: parsed(d.oldValues),
        new_values: parsed(d.newValues),
        ip_address: orNull(d.ipAddress),
        user_agent: orNull(d.userAgent),
        occurred_at: iso(a.at),
      };
    }),
  );
}

async function rows(pool: Pool, table: string, columns: readonly string[]): Promise<Row[]> {
  const { rows: out } = await pool.query(`SELECT ${columns.join(', ')} FROM ${table} ORDER BY event_id`);
  return out.map((r: Row) => Object.fromEntries(columns.map((c) => [c, r[c] instanceof Date ? (r[c] as Date).toISOString() : r[c]])));
}

/** Same rows by event id, reporting the first differences. */
function expectSameLog(table: string, actual: Row[], expected: Row[]): void {
  const want = new Map(expected.map((r) => [String(r.event_id), r]));
  const got = new Map(actual.map((r) => [String(r.event_id), r]));
  const problems: string[] = [];
  for (const [id, r] of want) {
    const a = got.get(id);
    if (!a) problems.push(`missing ${id}: ${JSON.stringify(r)}`);
    else if (JSON.stringify(a) !== JSON.stringify(r)) problems.push(`${id}:\n    got  ${JSON.stringify(a)}\n    want ${JSON.stringify(r)}`);
  }
  for (const [id, a] of got) if (!want.has(id)) problems.push(`unexpected ${id}: ${JSON.stringify(a)}`);
  if (problems.length) expect.fail(`${table}: ${problems.length} difference(s) in ${actual.length} rows (expected ${expected.length}):\n  ${problems.slice(0, 8).join('\n  ')}`);
}

async function openStore(url: string): Promise<{ pool: Pool; store: PostgresEventStore }> {
  const pool = new Pool({ connectionString: url, max: 4 });
  return { pool, store: await PostgresEventStore.open(url, { pool }) };
}

describe('log projections: generated workload (PostgreSQL)', () => {
  it('the workload has the anomalies the logs must survive', () => {
    const w = workload(OPTS);
    const kinds = new Set(w.truth.emails.flatMap((m) => m.anomalies));
    for (const k of ['before_sent', 'foreign_tenant', 'duplicate_send', 'retried_duplicate', 'late_open', 'out_of_order'] as const) {
      expect(kinds.has(k), k).to.equal(true);
    }
    const expected = expectedLogs(w);
    for (const t of Object.keys(LOGS) as LogTable[]) expect(expected[t].length, t).to.be.greaterThan(0);
    expect(expectedAudit(w).length).to.be.greaterThan(0);
  });

  for (const batchSize of [5000, 97]) {
    describe(`batch size ${batchSize}`, () => {
      const db = useDatabase();
      let pool: Pool;
      let store: PostgresEventStore;
      before(async function () {
        if (!db.url) return this.skip();
        ({ pool, store } = await openStore(db.url));
        await appendLines(store, workload(OPTS).lines);
        await project({ pool, url: db.url, schemas: store.schemas, projections: LOG_PROJECTIONS, batchSize, untilCaughtUp: true });
      });
      after(async () => {
        await pool?.end();
      });

      for (const table of Object.keys(LOGS) as LogTable[]) {
        it(`${table}: one row per counted ${LOGS[table].type} event, with its email's first-send context`, async () => {
          expectSameLog(table, await rows(pool, table, LOGS[table].columns), expectedLogs(workload(OPTS))[table]);
        });
      }

      it('no ignored line (second send, foreign tenant) is in any log', async () => {
        const ignored = workload(OPTS).truth.emails.flatMap((m) => m.ignored.map((i) => i.id));
        expect(ignored.length).to.be.greaterThan(0);
        for (const table of Object.keys(LOGS)) {
          const { rows: found } = await pool.query(`SELECT event_id FROM ${table} WHERE event_id = ANY($1::uuid[])`, [ignored]);
          expect(found, table).to.deep.equal([]);
        }
      });

      it('admin_audit_log: one row per admin.action, JSON texts as jsonb', async () => {
        expectSameLog('admin_audit_log', await rows(pool, 'admin_audit_log', AUDIT_COLUMNS), expectedAudit(workload(OPTS)));
      });

      it('rows sit in their month partitions, not the default one', async () => {
        for (const table of Object.keys(LOGS)) {
          const { rows: d } = await pool.query(`SELECT count(*)::int AS n FROM ${table}_default`);
          expect(d[0].n, table).to.equal(0);
        }
      });
    });
  }
});

describe('log projections: hand-written events (PostgreSQL)', () => {
  const db = useDatabase();
  let pool: Pool;
  let store: PostgresEventStore;
  const run = () => project({ pool, url: db.url, schemas: store.schemas, projections: LOG_PROJECTIONS, batchSize: 2, untilCaughtUp: true });
  const line = (type: string, tenantId: string, occurredAt: string, data: Record<string, unknown>): EventLine => ({
    id: randomUUID(),
    type,
    tenantId,
    occurredAt,
    data,
  });
  before(async function () {
    if (!db.url) return this.skip();
    ({ pool, store } = await openStore(db.url));
  });
  after(async () => {
    await pool?.end();
  });

  it('logs parked events once their send arrives, with the first send’s context; never foreign or second-send ones', async () => {
    const open1 = line('email.opened', 't1', '2026-03-10T10:05:00.000Z', { emailId: 'e1', ip: '203.0.113.9', userAgent: 'UA', machine: true });
    const click = line('email.clicked', 't1', '2026-03-10T10:06:00.000Z', { emailId: 'e1', url: 'https://x.test/a' });
    const foreign = line('email.opened', 't2', '2026-03-10T10:07:00.000Z', { emailId: 'e1' });
    const sent = line('email.sent', 't1', '2026-03-10T10:00:00.000Z', { emailId: 'e1', campaignId: 'c1', stepId: 's1', mailboxId: 'mb1', leadId: 'l1' });
    const second = line('email.sent', 't1', '2026-03-11T10:00:00.000Z', { emailId: 'e1', campaignId: 'c9', stepId: 's9', mailboxId: 'mb9', leadId: 'l9' });
    const bounce = line('email.bounced', 't1', '2026-04-02T00:00:00.000Z', { emailId: 'e1', bounceType: 'soft', smtpCode: 421 });
    const reply = line('email.replied', 't1', '2026-04-03T00:00:00.000Z', { emailId: 'e1', inboundMessageId: '<r@x>' });
    // Projected between appends so that the parked events wait across batches and runs.
    await store.append([open1, click, foreign]);
    await run();
    expect((await pool.query('SELECT 1 FROM email_opens UNION ALL SELECT 1 FROM email_clicks')).rowCount).to.equal(0);
    await store.append([sent, second, bounce, reply]);
    await run();

    const ctx = { email_id: 'e1', tenant_id: 't1', campaign_id: 'c1', step_id: 's1', mailbox_id: 'mb1', lead_id: 'l1' };
    const pick = (r: Row) => ({ email_id: r.email_id, tenant_id: r.tenant_id, campaign_id: r.campaign_id, step_id: r.step_id, mailbox_id: r.mailbox_id, lead_id: r.lead_id });
    const opens = await rows(pool, 'email_opens', LOGS.email_opens.columns);
    expect(opens.map((r) => r.event_id)).to.deep.equal([open1.id]);
    expect(pick(opens[0])).to.deep.equal(ctx);
    expect(opens[0]).to.include({ occurred_at: open1.occurredAt, ip: '203.0.113.9', user_agent: 'UA', machine: true });
    const clicks = await rows(pool, 'email_clicks', LOGS.email_clicks.columns);
    expect(clicks.map((r) => [r.event_id, r.url, r.ip])).to.deep.equal([[click.id, 'https://x.test/a', null]]);
    const bounces = await rows(pool, 'email_bounces', LOGS.email_bounces.columns);
    expect(bounces.map((r) => ({ ...pick(r), id: r.event_id, t: r.bounce_type, code: r.smtp_code, sub: r.bounce_subtype }))).to.deep.equal([
      { ...ctx, id: bounce.id, t: 'soft', code: 421, sub: null },
    ]);
    const replies = await rows(pool, 'email_replies', LOGS.email_replies.columns);
    expect(replies.map((r) => [r.event_id, r.inbound_message_id, r.mailbox_id])).to.deep.equal([[reply.id, '<r@x>', 'mb1']]);
    const { rows: dead } = await pool.query('SELECT event_id FROM floe.dead_letters');
    expect(dead.map((r) => r.event_id)).to.deep.equal([foreign.id]);
  });

  it('a re-applied batch adds no row', async () => {
    const count = async () => (await pool.query('SELECT count(*)::int AS n FROM email_opens')).rows[0].n;
    const before = await count();
    const { rows: stored } = await pool.query(`SELECT event_id, occurred_at FROM email_opens`);
    expect(stored).to.have.length(1);
    const event = { id: stored[0].event_id, type: 'email.opened', tenantId: 't1', occurredAt: stored[0].occurred_at, data: { emailId: 'e1' } };
    const state = { emailId: 'e1', tenantId: 't1', campaignId: 'c1', stepId: 's1', mailboxId: 'mb1', leadId: 'l1' };
    const acc = emailOpens.begin();
    emailOpens.fold(acc, { event, email: { prev: state, next: state } } as unknown as Fact);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      for (let i = 0; i < 2; i++) await emailOpens.write(acc, { client, table: (n) => n });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(await count()).to.equal(before);
  });

  it('admin_audit_log keeps JSON as jsonb and anything else as a JSON string, never failing', async () => {
    const action = (oldValues: string | null, newValues: string | null, extra: Partial<AppendInput> = {}) => ({
      ...line('admin.action', 't1', '2026-03-12T08:00:00.000Z', {
        adminUserId: 'adm1',
        action: 'update',
        resourceType: 'mailbox',
        resourceId: 'mb1',
        oldValues,
        newValues,
      }),
      ...extra,
    });
    const good = action('{"dailyLimit":50,"tags":["a",null]}', '12345678901234567890.5', { metadata: { correlationId: 'corr-1', source: 'console' } });
    const bad = action('{not json', 'plain words');
    const pgOnlyBad = action('{"x":"\\u0000"}', '"\\ud800"'); // valid for JSON.parse, refused by PostgreSQL's jsonb
    const none = action(null, null);
    await store.append([good, bad, pgOnlyBad, none]);
    await run();
    const { rows: got } = await pool.query(
      `SELECT event_id, old_values, new_values::text AS new_text, metadata FROM admin_audit_log WHERE event_id = ANY($1::uuid[])`,
      [[good.id, bad.id, pgOnlyBad.id, none.id]],
    );
    const by = new Map(got.map((r) => [r.event_id, r]));
    expect(by.get(good.id)).to.deep.include({ old_values: { dailyLimit: 50, tags: ['a', null] }, new_text: '12345678901234567890.5' });
    expect(by.get(good.id).metadata).to.deep.equal({ correlationId: 'corr-1', source: 'console' });
    expect(by.get(bad.id)).to.deep.include({ old_values: '{not json', new_text: '"plain words"', metadata: null });
    expect(by.get(pgOnlyBad.id)).to.deep.include({ old_values: '{"x":"\\u0000"}', new_text: JSON.stringify('"\\ud800"') });
    expect(by.get(none.id)).to.deep.include({ old_values: null, new_text: null });
    const { rows: dead } = await pool.query(`SELECT count(*)::int AS n FROM floe.dead_letters WHERE type = 'admin.action'`);
    expect(dead[0].n).to.equal(0);
  });

  it('admin_system_events gets one readable row per billing event', async () => {
    const closed = line('billing.period_closed', 't1', '2026-04-01T00:05:00.000Z', {
      periodStart: '2026-03-01',
      periodEnd: '2026-04-01',
      figures: '{"emails_sent":120,"mailboxes_used":3}',
    });
    const recomputed = line('billing.period_recomputed', 't1', '2026-04-09T12:00:00.000Z', {
      periodStart: '2026-03-01',
      periodEnd: '2026-04-01',
      before: '{"emails_sent":120,"mailboxes_used":3}',
      after: '{"emails_sent":125,"mailboxes_used":3}',
      reason: 'late events',
    });
    const odd = line('billing.period_recomputed', 't2', '2026-04-10T12:00:00.000Z', {
      periodStart: '2026-03-05',
      periodEnd: '2026-04-05',
      before: 'garbage',
      after: '{"emails_sent":1}',
    });
    await store.append([closed, recomputed, odd]);
    await run();
    await run(); // nothing new: still one row each
    const { rows: got } = await pool.query(
      `SELECT event_id, event_type, severity, message, tenant_id, admin_user_id, metadata, occurred_at, resolved_at
         FROM admin_system_events ORDER BY occurred_at`,
    );
    expect(got.map((r) => ({ ...r, occurred_at: r.occurred_at.toISOString() }))).to.deep.equal([
      {
        event_id: closed.id,
        event_type: 'billing.period_closed',
        severity: 'low',
        message: 'billing period 2026-03-01..2026-04-01 closed: emails_sent 120, mailboxes_used 3',
        tenant_id: 't1',
        admin_user_id: null,
        metadata: { periodStart: '2026-03-01', periodEnd: '2026-04-01', figures: { emails_sent: 120, mailboxes_used: 3 } },
        occurred_at: closed.occurredAt,
        resolved_at: null,
      },
      {
        event_id: recomputed.id,
        event_type: 'billing.period_recomputed',
        severity: 'low',
        message: 'billing period 2026-03-01..2026-04-01 recomputed: emails_sent 120 → 125 (reason: late events)',
        tenant_id: 't1',
        admin_user_id: null,
        metadata: {
          periodStart: '2026-03-01',
          periodEnd: '2026-04-01',
          before: { emails_sent: 120, mailboxes_used: 3 },
          after: { emails_sent: 125, mailboxes_used: 3 },
          reason: 'late events',
        },
        occurred_at: recomputed.occurredAt,
        resolved_at: null,
      },
      {
        event_id: odd.id,
        event_type: 'billing.period_recomputed',
        severity: 'low',
        message: 'billing period 2026-03-05..2026-04-05 recomputed: garbage → {"emails_sent":1}',
        tenant_id: 't2',
        admin_user_id: null,
        metadata: { periodStart: '2026-03-05', periodEnd: '2026-04-05', before: 'garbage', after: { emails_sent: 1 }, reason: null },
        occurred_at: odd.occurredAt,
        resolved_at: null,
      },
    ]);
  });

  it('billing messages: no change, added and removed figures', () => {
    const p = { periodStart: '2026-03-01', periodEnd: '2026-04-01' };
    expect(billingMessage('billing.period_recomputed', { ...p, before: '{"a":1}', after: '{"a":1}', reason: null })).to.equal(
      'billing period 2026-03-01..2026-04-01 recomputed: no change',
    );
    expect(billingMessage('billing.period_recomputed', { ...p, before: '{"a":1}', after: '{"b":2}' })).to.equal(
      'billing period 2026-03-01..2026-04-01 recomputed: a 1 → none, b none → 2',
    );
    expect(billingMessage('billing.period_closed', { ...p, figures: '{}' })).to.equal('billing period 2026-03-01..2026-04-01 closed: no figures');
  });
});
