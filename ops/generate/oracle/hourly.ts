/**
 * `analytics_hourly`: per tenant and UTC hour of event time, over counted emails only.
 */
import type { EmailEventType } from '../truth';
import { counted, hour, sortRows, upsert, type EmailOutcome, type Row } from './shared';

const HOURLY_COUNTERS = [
  'messages_sent',
  'messages_delivered',
  'messages_failed',
  'messages_bounced',
  'messages_opened',
  'messages_clicked',
  'unique_opens',
  'unique_clicks',
];

export const ANALYTICS_HOURLY_COLUMNS = ['tenant_id', 'hour', ...HOURLY_COUNTERS, 'avg_delivery_ms'] as const;

const EVENT_COLUMN: Partial<Record<EmailEventType, string>> = {
  'email.delivered': 'messages_delivered',
  'email.failed': 'messages_failed',
  'email.bounced': 'messages_bounced',
  'email.opened': 'messages_opened',
  'email.clicked': 'messages_clicked',
};

export function analyticsHourly(outcomes: EmailOutcome[]): Row[] {
  const rows = new Map<string, Row & { deliverySum: number; deliveries: number }>();
  const row = (tenantId: string, at: number) => {
    const h = hour(at);
    return upsert(rows, `${tenantId}\u0000${h}`, () => ({
      tenant_id: tenantId,
      hour: h,
      ...Object.fromEntries(HOURLY_COUNTERS.map((c) => [c, 0])),
      avg_delivery_ms: null,
      deliverySum: 0,
      deliveries: 0,
    }));
  };
  for (const o of outcomes) {
    const { tenantId, sentAt, events } = o.email;
    (row(tenantId, sentAt).messages_sent as number)++;
    for (const f of events) {
      const column = EVENT_COLUMN[f.type];
      if (!column) continue;
      const r = row(tenantId, f.at);
      (r[column] as number)++;
      if (f.type === 'email.delivered' && typeof f.deliveryMs === 'number') {
        r.deliverySum += f.deliveryMs;
        r.deliveries++;
      }
    }
    const firstOpen = o.first['email.opened'];
    if (firstOpen !== undefined) (row(tenantId, firstOpen).unique_opens as number)++;
    const firstClick = o.first['email.clicked'];
    if (firstClick !== undefined) (row(tenantId, firstClick).unique_clicks as number)++;
  }
  const out: Row[] = [];
  for (const { deliverySum, deliveries, ...r } of rows.values()) {
    // Nearest integer, halves up (PostgreSQL round() on a positive numeric agrees).
    r.avg_delivery_ms = deliveries > 0 ? Math.round(deliverySum / deliveries) : null;
    if (counted(r, HOURLY_COUNTERS)) out.push(r);
  }
  return sortRows(out, ['tenant_id', 'hour']);
}
