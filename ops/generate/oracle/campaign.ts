/**
 * `campaign_analytics` and `sequence_step_analytics`: the §5 counters of campaign
 * emails by cohort day, plus distinct completed leads per campaign and completion day.
 */
import type { WorkloadTruth } from '../truth';
import { addCounters, COUNTERS, counted, day, sortRows, upsert, zeroCounters, type EmailOutcome, type Row } from './shared';

export const CAMPAIGN_ANALYTICS_COLUMNS = ['tenant_id', 'campaign_id', 'day', 'company_id', ...COUNTERS, 'completed_leads'] as const;
export const SEQUENCE_STEP_ANALYTICS_COLUMNS = ['tenant_id', 'step_id', 'day', 'campaign_id', 'company_id', ...COUNTERS] as const;

export function campaignAnalytics(truth: WorkloadTruth, outcomes: EmailOutcome[]): Row[] {
  const companyOf = new Map(truth.campaigns.map((c) => [c.campaignId, c.companyId]));
  const rows = new Map<string, Row & { completed: Set<string> }>();
  const row = (tenantId: string, campaignId: string, d: string, companyId: string | null) =>
    upsert(rows, `${tenantId}\u0000${campaignId}\u0000${d}`, () => ({
      tenant_id: tenantId,
      campaign_id: campaignId,
      day: d,
      company_id: companyId,
      ...zeroCounters(),
      completed_leads: 0,
      completed: new Set<string>(),
    }));
  // A row's company: its first email's that names one, else the campaign's.
  for (const o of outcomes) {
    const { tenantId, campaignId, companyId } = o.email;
    if (campaignId === null) continue;
    const r = row(tenantId, campaignId, o.cohortDay, null);
    r.company_id ??= companyId;
    addCounters(r as never, o.counters);
  }
  for (const lead of truth.leads) {
    for (const c of lead.completions) {
      row(lead.tenantId, c.campaignId, day(c.at), null).completed.add(lead.leadId);
    }
  }
  const out: Row[] = [];
  for (const { completed, ...r } of rows.values()) {
    r.company_id ??= companyOf.get(r.campaign_id as string) ?? null;
    r.completed_leads = completed.size;
    if (counted(r, CAMPAIGN_COUNTED)) out.push(r);
  }
  return sortRows(out, ['tenant_id', 'campaign_id', 'day']);
}

const CAMPAIGN_COUNTED = [...COUNTERS, 'completed_leads'];

export function sequenceStepAnalytics(outcomes: EmailOutcome[]): Row[] {
  const rows = new Map<string, Row>();
  for (const o of outcomes) {
    const { tenantId, campaignId, stepId, companyId } = o.email;
    if (stepId === null) continue;
    const r = upsert(rows, `${tenantId}\u0000${stepId}\u0000${o.cohortDay}`, () => ({
      tenant_id: tenantId,
      step_id: stepId,
      day: o.cohortDay,
      campaign_id: null,
      company_id: null,
      ...zeroCounters(),
    }));
    // The first email's campaign and company that are given.
    r.campaign_id ??= campaignId;
    r.company_id ??= companyId;
    addCounters(r as never, o.counters);
  }
  return sortRows([...rows.values()], ['tenant_id', 'step_id', 'day']);
}
