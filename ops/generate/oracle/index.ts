/**
 * The oracle: the expected contents of the analytics tables, computed from the
 * generator's ground truth by DESIGN §5/§6 rules, never by replaying the NDJSON through
 * projection code. Column lists and every decision: README.md beside this file.
 *
 * @example
 * const truth = new WorkloadTruth();
 * for (const _ of generateWorkload(opts, truth));
 * const tables = computeTruthTables(truth);
 * tables.campaign_analytics[0]; // { tenant_id, campaign_id, day, company_id, sent, ... }
 */
import type { WorkloadTruth } from '../truth';
import { billingAnalytics, BILLING_ANALYTICS_COLUMNS } from './billing';
import { campaignAnalytics, CAMPAIGN_ANALYTICS_COLUMNS, sequenceStepAnalytics, SEQUENCE_STEP_ANALYTICS_COLUMNS } from './campaign';
import { dailyAnalytics, DAILY_ANALYTICS_COLUMNS } from './daily';
import { emailsTable, EMAILS_COLUMNS } from './emails';
import { analyticsHourly, ANALYTICS_HOURLY_COLUMNS } from './hourly';
import { leadAnalytics, LEAD_ANALYTICS_COLUMNS } from './lead';
import { mailboxAnalytics, MAILBOX_ANALYTICS_COLUMNS } from './mailbox';
import { outcome, type Row } from './shared';
import { warmupAnalytics, WARMUP_ANALYTICS_COLUMNS } from './warmup';

export type { Row } from './shared';
export { NO_CAMPAIGN } from './lead';

/** Every oracle table and its columns, in the order the tables are written. */
export const TRUTH_TABLE_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  campaign_analytics: CAMPAIGN_ANALYTICS_COLUMNS,
  sequence_step_analytics: SEQUENCE_STEP_ANALYTICS_COLUMNS,
  mailbox_analytics: MAILBOX_ANALYTICS_COLUMNS,
  lead_analytics: LEAD_ANALYTICS_COLUMNS,
  warmup_analytics: WARMUP_ANALYTICS_COLUMNS,
  daily_analytics: DAILY_ANALYTICS_COLUMNS,
  analytics_hourly: ANALYTICS_HOURLY_COLUMNS,
  emails: EMAILS_COLUMNS,
  billing_analytics: BILLING_ANALYTICS_COLUMNS,
};

export function computeTruthTables(truth: WorkloadTruth): Record<string, Row[]> {
  const outcomes = truth.emails.map(outcome);
  return {
    campaign_analytics: campaignAnalytics(truth, outcomes),
    sequence_step_analytics: sequenceStepAnalytics(outcomes),
    mailbox_analytics: mailboxAnalytics(truth, outcomes),
    lead_analytics: leadAnalytics(outcomes),
    warmup_analytics: warmupAnalytics(truth),
    daily_analytics: dailyAnalytics(outcomes),
    analytics_hourly: analyticsHourly(outcomes),
    emails: emailsTable(outcomes),
    billing_analytics: billingAnalytics(truth, outcomes),
  };
}
