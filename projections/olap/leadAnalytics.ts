/**
 * `lead_analytics`: the §5 counters of a lead's counted emails per campaign over all time
 * (one-off emails under `campaign_id = ''`), and the lead's `status` by precedence
 * complained > unsubscribed > bounced (hard) > replied > active (DESIGN §5).
 *
 * The status is computed in SQL from the merged row, so it is right whatever the batch
 * boundaries. Complaints, unsubscribes and replies are in the row's counters; hard
 * bounces are not (`bounced` also counts soft ones), and need no private table either:
 * every flag only ever turns on, so a row whose status is complained or unsubscribed
 * keeps it forever, and otherwise "some email of the row hard-bounced" is exactly
 * "the stored status is 'bounced', or this batch saw a hard bounce for the row". The
 * batch's hard bounces reach the upsert as an extra unnest column, `hard`.
 */
import { queryArrays } from '../runtime/sql';
import type { Fact, Projection, Tx } from '../runtime/types';
import { COUNTED_EMAIL_TYPES, COUNTERS, counterDelta, KeyedCounters } from './counters';

const TABLE = 'lead_analytics';

/** campaign_id of one-off emails (the key column is NOT NULL). */
export const NO_CAMPAIGN = '';

const HARD = COUNTERS.length; // index of the batch's hard-bounce count among the row's counters
const NO_COUNTS: readonly number[] = new Array(COUNTERS.length).fill(0);

/** The status CASE, given SQL expressions for the merged flags. */
const status = (f: { complained: string; unsubscribed: string; hardBounced: string; replied: string }): string =>
  `CASE WHEN ${f.complained} THEN 'complained' WHEN ${f.unsubscribed} THEN 'unsubscribed'` +
  ` WHEN ${f.hardBounced} THEN 'bounced' WHEN ${f.replied} THEN 'replied' ELSE 'active' END`;

export const leadAnalytics: Projection<KeyedCounters> = {
  name: TABLE,
  version: 1,
  tables: [TABLE],
  types: COUNTED_EMAIL_TYPES,
  begin: () => new KeyedCounters(COUNTERS.length + 1),
  fold(acc: KeyedCounters, f: Fact) {
    if (!f.email) return;
    const { prev, next: s } = f.email;
    const d = counterDelta(f);
    // A hard bounce after a soft one moves no counter but may change the status.
    const hard = s.hardBounced && !prev?.hardBounced;
    if (!d && !hard) return;
    const key = [s.tenantId, s.leadId, s.campaignId ?? NO_CAMPAIGN];
    acc.add(key, [], d ?? NO_COUNTS);
    if (hard) acc.add(key, [], [1], HARD);
  },
  async write(acc: KeyedCounters, tx: Tx) {
    if (!acc.size) return;
    const cols = ['tenant_id', 'lead_id', 'campaign_id', ...COUNTERS];
    const types = ['text', 'text', 'text', ...COUNTERS.map(() => 'int'), 'int'];
    const merged = (c: string) => `cur.${c} + EXCLUDED.${c} > 0`;
    await queryArrays(
      tx.client,
      `INSERT INTO ${tx.table(TABLE)} AS cur (${cols.join(', ')}, status)
       SELECT ${cols.join(', ')},
              ${status({ complained: 'spam_complaints > 0', unsubscribed: 'unsubscribed > 0', hardBounced: 'hard > 0', replied: 'replied > 0' })}
         FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) AS u(${cols.join(', ')}, hard)
       ON CONFLICT (tenant_id, lead_id, campaign_id) DO UPDATE SET
         ${COUNTERS.map((c) => `${c} = cur.${c} + EXCLUDED.${c}`).join(', ')},
         status = ${status({
           complained: merged('spam_complaints'),
           unsubscribed: merged('unsubscribed'),
           // EXCLUDED.status is 'bounced' when the batch saw a hard bounce and, like the
           // merged row at this point, no complaint or unsubscribe.
           hardBounced: `'bounced' IN (cur.status, EXCLUDED.status)`,
           replied: merged('replied'),
         })},
         updated_at = now()`,
      acc.columns(),
    );
  },
};
