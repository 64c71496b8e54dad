import { expect } from 'chai';
import { Pool } from 'pg';
import { campaignAnalytics } from '../../projections/olap/campaignAnalytics';
import { project } from '../../projections/pipeline';
import { PostgresEventStore } from '../../streams/postgres';
import { useDatabase } from '../helpers/backends';
import { appendLines, expectSameRows, tableRows, useStore, workload } from '../helpers/pipeline';

const OPTS = { seed: 'proj-spec', tenants: 4, emails: 1500, start: '2026-03-01', days: 30 };

describe('campaign_analytics projection (PostgreSQL)', () => {
  const db = useDatabase();
  let pool: Pool;
  let store: PostgresEventStore;
  before(async function () {
    if (!db.url) return this.skip();
    pool = new Pool({ connectionString: db.url, max: 4 });
    store = await PostgresEventStore.open(db.url, { pool });
    await appendLines(store, workload(OPTS).lines);
  });
  after(async () => {
    await pool?.end();
  });

  it('equals the oracle after catching up', async () => {
    const r = await project({ pool, url: db.url, schemas: store.schemas, projections: [campaignAnalytics], untilCaughtUp: true });
    expect(r.events).to.equal((await store.head()).count);
    expectSameRows('campaign_analytics', await tableRows(pool, 'campaign_analytics'), workload(OPTS).tables.campaign_analytics);
  });
});

describe('campaign_analytics: a campaign created after its emails (PostgreSQL)', () => {
  const h = useStore(4);

  const at = (day: string) => `2026-03-${day}T10:00:00.000Z`;
  const sent = (emailId: string, day: string, companyId?: string) => ({
    type: 'email.sent', tenantId: 'late-t', occurredAt: at(day),
    data: { emailId, campaignId: 'c1', mailboxId: 'm1', leadId: `lead-${emailId}`, ...(companyId ? { companyId } : {}) },
  });
  const run = () => project({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections: [campaignAnalytics], untilCaughtUp: true });
  const companies = async () =>
    (await h.pool.query<{ day: string; company_id: string | null; sent: number; completed_leads: number }>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, company_id, sent, completed_leads FROM campaign_analytics WHERE tenant_id = 'late-t' ORDER BY day`,
    )).rows;

  it("gives rows written before it the campaign's company, as a replay does; an email's own company stays", async () => {
    await appendLines(h.store, [
      sent('e1', '03'),
      { type: 'campaign.lead_completed', tenantId: 'late-t', occurredAt: at('04'), data: { campaignId: 'c1', leadId: 'lead-e1' } },
      sent('e2', '05', 'co-email'),
    ] as never);
    await run();
    expect(await companies()).to.deep.equal([
      { day: '2026-03-03', company_id: null, sent: 1, completed_leads: 0 },
      { day: '2026-03-04', company_id: null, sent: 0, completed_leads: 1 },
      { day: '2026-03-05', company_id: 'co-email', sent: 1, completed_leads: 0 },
    ]);
    await appendLines(h.store, [{ type: 'campaign.created', tenantId: 'late-t', occurredAt: at('06'), data: { campaignId: 'c1', companyId: 'co1', name: 'C1' } }] as never);
    await run();
    const live = await companies();
    expect(live).to.deep.equal([
      { day: '2026-03-03', company_id: 'co1', sent: 1, completed_leads: 0 },
      { day: '2026-03-04', company_id: 'co1', sent: 0, completed_leads: 1 },
      { day: '2026-03-05', company_id: 'co-email', sent: 1, completed_leads: 0 },
    ]);
    // The same store replayed in one batch.
    await h.pool.query(`DELETE FROM campaign_analytics WHERE tenant_id = 'late-t'`);
    await h.pool.query(`DELETE FROM floe.campaign_analytics_campaigns WHERE tenant_id = 'late-t'`);
    await h.pool.query(`DELETE FROM floe.campaign_analytics_completions WHERE tenant_id = 'late-t'`);
    await h.pool.query(`DELETE FROM floe.projection_checkpoints`);
    await h.pool.query(`DELETE FROM floe.projection_lanes`);
    await h.pool.query(`DELETE FROM floe.projection_email_ledger`);
    await run();
    expect(await companies()).to.deep.equal(live);
  });
});
