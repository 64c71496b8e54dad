import { expect } from 'chai';
import { Pool } from 'pg';
import { analyticsHourly } from '../../projections/olap/analyticsHourly';
import { dailyAnalytics } from '../../projections/olap/dailyAnalytics';
import { leadAnalytics } from '../../projections/olap/leadAnalytics';
import { sequenceStepAnalytics } from '../../projections/olap/sequenceStepAnalytics';
import { project } from '../../projections/pipeline';
import type { AppendInput } from '../../streams/store';
import { PostgresEventStore } from '../../streams/postgres';
import { useDatabase } from '../helpers/backends';
import { appendLines, expectSameRows, tableRows, workload } from '../helpers/pipeline';

const OPTS = { seed: 'proj-spec', tenants: 4, emails: 1500, start: '2026-03-01', days: 30 };
const PROJECTIONS = [sequenceStepAnalytics, leadAnalytics, dailyAnalytics, analyticsHourly];
const TABLES = PROJECTIONS.map((p) => p.name);

/** A migrated database with a store on it, for one suite. */
function useStore(): { pool: Pool; store: PostgresEventStore; url: string } {
  const db = useDatabase();
  const h = {} as { pool: Pool; store: PostgresEventStore; url: string };
  before(async function () {
    if (!db.url) return this.skip();
    h.url = db.url;
    h.pool = new Pool({ connectionString: db.url, max: 4 });
    h.store = await PostgresEventStore.open(db.url, { pool: h.pool });
  });
  after(async () => {
    await h.pool?.end();
  });
  return h;
}

for (const batchSize of [5000, 97]) {
  describe(`sequence_step / lead / daily / hourly analytics, batches of ${batchSize} (PostgreSQL)`, () => {
    const h = useStore();

    it('equal the oracle after catching up', async () => {
      const w = workload(OPTS);
      await appendLines(h.store, w.lines);
      const r = await project({ pool: h.pool, url: h.url, schemas: h.store.schemas, projections: PROJECTIONS, batchSize, untilCaughtUp: true });
      expect(r.events).to.equal((await h.store.head()).count);
      for (const table of TABLES) {
        expect(w.tables[table].length, table).to.be.greaterThan(0);
        expectSameRows(table, await tableRows(h.pool, table), w.tables[table]);
      }
    });
  });
}

