import { expect } from 'chai';
import { Pool } from 'pg';
import { campaignAnalytics } from '../../projections/olap/campaignAnalytics';
import { mailboxAnalytics } from '../../projections/olap/mailboxAnalytics';
import { sequenceStepAnalytics } from '../../projections/olap/sequenceStepAnalytics';
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
    await h.pool.query(`DELETE FROM floe.campaign_analytics_companies WHERE tenant_id = 'late-t'`);
    await h.pool.query(`DELETE FROM floe.projection_checkpoints`);
    await h.pool.query(`DELETE FROM floe.projection_lanes`);
    await h.pool.query(`DELETE FROM floe.projection_email_ledger`);
    await run();
    expect(await companies()).to.deep.equal(live);
  });
});

/**
 * A row's company (and a step row's campaign) must not depend on where batches began: the
 * same store projected one event per batch and all in one batch gives the same rows. Each
 * case once made the two differ.
 */
describe('campaign_analytics and sequence_step_analytics: batches do not change a row (PostgreSQL)', () => {
  const one = useStore(4);
  const whole = useStore(4);
  const at = (hour: number) => `2026-05-05T${String(hour).padStart(2, '0')}:00:00.000Z`;
  const sent = (tenantId: string, emailId: string, hour: number, o: { campaignId?: string | null; companyId?: string; stepId?: string } = {}) => ({
    type: 'email.sent', tenantId, occurredAt: at(hour),
    data: {
      emailId, mailboxId: 'm1', leadId: `lead-${emailId}`, stepId: o.stepId ?? 's1',
      ...(o.campaignId === null ? {} : { campaignId: o.campaignId ?? 'c1' }),
      ...(o.companyId ? { companyId: o.companyId } : {}),
    },
  });
  const lines = [
    // The first email names no company, the second does: the row takes the second's.
    sent('t-a', 'a1', 9),
    sent('t-a', 'a2', 10, { companyId: 'co-b' }),
    // A day's completion before its first email: the campaign's company until the email's comes.
    { type: 'campaign.created', tenantId: 't-b', occurredAt: '2026-05-01T10:00:00.000Z', data: { campaignId: 'c1', companyId: 'co-c', name: 'C' } },
    { type: 'campaign.lead_completed', tenantId: 't-b', occurredAt: at(9), data: { campaignId: 'c1', leadId: 'l9' } },
    sent('t-b', 'b1', 10, { companyId: 'co-e' }),
    // An email without a company, the campaign's then, then an email naming another company.
    sent('t-c', 'c1', 9),
    { type: 'campaign.created', tenantId: 't-c', occurredAt: at(10), data: { campaignId: 'c1', companyId: 'co-camp', name: 'C' } },
    sent('t-c', 'c2', 11, { companyId: 'co-own' }),
    // A step's first email names no campaign, the next one does.
    sent('t-d', 'd1', 9, { campaignId: null }),
    sent('t-d', 'd2', 10, { campaignId: 'c7' }),
    // A campaign created twice in one batch keeps its first company.
    { type: 'campaign.created', tenantId: 't-e', occurredAt: at(8), data: { campaignId: 'c1', name: 'C' } },
    { type: 'campaign.created', tenantId: 't-e', occurredAt: at(8), data: { campaignId: 'c1', companyId: 'co-1', name: 'C' } },
    { type: 'campaign.created', tenantId: 't-e', occurredAt: at(8), data: { campaignId: 'c1', companyId: 'co-2', name: 'C' } },
    sent('t-e', 'e1', 9),
    // A mailbox created twice in one batch, the same way.
    { type: 'mailbox.created', tenantId: 't-e', occurredAt: at(8), data: { mailboxId: 'm1', domainId: 'd1' } },
    { type: 'mailbox.created', tenantId: 't-e', occurredAt: at(8), data: { mailboxId: 'm1', domainId: 'd1', companyId: 'co-m' } },
  ];
  const rows = async (h: typeof one) => ({
    campaigns: (await h.pool.query(`SELECT tenant_id, campaign_id, to_char(day, 'YYYY-MM-DD') AS day, company_id, sent, completed_leads FROM campaign_analytics ORDER BY 1, 2, 3`)).rows,
    steps: (await h.pool.query(`SELECT tenant_id, step_id, to_char(day, 'YYYY-MM-DD') AS day, campaign_id, company_id, sent FROM sequence_step_analytics ORDER BY 1, 2, 3`)).rows,
    mailboxes: (await h.pool.query(`SELECT tenant_id, mailbox_id, to_char(day, 'YYYY-MM-DD') AS day, company_id, sent FROM mailbox_analytics ORDER BY 1, 2, 3`)).rows,
  });

  it('one event per batch gives the rows of one batch, each as the rules say', async () => {
    for (const [h, batchSize] of [[one, 1], [whole, 10_000]] as const) {
      await appendLines(h.store, lines as never);
      const r = await project({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections: [campaignAnalytics, sequenceStepAnalytics, mailboxAnalytics], untilCaughtUp: true, batchSize });
      // One batch, committed whole: no write failed and was split up (a campaign or mailbox
      // created twice once named its row twice in one upsert).
      if (batchSize > 1) expect(r.batches).to.equal(1);
    }
    const want = await rows(whole);
    expect(await rows(one)).to.deep.equal(want);
    const company = (t: string) => want.campaigns.filter((r) => r.tenant_id === t).map((r) => r.company_id);
    expect(company('t-a')).to.deep.equal(['co-b']);
    expect(company('t-b')).to.deep.equal(['co-e']);
    expect(company('t-c')).to.deep.equal(['co-own']);
    expect(company('t-e')).to.deep.equal(['co-1']);
    expect(want.mailboxes.filter((r) => r.tenant_id === 't-e').map((r) => r.company_id)).to.deep.equal(['co-m']);
    expect(want.campaigns.find((r) => r.tenant_id === 't-b')).to.include({ sent: 1, completed_leads: 1 });
    expect(want.steps.filter((r) => r.tenant_id === 't-d').map((r) => [r.campaign_id, r.sent])).to.deep.equal([['c7', 2]]);
    expect(want.steps.filter((r) => r.tenant_id === 't-a').map((r) => [r.company_id, r.sent])).to.deep.equal([['co-b', 2]]);
  });
});
