/**
 * The drill-down logs `email_opens`, `email_clicks`, `email_bounces`, `email_replies`
 * (DESIGN §5): one row per event of a counted email, with the email's context from its
 * first `email.sent` and the event's own fields, in monthly partitions of occurred_at.
 *
 * One projection per table rather than one owning all four: each has its own checkpoint
 * and version, so a change to one log rebuilds that log alone (`floe rebuild email_opens`),
 * and `--only` can pick one. They share everything but their extra columns.
 *
 * Counted events only: the runtime parks an event until its email's send arrives (it is
 * folded then, with the context), and never hands over second sends or events naming
 * another tenant. Rows are immutable, keyed (event_id, occurred_at): a re-applied event
 * is a no-op (ON CONFLICT DO NOTHING), so no state beyond the table is needed.
 */
import { Column, Rows, upsert } from '../runtime/sql';
import type { Fact, Projection, Tx } from '../runtime/types';

type Data = Record<string, unknown>;

interface LogSpec {
  table: string;
  type: string;
  /** The event's own columns, after the shared context columns. */
  columns: Column[];
  /** Their values, from the event's payload. */
  values(d: Data): unknown[];
}

/** Shared by every log, in table order (projections/tables/ddl.ts LOG_CONTEXT). */
const CONTEXT: Column[] = [
  { name: 'event_id', type: 'uuid' },
  { name: 'tenant_id', type: 'text' },
  { name: 'email_id', type: 'text' },
  { name: 'campaign_id', type: 'text' },
  { name: 'step_id', type: 'text' },
  { name: 'mailbox_id', type: 'text' },
  { name: 'lead_id', type: 'text' },
  { name: 'occurred_at', type: 'timestamptz' },
];
const KEY = ['event_id', 'occurred_at'];

/** An optional payload field: null when absent. */
const opt = (v: unknown): unknown => v ?? null;

function logProjection(spec: LogSpec): Projection<Rows> {
  const columns = [...CONTEXT, ...spec.columns];
  return {
    name: spec.table,
    version: 1,
    tables: [spec.table],
    types: [spec.type],
    begin: () => new Rows(columns.length),
    fold(rows: Rows, f: Fact) {
      const s = f.email?.next;
      if (!s) return; // only counted emails reach here with a ledger entry; nothing to log otherwise
      const e = f.event;
      rows.push(e.id, s.tenantId, s.emailId, s.campaignId, s.stepId, s.mailboxId, s.leadId, e.occurredAt.toISOString(), ...spec.values(e.data));
    },
    async write(rows: Rows, tx: Tx) {
      await upsert(tx.client, tx.table(spec.table), columns, rows.columns, { conflict: KEY });
    },
  };
}

export const emailOpens = logProjection({
  table: 'email_opens',
  type: 'email.opened',
  columns: [
    { name: 'ip', type: 'text' },
    { name: 'user_agent', type: 'text' },
    { name: 'machine', type: 'boolean' },
  ],
  values: (d) => [opt(d.ip), opt(d.userAgent), d.machine === true],
});

export const emailClicks = logProjection({
  table: 'email_clicks',
  type: 'email.clicked',
  columns: [
    { name: 'url', type: 'text' },
    { name: 'ip', type: 'text' },
    { name: 'user_agent', type: 'text' },
  ],
  values: (d) => [d.url, opt(d.ip), opt(d.userAgent)],
});

export const emailBounces = logProjection({
  table: 'email_bounces',
  type: 'email.bounced',
  columns: [
    { name: 'bounce_type', type: 'text' },
    { name: 'bounce_subtype', type: 'text' },
    { name: 'smtp_code', type: 'int' },
    { name: 'reason', type: 'text' },
  ],
  values: (d) => [d.bounceType, opt(d.bounceSubtype), opt(d.smtpCode), opt(d.reason)],
});

export const emailReplies = logProjection({
  table: 'email_replies',
  type: 'email.replied',
  columns: [{ name: 'inbound_message_id', type: 'text' }],
  values: (d) => [opt(d.inboundMessageId)],
});

export const EMAIL_LOG_PROJECTIONS = [emailOpens, emailClicks, emailBounces, emailReplies];
