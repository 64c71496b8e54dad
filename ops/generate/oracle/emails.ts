/**
 * `emails`: one row per counted email, context from its first email.sent, earliest
 * timestamps per lifecycle type and status by precedence
 * replied > clicked > opened > bounced > failed > delivered > sent.
 */
import { iso, sortRows, type EmailOutcome, type Row } from './shared';

export const EMAILS_COLUMNS = [
  'tenant_id',
  'email_id',
  'campaign_id',
  'step_id',
  'mailbox_id',
  'lead_id',
  'company_id',
  'message_id',
  'status',
  'sent_at',
  'delivered_at',
  'first_opened_at',
  'first_clicked_at',
  'replied_at',
  'bounced_at',
  'bounce_type',
  'unsubscribed_at',
  'complained_at',
  'open_count',
  'click_count',
] as const;

const PRECEDENCE: Array<[string, string]> = [
  ['email.replied', 'replied'],
  ['email.clicked', 'clicked'],
  ['email.opened', 'opened'],
  ['email.bounced', 'bounced'],
  ['email.failed', 'failed'],
  ['email.delivered', 'delivered'],
];

export function emailsTable(outcomes: EmailOutcome[]): Row[] {
  const rows = outcomes.map(({ email: e, first, bounceType, counters }) => ({
    tenant_id: e.tenantId,
    email_id: e.emailId,
    campaign_id: e.campaignId,
    step_id: e.stepId,
    mailbox_id: e.mailboxId,
    lead_id: e.leadId,
    company_id: e.companyId,
    message_id: e.messageId,
    status: PRECEDENCE.find(([type]) => first[type] !== undefined)?.[1] ?? 'sent',
    sent_at: iso(e.sentAt),
    delivered_at: iso(first['email.delivered']),
    first_opened_at: iso(first['email.opened']),
    first_clicked_at: iso(first['email.clicked']),
    replied_at: iso(first['email.replied']),
    bounced_at: iso(first['email.bounced']),
    bounce_type: bounceType,
    unsubscribed_at: iso(first['email.unsubscribed']),
    complained_at: iso(first['email.complained']),
    open_count: counters.open_events,
    click_count: counters.click_events,
  }));
  return sortRows(rows, ['tenant_id', 'email_id']);
}
