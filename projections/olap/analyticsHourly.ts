/**
 * `analytics_hourly`: per (tenant, UTC hour) by event time, over counted emails only:
 * - `messages_sent`: emails whose first `email.sent` is in the hour;
 * - `messages_delivered` / `_failed` / `_bounced` / `_opened` / `_clicked`: events of the
 *   type in the hour, each one (machine opens included);
 * - `unique_opens` / `unique_clicks`: emails whose earliest open / click by occurredAt is in
 *   the hour. An earlier open arriving late moves the email's unique open from the hour of
 *   the ledger's previous `firstOpenedAt` to the new one (-1 there, +1 here);
 * - `avg_delivery_ms`: the mean `deliveryMs` of the hour's `email.delivered` events that
 *   carry one, rounded half up (PostgreSQL round()), NULL when none. The exact sum and count
 *   live in the private `floe.analytics_hourly_delivery`, so the mean is exact across batches.
 *
 * No all-zero rows: every hour a fact touches also gets an event counter: a unique open
 * (or click) lands in the hour of the open (click) event that made it unique, and moving it
 * away leaves that hour's `messages_opened` (`_clicked`) behind.
 */
import { queryArrays, utcHour } from '../runtime/sql';
import type { Fact, Instant, Projection, Tx } from '../runtime/types';
import { KeyedCounters } from './counters';

const TABLE = 'analytics_hourly';
const DELIVERY = 'floe.analytics_hourly_delivery';

const COUNTERS = [
  'messages_sent',
  'messages_delivered',
  'messages_failed',
  'messages_bounced',
  'messages_opened',
  'messages_clicked',
  'unique_opens',
  'unique_clicks',
] as const;
type Counter = (typeof COUNTERS)[number];
/** Private per-hour state, kept after the counters in the accumulator. */
const STATE = ['delivery_sum', 'deliveries'] as const;
const WIDTH = COUNTERS.length + STATE.length;
const at = (c: Counter | (typeof STATE)[number]): number => [...COUNTERS, ...STATE].indexOf(c);

const EVENT_COUNTER: Record<string, Counter> = {
  'email.delivered': 'messages_delivered',
  'email.failed': 'messages_failed',
  'email.bounced': 'messages_bounced',
  'email.opened': 'messages_opened',
  'email.clicked': 'messages_clicked',
};

/** -1 in the hour of the previous earliest time, +1 in the new one's, when it changed. */
function moveFirst(acc: KeyedCounters, tenantId: string, c: Counter, prev: Instant, next: Instant): void {
  if (prev === next || next === null) return;
  if (prev !== null) acc.add([tenantId, utcHour(prev)], [], [-1], at(c));
  acc.add([tenantId, utcHour(next)], [], [1], at(c));
}

export const analyticsHourly: Projection<KeyedCounters> = {
  name: TABLE,
  version: 1,
  tables: [TABLE, DELIVERY],
  types: ['email.sent', ...Object.keys(EVENT_COUNTER)],
  begin: () => new KeyedCounters(WIDTH),
  fold(acc: KeyedCounters, f: Fact) {
    if (!f.email) return;
    const { prev, next } = f.email;
    const e = f.event;
    const tenantId = next.tenantId;
    if (prev === null) {
      acc.add([tenantId, utcHour(next.sentAt)], [], [1], at('messages_sent'));
      return;
    }
    const counter = EVENT_COUNTER[e.type];
    if (!counter) return;
    const hour = [tenantId, utcHour(e.occurredAt.getTime())];
    acc.add(hour, [], [1], at(counter));
    const ms = (e.data as { deliveryMs?: unknown }).deliveryMs;
    if (e.type === 'email.delivered' && typeof ms === 'number') acc.add(hour, [], [ms, 1], at('delivery_sum'));
    moveFirst(acc, tenantId, 'unique_opens', prev.firstOpenedAt, next.firstOpenedAt);
    moveFirst(acc, tenantId, 'unique_clicks', prev.firstClickedAt, next.firstClickedAt);
  },
  async write(acc: KeyedCounters, tx: Tx) {
    if (!acc.size) return;
    const cols = ['tenant_id', 'hour', ...COUNTERS, ...STATE];
    const types = ['text', 'timestamptz', ...COUNTERS.map(() => 'int'), 'bigint', 'bigint'];
    // One statement: fold the batch's delivery times into the private totals, then upsert
    // the hours with the mean of the new totals (hours without deliveries keep theirs).
    await queryArrays(
      tx.client,
      `WITH u AS (
         SELECT * FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) AS u(${cols.join(', ')})),
       d AS (
         INSERT INTO ${tx.table(DELIVERY)} AS cur (tenant_id, hour, delivery_sum, deliveries)
         SELECT tenant_id, hour, delivery_sum, deliveries FROM u WHERE deliveries > 0
         ON CONFLICT (tenant_id, hour) DO UPDATE SET
           delivery_sum = cur.delivery_sum + EXCLUDED.delivery_sum, deliveries = cur.deliveries + EXCLUDED.deliveries
         RETURNING tenant_id, hour, delivery_sum, deliveries)
       INSERT INTO ${tx.table(TABLE)} AS cur (tenant_id, hour, ${COUNTERS.join(', ')}, avg_delivery_ms)
       SELECT u.tenant_id, u.hour, ${COUNTERS.map((c) => `u.${c}`).join(', ')}, round(d.delivery_sum::numeric / d.deliveries)::int
         FROM u LEFT JOIN d ON d.tenant_id = u.tenant_id AND d.hour = u.hour
       ON CONFLICT (tenant_id, hour) DO UPDATE SET
         ${COUNTERS.map((c) => `${c} = cur.${c} + EXCLUDED.${c}`).join(', ')},
         avg_delivery_ms = COALESCE(EXCLUDED.avg_delivery_ms, cur.avg_delivery_ms),
         updated_at = now()`,
      acc.columns(),
    );
  },
};
