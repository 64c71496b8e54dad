/**
 * `admin_system_events`: Floe's own maintenance actions, as recorded in the store (seeds/000
 * §8). Today these are the billing events of DESIGN §6: `billing.period_closed` (invoiced
 * figures recorded) and `billing.period_recomputed` (a period recomputed from history and
 * applied). Each becomes one row: `event_type` = the Floe type, a readable `message`
 * ("billing period 2026-03-01..2026-04-01 recomputed: emails_sent 120 → 125 (reason: late
 * events)"), `metadata` = the event's payload with its JSON texts parsed (a text that is not
 * JSON kept as a string), `admin_user_id` NULL (Floe did it), severity `low` (routine, nothing
 * to resolve: the table's CHECK allows low|medium|high|critical). Keyed by event id, so a
 * re-applied event is a no-op.
 */
import { Rows } from '../runtime/sql';
import type { Fact, Projection, Tx } from '../runtime/types';
import { JSONB_OR_STRING } from './adminAuditLog';

const TABLE = 'admin_system_events';
const SEVERITY = 'low';
const CLOSED = 'billing.period_closed';
const RECOMPUTED = 'billing.period_recomputed';

type Data = Record<string, unknown>;

/** A producer's JSON text as a value, or the text itself when it is not JSON. */
function parse(text: unknown): unknown {
  if (typeof text !== 'string') return text ?? null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A figure as a person reads it: numbers and strings bare, absent as `none`. */
function show(v: unknown): string {
  if (v === null || v === undefined) return 'none';
  if (typeof v === 'string') return v;
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** `emails_sent 120, mailboxes_used 3` */
function figuresText(figures: unknown): string {
  if (!isRecord(figures)) return show(figures);
  const parts = Object.entries(figures).map(([k, v]) => `${k} ${show(v)}`);
  return parts.length ? parts.join(', ') : 'no figures';
}

/** `emails_sent 120 → 125, leads_used 40 → 41`: only what changed, in the figures' order. */
function changesText(before: unknown, after: unknown): string {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!isRecord(before) || !isRecord(after)) return same(before, after) ? 'no change' : `${show(before)} → ${show(after)}`;
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const parts = keys.filter((k) => !same(before[k], after[k])).map((k) => `${k} ${show(before[k])} → ${show(after[k])}`);
  return parts.length ? parts.join(', ') : 'no change';
}

/** The row's message for a billing event. */
export function billingMessage(type: string, d: Data): string {
  const period = `billing period ${show(d.periodStart)}..${show(d.periodEnd)}`;
  if (type === CLOSED) return `${period} closed: ${figuresText(parse(d.figures))}`;
  const reason = typeof d.reason === 'string' && d.reason !== '' ? ` (reason: ${d.reason})` : '';
  return `${period} recomputed: ${changesText(parse(d.before), parse(d.after))}${reason}`;
}

const COLUMNS = [
  ['event_id', 'uuid'],
  ['event_type', 'text'],
  ['message', 'text'],
  ['tenant_id', 'text'],
  ['occurred_at', 'timestamptz'],
  ['period_start', 'text'],
  ['period_end', 'text'],
  ['figures_json', 'text'],
  ['before_json', 'text'],
  ['after_json', 'text'],
  ['reason', 'text'],
] as const;

// The metadata is built here from the payload's texts so that PostgreSQL alone decides what
// is valid JSON (see JSONB_OR_STRING); its keys are the payload's.
const insertSql = (table: string) => `
  INSERT INTO ${table} (event_id, event_type, severity, message, tenant_id, metadata, occurred_at)
  SELECT u.event_id, u.event_type, '${SEVERITY}', u.message, u.tenant_id,
         jsonb_build_object('periodStart', u.period_start, 'periodEnd', u.period_end) ||
           CASE WHEN u.event_type = '${CLOSED}'
             THEN jsonb_build_object('figures', ${JSONB_OR_STRING}(u.figures_json))
             ELSE jsonb_build_object('before', ${JSONB_OR_STRING}(u.before_json), 'after', ${JSONB_OR_STRING}(u.after_json), 'reason', u.reason)
           END,
         u.occurred_at
    FROM unnest(${COLUMNS.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')}) AS u(${COLUMNS.map(([n]) => n).join(', ')})
  ON CONFLICT (event_id) DO NOTHING`;

export const adminSystemEvents: Projection<Rows> = {
  name: TABLE,
  version: 1,
  tables: [TABLE],
  types: [CLOSED, RECOMPUTED],
  begin: () => new Rows(COLUMNS.length),
  fold(rows: Rows, f: Fact) {
    const e = f.event;
    const d = e.data;
    rows.push(
      e.id,
      e.type,
      billingMessage(e.type, d),
      e.tenantId,
      e.occurredAt.toISOString(),
      d.periodStart,
      d.periodEnd,
      d.figures ?? null,
      d.before ?? null,
      d.after ?? null,
      d.reason ?? null,
    );
  },
  async write(rows: Rows, tx: Tx) {
    if (rows.length) await tx.client.query(insertSql(tx.table(TABLE)), rows.columns);
  },
};
