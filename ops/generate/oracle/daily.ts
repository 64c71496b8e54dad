/**
 * `daily_analytics`: per (campaign, mailbox, cohort day), how many counted emails were
 * sent, opened (any tracked open, machine included), clicked, bounced (hard or soft), replied.
 */
import { sortRows, upsert, type EmailOutcome, type Row } from './shared';
import { NO_CAMPAIGN } from './lead';

export const DAILY_ANALYTICS_COLUMNS = [
  'tenant_id',
  'campaign_id',
  'mailbox_id',
  'day',
  'emails_sent',
  'emails_opened',
  'emails_clicked',
  'emails_bounced',
  'emails_replied',
] as const;

export function dailyAnalytics(outcomes: EmailOutcome[]): Row[] {
  const rows = new Map<string, Row>();
  for (const o of outcomes) {
    const { tenantId, mailboxId } = o.email;
    const campaignId = o.email.campaignId ?? NO_CAMPAIGN;
    const r = upsert(rows, `${tenantId}\u0000${campaignId}\u0000${mailboxId}\u0000${o.cohortDay}`, () => ({
      tenant_id: tenantId,
      campaign_id: campaignId,
      mailbox_id: mailboxId,
      day: o.cohortDay,
      emails_sent: 0,
      emails_opened: 0,
      emails_clicked: 0,
      emails_bounced: 0,
      emails_replied: 0,
    }));
    const c = o.counters;
    (r.emails_sent as number) += c.sent;
    (r.emails_opened as number) += c.opened_tracked;
    (r.emails_clicked as number) += c.clicked_tracked;
    (r.emails_bounced as number) += c.bounced;
    (r.emails_replied as number) += c.replied;
  }
  return sortRows([...rows.values()], ['tenant_id', 'campaign_id', 'mailbox_id', 'day']);
}
