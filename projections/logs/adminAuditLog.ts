/**
 * `admin_audit_log`: one row per `admin.action` event (seeds/000 §7). `old_values` /
 * `new_values` are the event's JSON texts as jsonb, a text that is not valid JSON kept as
 * a JSON string value (never a failure); `metadata` is the event's envelope metadata
 * (correlationId, causationId, source), NULL when it has none. Rows are immutable and
 * keyed by event id, so a re-applied event is a no-op.
 */
import { Rows } from '../runtime/sql';
import type { Fact, Projection, Tx } from '../runtime/types';

const TABLE = 'admin_audit_log';

/** JSON text → jsonb, or the text as a JSON string when it is not JSON (migrations/20261123000340_admin_logs_json.ts). */
export const JSONB_OR_STRING = 'floe.jsonb_or_string';

const COLUMNS = [
  ['event_id', 'uuid'],
  ['tenant_id', 'text'],
  ['admin_user_id', 'text'],
  ['action', 'text'],
  ['resource_type', 'text'],
  ['resource_id', 'text'],
  ['old_values', 'text'],
  ['new_values', 'text'],
  ['ip_address', 'text'],
  ['user_agent', 'text'],
  ['metadata', 'text'],
  ['occurred_at', 'timestamptz'],
] as const;
const JSON_COLUMNS = new Set(['old_values', 'new_values', 'metadata']);

const insertSql = (table: string) => {
  const names = COLUMNS.map(([n]) => n);
  return `INSERT INTO ${table} (${names.join(', ')})
    SELECT ${names.map((n) => (JSON_COLUMNS.has(n) ? `${JSONB_OR_STRING}(u.${n})` : `u.${n}`)).join(', ')}
      FROM unnest(${COLUMNS.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')}) AS u(${names.join(', ')})
    ON CONFLICT (event_id) DO NOTHING`;
};

export const adminAuditLog: Projection<Rows> = {
  name: TABLE,
  version: 1,
  tables: [TABLE],
  types: ['admin.action'],
  begin: () => new Rows(COLUMNS.length),
  fold(rows: Rows, f: Fact) {
    const e = f.event;
    const d = e.data;
    rows.push(
      e.id,
      e.tenantId,
      d.adminUserId,
      d.action,
      d.resourceType,
      d.resourceId,
      d.oldValues ?? null,
      d.newValues ?? null,
      d.ipAddress ?? null,
      d.userAgent ?? null,
      e.metadata && Object.keys(e.metadata).length ? JSON.stringify(e.metadata) : null,
      e.occurredAt.toISOString(),
    );
  },
  async write(rows: Rows, tx: Tx) {
    if (rows.length) await tx.client.query(insertSql(tx.table(TABLE)), rows.columns);
  },
};
