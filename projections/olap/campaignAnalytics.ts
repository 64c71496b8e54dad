/**
 * `campaign_analytics`: campaign emails by (tenant, campaign, cohort day) with the §5
 * counters, plus `completed_leads`, the distinct leads that completed the campaign that
 * UTC day. It keeps three private tables: the campaigns' companies, each row's first email
 * company, and the completions already counted.
 *
 * A row's `company_id` is the company of its first email (by store position) that names one,
 * else the campaign's (`campaign.created`), else NULL. Both are kept apart from the row, and the
 * row's company is worked out again from them whenever a batch writes it (and, for rows of a
 * campaign whose `campaign.created` arrives later, then), so that the table does not depend on
 * where batches (or runs) began: projecting live gives what a replay gives.
 */
import type { Fact, Projection, Tx } from '../runtime/types';
import { queryArrays, Rows, utcDay } from '../runtime/sql';
import { COUNTED_EMAIL_TYPES, COUNTER_COLUMNS, COUNTERS, counterDelta, GivenCompanies, KeyedCounters } from './counters';

interface Acc {
  counters: KeyedCounters;
  /** The campaigns the batch creates, with their companies. */
  campaigns: GivenCompanies;
  completions: Rows;
}

const TABLE = 'campaign_analytics';
const CAMPAIGNS = 'floe.campaign_analytics_campaigns';
const COMPLETIONS = 'floe.campaign_analytics_completions';
const COMPANIES = 'floe.campaign_analytics_companies';

export const campaignAnalytics: Projection<Acc> = {
  name: 'campaign_analytics',
  // 2: rows written before their campaign.created get the campaign's company when it comes.
  // 3: a row's email company is its first email's that names one, kept apart (COMPANIES).
  version: 3,
  tables: [TABLE, CAMPAIGNS, COMPLETIONS, COMPANIES],
  types: [...COUNTED_EMAIL_TYPES, 'campaign.created', 'campaign.lead_completed'],
  begin: () => ({ counters: new KeyedCounters(COUNTERS.length), campaigns: new GivenCompanies(), completions: new Rows(4) }),
  fold(acc: Acc, f: Fact) {
    const e = f.event;
    if (e.type === 'campaign.created') {
      acc.campaigns.note(e.tenantId, e.data.campaignId as string, (e.data.companyId as string | null | undefined) ?? null);
      return;
    }
    if (e.type === 'campaign.lead_completed') {
      acc.completions.push(e.tenantId, e.data.campaignId, e.data.leadId, utcDay(e.occurredAt.getTime()));
      return;
    }
    const s = f.email?.next;
    if (!s || s.campaignId === null) return;
    const d = counterDelta(f);
    if (d) acc.counters.add([s.tenantId, s.campaignId, s.cohortDay], [s.companyId], d);
  },
  async write(acc: Acc, tx: Tx) {
    const t = tx.table(TABLE);
    const campaigns = tx.table(CAMPAIGNS);
    const companies = tx.table(COMPANIES);
    // The row's company as things stand: its first email company (kept, or `fresh`: recorded
    // by the same statement), else its campaign's.
    const companyOf = (alias: string, fresh?: string) => {
      const row = (x: string) => `${x}.tenant_id = ${alias}.tenant_id AND ${x}.campaign_id = ${alias}.campaign_id AND ${x}.day = ${alias}.day`;
      return `COALESCE((SELECT e.company_id FROM ${companies} e WHERE ${row('e')}),${fresh ? ` (SELECT f.company_id FROM ${fresh} f WHERE ${row('f')}),` : ''}
                (SELECT c.company_id FROM ${campaigns} c WHERE c.tenant_id = ${alias}.tenant_id AND c.campaign_id = ${alias}.campaign_id))`;
    };
    if (acc.campaigns.size) await acc.campaigns.save(tx.client, campaigns, 'campaign_id');
    if (acc.counters.size) {
      const cols = ['tenant_id', 'campaign_id', 'day', 'company_id', ...COUNTERS];
      const types = ['text', 'text', 'date', 'text', ...COUNTER_COLUMNS.map((c) => c.type)];
      // The batch's first email company of each row is recorded unless an earlier batch's is.
      await queryArrays(
        tx.client,
        `WITH u AS (SELECT * FROM unnest(${types.map((ty, i) => `$${i + 1}::${ty}[]`).join(', ')}) AS u(${cols.join(', ')})),
         fresh AS (
           INSERT INTO ${companies} (tenant_id, campaign_id, day, company_id)
           SELECT tenant_id, campaign_id, day, company_id FROM u WHERE company_id IS NOT NULL
           ON CONFLICT DO NOTHING
           RETURNING tenant_id, campaign_id, day, company_id)
         INSERT INTO ${t} AS cur (${cols.join(', ')})
         SELECT u.tenant_id, u.campaign_id, u.day, ${companyOf('u', 'fresh')}, ${COUNTERS.map((c) => `u.${c}`).join(', ')} FROM u
         ON CONFLICT (tenant_id, campaign_id, day) DO UPDATE SET
           company_id = EXCLUDED.company_id,
           ${COUNTERS.map((c) => `${c} = cur.${c} + EXCLUDED.${c}`).join(', ')}, updated_at = now()`,
        acc.counters.columns(),
      );
    }
    if (acc.completions.length) {
      await queryArrays(
        tx.client,
        `WITH fresh AS (
           INSERT INTO ${tx.table(COMPLETIONS)} (tenant_id, campaign_id, lead_id, day)
           SELECT DISTINCT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[])
           ON CONFLICT DO NOTHING
           RETURNING tenant_id, campaign_id, day),
         days AS (SELECT tenant_id, campaign_id, day, count(*) AS n FROM fresh GROUP BY tenant_id, campaign_id, day)
         INSERT INTO ${t} AS cur (tenant_id, campaign_id, day, company_id, completed_leads)
         SELECT f.tenant_id, f.campaign_id, f.day, ${companyOf('f')}, f.n FROM days f
         ON CONFLICT (tenant_id, campaign_id, day) DO UPDATE SET
           company_id = EXCLUDED.company_id,
           completed_leads = cur.completed_leads + EXCLUDED.completed_leads, updated_at = now()`,
        acc.completions.columns,
      );
    }
    if (acc.campaigns.size) {
      // Rows of these campaigns written before the campaign was known, without an email company.
      await queryArrays(
        tx.client,
        `UPDATE ${t} AS r SET company_id = c.company_id, updated_at = now()
           FROM ${campaigns} c, unnest($1::text[], $2::text[]) AS b(tenant_id, campaign_id)
          WHERE c.tenant_id = b.tenant_id AND c.campaign_id = b.campaign_id AND c.company_id IS NOT NULL
            AND r.tenant_id = c.tenant_id AND r.campaign_id = c.campaign_id AND r.company_id IS NULL`,
        acc.campaigns.columns().slice(0, 2),
      );
    }
  },
};
