import { expect } from 'chai';
import { Pool } from 'pg';
import { campaignAnalytics } from '../../projections/olap/campaignAnalytics';
import { project } from '../../projections/pipeline';
import { PostgresEventStore } from '../../streams/postgres';
import { useDatabase } from '../helpers/backends';
import { appendLines, expectSameRows, tableRows, workload } from '../helpers/pipeline';

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
