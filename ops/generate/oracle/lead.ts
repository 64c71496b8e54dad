/**
 * `lead_analytics`: the §5 counters of a lead's emails per campaign over all time, and
 * the lead status by precedence complained > unsubscribed > bounced (hard) > replied > active.
 */
import { addCounters, COUNTERS, sortRows, upsert, zeroCounters, type EmailOutcome, type Row } from './shared';

export const LEAD_ANALYTICS_COLUMNS = ['tenant_id', 'lead_id', 'campaign_id', ...COUNTERS, 'status'] as const;

/** campaign_id of emails sent outside any campaign (the key column is NOT NULL). */
export const NO_CAMPAIGN = '';

export function leadAnalytics(outcomes: EmailOutcome[]): Row[] {
  const rows = new Map<string, Row & { hard: boolean }>();
  for (const o of outcomes) {
    const { tenantId, leadId } = o.email;
    const campaignId = o.email.campaignId ?? NO_CAMPAIGN;
    const r = upsert(rows, `${tenantId}\u0000${leadId}\u0000${campaignId}`, () => ({
      tenant_id: tenantId,
      lead_id: leadId,
      campaign_id: campaignId,
      ...zeroCounters(),
      status: 'active',
      hard: false,
    }));
    addCounters(r as never, o.counters);
    if (o.hardBounced) r.hard = true;
  }
  const out: Row[] = [];
  for (const { hard, ...r } of rows.values()) {
    r.status =
      (r.spam_complaints as number) > 0
        ? 'complained'
        : (r.unsubscribed as number) > 0
          ? 'unsubscribed'
          : hard
            ? 'bounced'
            : (r.replied as number) > 0
              ? 'replied'
              : 'active';
    out.push(r);
  }
  return sortRows(out, ['tenant_id', 'lead_id', 'campaign_id']);
}
