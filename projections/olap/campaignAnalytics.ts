/**
 * `campaign_analytics`: campaign emails by (tenant, campaign, cohort day) with the §5
 * counters, plus `completed_leads`, the distinct leads that completed the campaign that
 * UTC day. It keeps two private tables: the campaigns' companies (for rows made only of
 * completions, and emails sent without a company) and the completions already counted.
 *
 * A row's `company_id` is its first email's company, else the campaign's (`campaign.created`).
 * When `campaign.created` arrives after rows of its campaign were written without a company,
 * those rows get the campaign's then, so that the table does not depend on where batches
 * (or runs) began: projecting live gives what a replay gives.
 */
import type { Fact, Projection, Tx } from '../runtime/types';
import { queryArrays, Rows, upsert, utcDay } from '../runtime/sql';
import { COUNTED_EMAIL_TYPES, COUNTER_COLUMNS, COUNTERS, counterDelta, KeyedCounters } from './counters';

interface Acc {
  counters: KeyedCounters;
  campaigns: Rows;
  completions: Rows;
}

const TABLE = 'campaign_analytics';
const CAMPAIGNS = 'floe.campaign_analytics_campaigns';
const COMPLETIONS = 'floe.campaign_analytics_completions';

export const campaignAnalytics: Projection<Acc> = {
  name: 'campaign_analytics',
  // 2: rows written before their campaign.created get the campaign's company when it comes.
  version: 2,
  tables: [TABLE, CAMPAIGNS, COMPLETIONS],
  types: [...COUNTED_EMAIL_TYPES, 'campaign.created', 'campaign.lead_completed'],
  begin: () => ({ counters: new KeyedCounters(COUNTERS.length), campaigns: new Rows(3), completions: new Rows(4) }),
  fold(acc: Acc, f: Fact) {
    const e = f.event;
    if (e.type === 'campaign.created') {
      acc.campaigns.push(e.tenantId, e.data.campaignId, e.data.companyId ?? null);
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
    await upsert(
      tx.client,
      campaigns,
      [
        { name: 'tenant_id', type: 'text' },
        { name: 'campaign_id', type: 'text' },
        { name: 'company_id', type: 'text' },
      ],
      acc.campaigns.columns,
      { conflict: ['tenant_id', 'campaign_id'], update: { company_id: 'COALESCE(cur.company_id, EXCLUDED.company_id)' } },
    );
    if (acc.counters.size) {
      const cols = ['tenant_id', 'campaign_id', 'day', 'company_id', ...COUNTERS];
      const types = ['text', 'text', 'date', 'text', ...COUNTER_COLUMNS.map((c) => c.type)];
      await queryArrays(
        tx.client,
        `INSERT INTO ${t} AS cur (${cols.join(', ')})
         SELECT u.tenant_id, u.campaign_id, u.day, COALESCE(u.company_id, c.company_id), ${COUNTERS.map((c) => `u.${c}`).join(', ')}
           FROM unnest(${types.map((ty, i) => `$${i + 1}::${ty}[]`).join(', ')}) AS u(${cols.join(', ')})
           LEFT JOIN ${campaigns} c ON c.tenant_id = u.tenant_id AND c.campaign_id = u.campaign_id
         ON CONFLICT (tenant_id, campaign_id, day) DO UPDATE SET
           company_id = COALESCE(cur.company_id, EXCLUDED.company_id),
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
           RETURNING tenant_id, campaign_id, day)
         INSERT INTO ${t} AS cur (tenant_id, campaign_id, day, company_id, completed_leads)
         SELECT f.tenant_id, f.campaign_id, f.day, min(c.company_id), count(*)
           FROM fresh f LEFT JOIN ${campaigns} c ON c.tenant_id = f.tenant_id AND c.campaign_id = f.campaign_id
          GROUP BY f.tenant_id, f.campaign_id, f.day
         ON CONFLICT (tenant_id, campaign_id, day) DO UPDATE SET
           company_id = COALESCE(cur.company_id, EXCLUDED.company_id),
           completed_leads = cur.completed_leads + EXCLUDED.completed_leads, updated_at = now()`,
        acc.completions.columns,
      );
    }
    if (acc.campaigns.length) {
      await queryArrays(
        tx.client,
        `UPDATE ${t} AS r SET company_id = c.company_id, updated_at = now()
           FROM ${campaigns} c, unnest($1::text[], $2::text[]) AS b(tenant_id, campaign_id)
          WHERE c.tenant_id = b.tenant_id AND c.campaign_id = b.campaign_id AND c.company_id IS NOT NULL
            AND r.tenant_id = c.tenant_id AND r.campaign_id = c.campaign_id AND r.company_id IS NULL`,
        acc.campaigns.columns.slice(0, 2),
      );
    }
  },
};
