/**
 * `mailbox_analytics`: every counted email (campaign or one-off) by (tenant, first-send
 * mailbox, cohort day) with the §5 counters; `current_volume` = those emails plus the
 * mailbox's `warmup.email_sent` of that (event) day; `warmup_status` = the day's latest
 * `warmup.started` ('active') or `warmup.stopped` ('stopped'), `health_score` = the day's
 * latest `warmup.progressed` (gauges, see gauges.ts: a day with one of these events has a
 * row). Warm-up sends and interactions carry no status: a send after a stop is no restart.
 *
 * `company_id` is the mailbox's company from `mailbox.created` (as the oracle: the
 * email's company only when the mailbox has none), kept in a private mailbox → company
 * table. When `mailbox.created` arrives after emails of the mailbox, the rows already
 * written get the mailbox's company then.
 */
import type { Fact, Projection, Tx } from '../runtime/types';
import { queryArrays, Rows, utcDay } from '../runtime/sql';
import { COUNTED_EMAIL_TYPES, COUNTERS, counterDelta, GivenCompanies } from './counters';
import { MailboxDays, type GaugeSlot } from './gauges';

const TABLE = 'mailbox_analytics';
const MAILBOXES = 'floe.mailbox_analytics_mailboxes';
const GAUGES = 'floe.mailbox_analytics_gauges';

const COUNTER_NAMES = [...COUNTERS, 'current_volume'];
const VOLUME = COUNTERS.length;
const SLOTS: GaugeSlot[] = [
  { name: 'status', columns: [{ name: 'warmup_status', type: 'text' }] },
  { name: 'progress', columns: [{ name: 'health_score', type: 'int' }] },
];

interface Acc {
  days: MailboxDays;
  /** (tenant, mailbox, company) from `mailbox.created`. */
  mailboxes: GivenCompanies;
  /** The first email company seen per day row in the batch: the fallback when the mailbox has no company. */
  emailCompany: Map<string, string>;
}

const rowKey = (tenantId: string, mailboxId: string, day: string) => `${tenantId}\u0000${mailboxId}\u0000${day}`;

export const mailboxAnalytics: Projection<Acc> = {
  name: 'mailbox_analytics',
  version: 2,
  tables: [TABLE, MAILBOXES, GAUGES],
  types: [...COUNTED_EMAIL_TYPES, 'mailbox.created', 'warmup.started', 'warmup.email_sent', 'warmup.progressed', 'warmup.stopped'],
  begin: () => ({ days: new MailboxDays(COUNTER_NAMES, SLOTS), mailboxes: new GivenCompanies(), emailCompany: new Map() }),
  fold(acc: Acc, f: Fact) {
    const e = f.event;
    if (e.type === 'mailbox.created') {
      acc.mailboxes.note(e.tenantId, e.data.mailboxId as string, (e.data.companyId as string | null | undefined) ?? null);
      return;
    }
    if (e.type.startsWith('warmup.')) {
      const mailboxId = String(e.data.mailboxId);
      const day = utcDay(e.occurredAt.getTime());
      if (e.type === 'warmup.started' || e.type === 'warmup.stopped') {
        acc.days.gauge('status', e.tenantId, mailboxId, day, [e.type === 'warmup.stopped' ? 'stopped' : 'active'], e);
      }
      if (e.type === 'warmup.progressed') acc.days.gauge('progress', e.tenantId, mailboxId, day, [e.data.healthScore], e);
      if (e.type === 'warmup.email_sent') acc.days.count(e.tenantId, mailboxId, day, [1], VOLUME);
      return;
    }
    const s = f.email?.next;
    const d = s && counterDelta(f);
    if (!s || !d) return;
    acc.days.count(s.tenantId, s.mailboxId, s.cohortDay, [...d, d[0]]); // a first send is also volume
    const k = rowKey(s.tenantId, s.mailboxId, s.cohortDay);
    if (s.companyId !== null && !acc.emailCompany.has(k)) acc.emailCompany.set(k, s.companyId);
  },
  async write(acc: Acc, tx: Tx) {
    const t = tx.table(TABLE);
    const mailboxes = tx.table(MAILBOXES);
    if (acc.mailboxes.size) await acc.mailboxes.save(tx.client, mailboxes, 'mailbox_id');
    await acc.days.saveGauges(tx.client, tx.table(GAUGES));
    await acc.days.upsertRows(tx.client, {
      table: t,
      gauges: tx.table(GAUGES),
      attributes: {
        columns: [{ name: 'company_id', type: 'text' }],
        values: (tenantId, mailboxId, day) => [acc.emailCompany.get(rowKey(tenantId, mailboxId, day)) ?? null],
        insert: ['COALESCE(m.company_id, u.company_id)'],
        update: ['COALESCE(cur.company_id, EXCLUDED.company_id)'],
        join: `LEFT JOIN ${mailboxes} m ON m.tenant_id = u.tenant_id AND m.mailbox_id = u.mailbox_id`,
      },
    });
    if (acc.mailboxes.size) {
      // Rows written before their mailbox.created carry the email's company (or none): the mailbox's wins.
      await queryArrays(
        tx.client,
        `UPDATE ${t} AS r SET company_id = m.company_id, updated_at = now()
           FROM ${mailboxes} m, unnest($1::text[], $2::text[]) AS b(tenant_id, mailbox_id)
          WHERE m.tenant_id = b.tenant_id AND m.mailbox_id = b.mailbox_id AND m.company_id IS NOT NULL
            AND r.tenant_id = m.tenant_id AND r.mailbox_id = m.mailbox_id AND r.company_id IS DISTINCT FROM m.company_id`,
        acc.mailboxes.columns().slice(0, 2),
      );
    }
  },
};
