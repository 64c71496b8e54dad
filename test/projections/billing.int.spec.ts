/**
 * `billing_analytics` (DESIGN §6): the projection equals the oracle on a generated
 * workload whatever the batch size, the history recompute (`billingRows`) equals both,
 * and hand-written events pin the hard rules, projected one event per batch: a
 * `subscription.started` arriving after the usage re-periodizes the tenant's history, a
 * `mailbox.created` arriving after the usage adds its domain to past periods, distinct
 * counts stay distinct across batches and days, and warm-ups never stopped stay active up
 * to the last period until a late `warmup.stopped` takes them back.
 */
import { expect } from 'chai';
import { Pool } from 'pg';
import { periodEnd as oracleEnd, periodStart as oracleStart } from '../../ops/generate/oracle/billing';
import { billingAnalytics } from '../../projections/billing/billingAnalytics';
import { dayMs, periodEndMs, periodOfMonth, periodsBetween, periodStartMs } from '../../projections/billing/periods';
import { billingRows } from '../../projections/billing/recompute';
import { firstSends } from '../../projections/runtime/ledger';
import { activeWarmups } from '../../projections/billing/warmups';
import { project } from '../../projections/pipeline';
import type { RecordedEvent } from '../../streams/envelope';
import { PostgresEventStore } from '../../streams/postgres';
import type { AppendInput } from '../../streams/store';
import { useDatabase } from '../helpers/backends';
import { appendLines, expectSameRows, tableRows, workload } from '../helpers/pipeline';

const OPTS = { seed: 'proj-spec', tenants: 4, emails: 1500, start: '2026-03-01', days: 30 };
const LONG = { seed: 'billing-long', tenants: 6, emails: 3000, start: '2026-01-20', days: 100 };
const TABLE = 'billing_analytics';

function useStore() {
  const db = useDatabase();
  const h = { db, pool: undefined as unknown as Pool, store: undefined as unknown as PostgresEventStore };
  before(async function () {
    if (!db.url) return this.skip();
    h.pool = new Pool({ connectionString: db.url, max: 4 });
    h.store = await PostgresEventStore.open(db.url, { pool: h.pool });
  });
  after(() => h.pool?.end());
  return h;
}

type Harness = ReturnType<typeof useStore>;

const projectBilling = (h: Harness, batchSize: number) =>
  project({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections: [billingAnalytics], untilCaughtUp: true, batchSize });

async function history(store: PostgresEventStore, tenant: string): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const page of store.readAll({ tenant })) out.push(...page);
  return out;
}

/** Every tenant's rows recomputed from its own history, in the oracle's row format. */
async function recomputed(store: PostgresEventStore, tenants: string[]): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const t of tenants) {
    const own = await history(store, t);
    out.push(...billingRows(t, own, await firstSends(store.pool, own, (await store.head()).position)).map((r) => ({ ...r })));
  }
  return out;
}

describe('billing periods (projections/billing/periods.ts)', () => {
  it('agree with the oracle for every anchor 1–31 over three years of days', () => {
    for (let anchor = 1; anchor <= 31; anchor++) {
      for (let at = Date.UTC(2025, 0, 1, 13); at < Date.UTC(2028, 0, 1); at += 86_400_000) {
        const start = periodStartMs(at, anchor);
        expect(start, `anchor ${anchor} at ${new Date(at).toISOString()}`).to.equal(oracleStart(at, anchor));
        expect(periodEndMs(start, anchor)).to.equal(oracleEnd(start, anchor));
      }
    }
  });

  it('name the periods considered and the period of a month', () => {
    expect(periodsBetween(dayMs('2026-01-20'), dayMs('2026-03-02'), 1).map((p) => p.start)).to.deep.equal(['2026-01-01', '2026-02-01', '2026-03-01']);
    expect(periodsBetween(dayMs('2026-03-14'), dayMs('2026-03-15'), 15)).to.deep.equal([
      { start: '2026-02-15', end: '2026-03-15' },
      { start: '2026-03-15', end: '2026-04-15' },
    ]);
    expect(periodOfMonth('2026-02', 31)).to.deep.equal({ start: '2026-02-28', end: '2026-03-31' });
    expect(() => periodOfMonth('2026-13', 1)).to.throw(/--period must be YYYY-MM, got "2026-13"/);
  });

  it('count a warm-up in every period it meets, not in one it stopped at the start of, and an empty interval nowhere', () => {
    const periods = periodsBetween(dayMs('2026-01-01'), dayMs('2026-04-01'), 1);
    const mark = (mailboxId: string, at: string, started: boolean, position: bigint) => ({ mailboxId, at: Date.parse(at), position, started });
    const marks = [
      mark('w1', '2026-01-20T00:00:00Z', true, 1n),
      mark('w1', '2026-03-01T00:00:00Z', false, 2n), // stopped exactly at March's start
      mark('w2', '2026-02-10T00:00:00Z', true, 3n), // never stopped
      mark('w3', '2026-01-05T00:00:00Z', true, 5n),
      mark('w3', '2026-01-05T00:00:00Z', false, 6n), // [t, t): no instant
      mark('w4', '2026-02-01T00:00:00Z', false, 7n), // a stop with nothing open
    ];
    expect(activeWarmups(marks, periods)).to.deep.equal([1, 2, 1, 1]);
  });
});