describe('lead status and hourly uniques across batches (PostgreSQL)', () => {
  const h = useStore();
  const T = 'tf';
  const sent = (emailId: string, occurredAt: string, extra: Record<string, unknown> = {}): AppendInput => ({
    type: 'email.sent',
    tenantId: T,
    occurredAt,
    data: { emailId, mailboxId: 'mb1', leadId: 'L1', campaignId: 'c1', stepId: 's1', companyId: 'co1', ...extra },
  });
  const ev = (type: string, emailId: string, occurredAt: string, data: Record<string, unknown> = {}): AppendInput => ({
    type,
    tenantId: T,
    occurredAt,
    data: { emailId, ...data },
  });
  /** Append these events and project them in one batch. */
  const batch = async (events: AppendInput[]) => {
    await h.store.append(events);
    await project({ pool: h.pool, url: h.url, schemas: h.store.schemas, projections: PROJECTIONS, untilCaughtUp: true });
  };
  const rows = async (table: string, where = 'true') => (await h.pool.query(`SELECT * FROM ${table} WHERE ${where}`)).rows;
  const hour = async (iso: string) => {
    const [r] = await rows('analytics_hourly', `tenant_id = '${T}' AND hour = '${iso}'`);
    return r && [r.messages_sent, r.messages_delivered, r.messages_bounced, r.messages_opened, r.unique_opens, r.avg_delivery_ms];
  };
  const lead = async (campaignId: string) => {
    const [r] = await rows('lead_analytics', `tenant_id = '${T}' AND lead_id = 'L1' AND campaign_id = '${campaignId}'`);
    return r && [r.sent, r.bounced, r.replied, r.unsubscribed, r.status];
  };

  it('keeps status precedence and moves unique opens whatever the batch boundaries', async () => {
    await batch([
      sent('e1', '2026-03-10T10:00:00.000Z'),
      ev('email.delivered', 'e1', '2026-03-10T10:00:02.000Z', { deliveryMs: 1001 }),
      ev('email.bounced', 'e1', '2026-03-10T10:05:00.000Z', { bounceType: 'soft' }),
      sent('e2', '2026-03-10T10:30:00.000Z'),
      ev('email.delivered', 'e2', '2026-03-10T10:30:01.000Z', { deliveryMs: 1002 }),
      ev('email.opened', 'e1', '2026-03-10T12:10:00.000Z', { machine: true }),
    ]);
    expect(await lead('c1')).to.deep.equal([2, 1, 0, 0, 'active']); // a soft bounce alone leaves 'active'
    expect(await hour('2026-03-10T10:00:00.000Z')).to.deep.equal([2, 2, 1, 0, 0, 1002]); // 1001.5 rounds up
    expect(await hour('2026-03-10T12:00:00.000Z')).to.deep.equal([0, 0, 0, 1, 1, null]);

    await batch([
      ev('email.bounced', 'e1', '2026-03-10T10:06:00.000Z', { bounceType: 'hard' }), // moves no counter
      ev('email.opened', 'e1', '2026-03-10T11:20:00.000Z', { machine: false }), // earlier: the unique open moves to 11h
      ev('email.replied', 'e2', '2026-03-10T13:00:00.000Z'),
      ev('email.delivered', 'e2', '2026-03-10T10:40:00.000Z', { deliveryMs: 1000 }),
      ev('email.delivered', 'e2', '2026-03-10T10:41:00.000Z'), // no deliveryMs: counted, not averaged
    ]);
    expect(await lead('c1')).to.deep.equal([2, 1, 1, 0, 'bounced']); // hard bounce > replied
    expect(await hour('2026-03-10T10:00:00.000Z')).to.deep.equal([2, 4, 2, 0, 0, 1001]);
    expect(await hour('2026-03-10T11:00:00.000Z')).to.deep.equal([0, 0, 0, 1, 1, null]);
    expect(await hour('2026-03-10T12:00:00.000Z')).to.deep.equal([0, 0, 0, 1, 0, null]);

    await batch([ev('email.replied', 'e1', '2026-03-10T14:00:00.000Z')]);
    expect(await lead('c1')).to.deep.equal([2, 1, 2, 0, 'bounced']); // the stored status remembers the hard bounce

    await batch([
      ev('email.unsubscribed', 'e2', '2026-03-11T09:00:00.000Z'),
      ev('email.opened', 'e3', '2026-03-12T09:00:00.000Z'), // before its send: parked, then released
      sent('e3', '2026-03-12T08:00:00.000Z', { campaignId: null, stepId: null, companyId: null }),
    ]);
    expect(await lead('c1')).to.deep.equal([2, 1, 2, 1, 'unsubscribed']);
    expect(await lead('')).to.deep.equal([1, 0, 0, 0, 'active']);
    expect(await hour('2026-03-12T09:00:00.000Z')).to.deep.equal([0, 0, 0, 1, 1, null]);

    await batch([ev('email.complained', 'e3', '2026-03-12T10:00:00.000Z'), ev('email.bounced', 'e3', '2026-03-12T08:00:05.000Z', { bounceType: 'hard' })]);
    expect(await lead('')).to.deep.equal([1, 1, 0, 0, 'complained']);

    const steps = await rows('sequence_step_analytics', `tenant_id = '${T}'`);
    expect(steps.map((r) => [r.step_id, r.campaign_id, r.company_id, r.sent, r.opened_tracked, r.human_opened, r.open_events])).to.deep.equal([
      ['s1', 'c1', 'co1', 2, 1, 1, 2],
    ]);
    const daily = await rows('daily_analytics', `tenant_id = '${T}' ORDER BY campaign_id`);
    expect(daily.map((r) => [r.campaign_id, r.emails_sent, r.emails_opened, r.emails_bounced, r.emails_replied])).to.deep.equal([
      ['', 1, 1, 1, 0],
      ['c1', 2, 1, 1, 2],
    ]);
  });
});
