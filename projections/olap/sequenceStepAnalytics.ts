/**
 * `sequence_step_analytics`: emails sent from a campaign step, by (tenant, step, cohort
 * day), with the §5 counters. `campaign_id` and `company_id` come from the row's first
 * counted `email.sent` (a step belongs to one campaign, so they agree across its emails).
 * One-off emails (no step) are not in it.
 */
import { increments, upsert } from '../runtime/sql';
import type { Fact, Projection, Tx } from '../runtime/types';
import { COUNTED_EMAIL_TYPES, COUNTER_COLUMNS, COUNTERS, counterDelta, KeyedCounters } from './counters';

const TABLE = 'sequence_step_analytics';

export const sequenceStepAnalytics: Projection<KeyedCounters> = {
  name: TABLE,
  // 2: a row's campaign and company are the first its emails give that are not null, in a batch as across batches.
  version: 2,
  tables: [TABLE],
  types: COUNTED_EMAIL_TYPES,
  begin: () => new KeyedCounters(COUNTERS.length),
  fold(acc: KeyedCounters, f: Fact) {
    const s = f.email?.next;
    if (!s || s.stepId === null) return;
    const d = counterDelta(f);
    if (d) acc.add([s.tenantId, s.stepId, s.cohortDay], [s.campaignId, s.companyId], d);
  },
  async write(acc: KeyedCounters, tx: Tx) {
    if (!acc.size) return;
    await upsert(
      tx.client,
      tx.table(TABLE),
      [
        { name: 'tenant_id', type: 'text' },
        { name: 'step_id', type: 'text' },
        { name: 'day', type: 'date' },
        { name: 'campaign_id', type: 'text' },
        { name: 'company_id', type: 'text' },
        ...COUNTER_COLUMNS,
      ],
      acc.columns(),
      {
        conflict: ['tenant_id', 'step_id', 'day'],
        update: {
          campaign_id: 'COALESCE(cur.campaign_id, EXCLUDED.campaign_id)',
          company_id: 'COALESCE(cur.company_id, EXCLUDED.company_id)',
          ...increments([...COUNTERS]),
          updated_at: 'now()',
        },
      },
    );
  },
};