describe('billing_analytics projection (PostgreSQL)', function () {
  this.timeout(300_000);

  // The spec workload, and a longer one: four or five periods a tenant, calendar-month
  // tenants, warm-ups started and stopped in later periods.
  const runs = [
    { opts: OPTS, batchSize: 5000 },
    { opts: OPTS, batchSize: 97 },
    { opts: LONG, batchSize: 5000 },
    { opts: LONG, batchSize: 7 },
  ];
  for (const { opts, batchSize } of runs) {
    describe(`workload ${opts.seed} (${opts.days} days), batches of ${batchSize}`, () => {
      const h = useStore();
      it('equals the oracle, and each tenant’s history recomputes to the same rows', async () => {
        const w = workload(opts);
        await appendLines(h.store, w.lines);
        const r = await projectBilling(h, batchSize);
        expect(r.events).to.equal((await h.store.head()).count);
        const expected = w.tables[TABLE];
        expect(expected.length, 'oracle rows').to.be.greaterThan(4);
        expect(expected.some((row) => (row.warmups_active as number) > 0), 'some warm-ups').to.equal(true);
        expectSameRows(TABLE, await tableRows(h.pool, TABLE), expected);
        expectSameRows(TABLE, await recomputed(h.store, w.truth.tenants.map((t) => t.tenantId)), expected);
      });
    });
  }

  describe('hand-written events, one per batch', () => {
    const h = useStore();
    const T = 't-late';
    const ev = (type: string, occurredAt: string, data: Record<string, unknown>, tenantId = T): AppendInput => ({ type, tenantId, occurredAt, data });
    const send = (emailId: string, occurredAt: string, mailboxId: string, leadId: string, campaignId: string | null = null) =>
      ev('email.sent', occurredAt, { emailId, mailboxId, leadId, campaignId });
    const COLS = ['period_start', 'period_end', 'subscription_id', 'emails_sent', 'mailboxes_used', 'domains_used', 'campaigns_used', 'leads_used', 'warmups_active'];
    /** Append, project one event per batch, and check projected rows = recomputed rows. */
    const step = async (events: AppendInput[]): Promise<unknown[][]> => {
      await h.store.append(events);
      await projectBilling(h, 1);
      const tenants = (await h.pool.query<{ t: string }>('SELECT DISTINCT tenant_id AS t FROM floe.events ORDER BY 1')).rows.map((r) => r.t);
      const projected = await tableRows(h.pool, TABLE);
      expectSameRows(TABLE, projected, await recomputed(h.store, tenants));
      return projected.filter((r) => r.tenant_id === T).map((r) => COLS.map((c) => r[c]));
    };

    it('counts distinct usage across batches and days, domains from a late mailbox.created', async () => {
      const rows = await step([
        send('e1', '2026-03-05T10:00:00.000Z', 'mb1', 'l1', 'c1'),
        send('e2', '2026-03-20T10:00:00.000Z', 'mb1', 'l1', 'c1'), // same lead, mailbox, campaign: other day, same month
        send('e3', '2026-03-20T11:00:00.000Z', 'mb2', 'l2'), // one-off: no campaign
        send('e3', '2026-03-21T11:00:00.000Z', 'mb3', 'l3'), // a second send of e3: ignored
        send('e4', '2026-04-02T10:00:00.000Z', 'mb1', 'l1', 'c1'), // April counts them again
        ev('warmup.email_sent', '2026-03-25T10:00:00.000Z', { mailboxId: 'mb4' }),
      ]);
      // No mailbox.created yet: no domains.
      expect(rows).to.deep.equal([
        ['2026-03-01', '2026-04-01', null, 3, 3, 0, 1, 2, 0],
        ['2026-04-01', '2026-05-01', null, 1, 1, 0, 1, 1, 0],
      ]);
      const later = await step([
        ev('mailbox.created', '2026-01-01T00:00:00.000Z', { mailboxId: 'mb1', domainId: 'dom-a' }),
        ev('mailbox.created', '2026-01-01T00:00:01.000Z', { mailboxId: 'mb2', domainId: 'dom-a' }),
        ev('mailbox.created', '2026-01-01T00:00:02.000Z', { mailboxId: 'mb4', domainId: 'dom-b' }),
        send('e5', '2026-04-03T10:00:00.000Z', 'mb2', 'l2'),
      ]);
      expect(later).to.deep.equal([
        ['2026-03-01', '2026-04-01', null, 3, 3, 2, 1, 2, 0],
        ['2026-04-01', '2026-05-01', null, 2, 2, 1, 1, 2, 0],
      ]);
    });

    it('re-periodizes the history when subscription.started arrives after the usage', async () => {
      const rows = await step([ev('subscription.started', '2026-03-10T00:00:00.000Z', { subscriptionId: 'sub-1', planId: 'p', billingAnchorDay: 15 })]);
      // e1 (03-05) → Feb 15 period; e2, e3, warm-up send (03-20..25), e4, e5 (04-02, 04-03) → Mar 15 period.
      expect(rows).to.deep.equal([
        ['2026-02-15', '2026-03-15', 'sub-1', 1, 1, 1, 1, 1, 0],
        ['2026-03-15', '2026-04-15', 'sub-1', 4, 3, 2, 1, 2, 0],
      ]);
      // A later subscription.started (by occurredAt) changes nothing; an earlier one wins.
      expect(await step([ev('subscription.started', '2026-03-11T00:00:00.000Z', { subscriptionId: 'sub-2', planId: 'p', billingAnchorDay: 1 })])).to.deep.equal(rows);
      const calendar = await step([ev('subscription.started', '2026-03-01T00:00:00.000Z', { subscriptionId: 'sub-0', planId: 'p', billingAnchorDay: 1 })]);
      expect(calendar).to.deep.equal([
        ['2026-03-01', '2026-04-01', 'sub-0', 3, 3, 2, 1, 2, 0],
        ['2026-04-01', '2026-05-01', 'sub-0', 2, 2, 1, 1, 2, 0],
      ]);
    });

    it('keeps a warm-up never stopped active up to the last period, until a late warmup.stopped', async () => {
      let rows = await step([ev('warmup.started', '2026-02-10T08:00:00.000Z', { mailboxId: 'mb9' })]);
      // February is considered now (it holds the start): a row made of the warm-up alone.
      expect(rows.map((r) => [r[0], r[3], r[8]])).to.deep.equal([
        ['2026-02-01', 0, 1],
        ['2026-03-01', 3, 1],
        ['2026-04-01', 2, 1],
      ]);
      // Usage in June: April..June are active too, May (no usage) gets a warm-up-only row.
      rows = await step([send('e6', '2026-06-10T10:00:00.000Z', 'mb1', 'l1')]);
      expect(rows.map((r) => [r[0], r[3], r[8]])).to.deep.equal([
        ['2026-02-01', 0, 1],
        ['2026-03-01', 3, 1],
        ['2026-04-01', 2, 1],
        ['2026-05-01', 0, 1],
        ['2026-06-01', 1, 1],
      ]);
      // Stopped exactly at April's start: not active in April or later; May's row goes.
      rows = await step([ev('warmup.stopped', '2026-04-01T00:00:00.000Z', { mailboxId: 'mb9' })]);
      expect(rows.map((r) => [r[0], r[3], r[8]])).to.deep.equal([
        ['2026-02-01', 0, 1],
        ['2026-03-01', 3, 1],
        ['2026-04-01', 2, 0],
        ['2026-06-01', 1, 0],
      ]);
    });

    it('takes a mailbox’s domain from its first mailbox.created, also when that one comes last', async () => {
      // mb4 (a warm-up send in March) moves from dom-b to dom-a: March uses one domain now.
      const rows = await step([ev('mailbox.created', '2025-12-31T00:00:00.000Z', { mailboxId: 'mb4', domainId: 'dom-a' })]);
      expect(rows.map((r) => [r[0], r[4], r[5]])).to.deep.equal([
        ['2026-02-01', 0, 0],
        ['2026-03-01', 3, 1],
        ['2026-04-01', 2, 1],
        ['2026-06-01', 1, 1],
      ]);
    });

    it('keeps tenants apart', async () => {
      await step([
        ev('subscription.started', '2026-01-01T00:00:00.000Z', { subscriptionId: 'sub-o', planId: 'p', billingAnchorDay: 20 }, 't-other'),
        ev('email.sent', '2026-03-05T10:00:00.000Z', { emailId: 'o1', mailboxId: 'mb1', leadId: 'l1' }, 't-other'),
      ]);
      const { rows } = await h.pool.query(`SELECT period_start::text, subscription_id, emails_sent FROM ${TABLE} WHERE tenant_id = 't-other'`);
      expect(rows).to.deep.equal([{ period_start: '2026-02-20', subscription_id: 'sub-o', emails_sent: 1 }]);
    });

    it('counts a send of an email another tenant sent first nowhere, projected or recomputed', async () => {
      // e1 was first sent by t-late; t-other sending it again is a tenant mismatch.
      await step([
        ev('email.sent', '2026-03-06T10:00:00.000Z', { emailId: 'e1', mailboxId: 'mb-o2', leadId: 'l-o2', campaignId: 'c-o2' }, 't-other'),
        // In a stream of its own: found through the email's default stream all the same.
        { ...ev('email.sent', '2026-03-06T11:00:00.000Z', { emailId: 'e2', mailboxId: 'mb-o3', leadId: 'l-o3', campaignId: 'c-o3' }, 't-other'), stream: 'resent-e2' },
      ]);
      const { rows } = await h.pool.query(`SELECT emails_sent, mailboxes_used, campaigns_used FROM ${TABLE} WHERE tenant_id = 't-other'`);
      expect(rows).to.deep.equal([{ emails_sent: 1, mailboxes_used: 1, campaigns_used: 0 }]);
    });
  });
});
