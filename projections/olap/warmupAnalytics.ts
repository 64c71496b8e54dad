/**
 * `warmup_analytics`: warm-up sends and partner interactions per (tenant, mailbox, event
 * day), as event counts, with `health_score` / `progress_percentage` from the day's
 * latest `warmup.progressed` (gauges, see gauges.ts: a day with only a progress event has
 * a row, its counters zero).
 */
import type { Fact, Projection, Tx } from '../runtime/types';
import { utcDay } from '../runtime/sql';
import { MailboxDays, type GaugeSlot } from './gauges';

const TABLE = 'warmup_analytics';
const GAUGES = 'floe.warmup_analytics_gauges';

const COUNTER_NAMES = ['sent', 'delivered', 'opened_tracked', 'clicked_tracked', 'replied', 'bounced', 'unsubscribed', 'spam_complaints'];
/** `warmup.interaction` kind → the counter it adds to. */
const KIND_COLUMN: Record<string, string> = {
  delivered: 'delivered',
  opened: 'opened_tracked',
  clicked: 'clicked_tracked',
  replied: 'replied',
  bounced: 'bounced',
  unsubscribed: 'unsubscribed',
  spam_complaint: 'spam_complaints',
};
const SLOTS: GaugeSlot[] = [
  {
    name: 'progress',
    columns: [
      { name: 'health_score', type: 'int' },
      { name: 'progress_percentage', type: 'int' },
    ],
  },
];

export const warmupAnalytics: Projection<MailboxDays> = {
  name: 'warmup_analytics',
  version: 2,
  tables: [TABLE, GAUGES],
  types: ['warmup.email_sent', 'warmup.interaction', 'warmup.progressed'],
  begin: () => new MailboxDays(COUNTER_NAMES, SLOTS),
  fold(days: MailboxDays, f: Fact) {
    const e = f.event;
    const mailboxId = String(e.data.mailboxId);
    const day = utcDay(e.occurredAt.getTime());
    if (e.type === 'warmup.progressed') {
      days.gauge('progress', e.tenantId, mailboxId, day, [e.data.healthScore, e.data.progressPercentage], e);
      return;
    }
    const column = e.type === 'warmup.email_sent' ? 'sent' : KIND_COLUMN[String(e.data.kind)];
    if (column === undefined) return; // a kind newer than this projection: counts nowhere
    days.count(e.tenantId, mailboxId, day, [1], COUNTER_NAMES.indexOf(column));
  },
  async write(days: MailboxDays, tx: Tx) {
    await days.saveGauges(tx.client, tx.table(GAUGES));
    await days.upsertRows(tx.client, { table: tx.table(TABLE), gauges: tx.table(GAUGES) });
  },
};
