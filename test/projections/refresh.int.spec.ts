/**
 * The refresh of `campaign_performance_summary` around a projector's commits (tableHooks):
 * throttled, yet never left behind its table once commits stop, and refreshed at the end of
 * every run, also one that projected nothing after a run killed before its refresh.
 */
import { expect } from 'chai';
import { Pool } from 'pg';
import { PROJECTIONS } from '../../projections';
import { tableHooks } from '../../projections/pipeline';
import { useDatabase } from '../helpers/backends';

describe('materialized view refreshes', () => {
  const db = useDatabase();
  let pool: Pool;
  before(() => {
    pool = new Pool({ connectionString: db.url, max: 3 });
  });
  after(() => pool?.end());

  const summarySent = async (): Promise<number> =>
    Number((await pool.query(`SELECT coalesce(sum(sent), 0) AS n FROM campaign_performance_summary WHERE tenant_id = 'rt'`)).rows[0].n);
  const commitRow = (day: string, sent: number) =>
    pool.query(`INSERT INTO campaign_analytics (tenant_id, campaign_id, day, sent) VALUES ('rt', 'c1', $1, $2)`, [day, sent]);
  const until = async (what: string, ok: () => Promise<boolean>, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline) expect.fail(`timed out waiting until ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  it('refresh at most once a period, and once after the last commit of a burst', async () => {
    // A period long enough that a busy machine does not let it pass between the two commits.
    const hooks = tableHooks({ pool, projections: [...PROJECTIONS], refreshEveryMs: 1500 });
    await commitRow('2026-05-01', 3);
    hooks.afterCommit(); // the first commit refreshes at once
    await until('the first commit is in the view', async () => (await summarySent()) === 3);
    const second = Date.now();
    await commitRow('2026-05-02', 4);
    hooks.afterCommit(); // within the period: not now, but once it has passed, with no commit after it
    expect(await summarySent(), 'throttled').to.equal(3);
    await until('the last commit is in the view', async () => (await summarySent()) === 7);
    expect(Date.now() - second, 'not before the period').to.be.greaterThan(1000);
    await hooks.finish();
  });

  it('schedule nothing past the end of the run', async () => {
    let refreshes = 0;
    const counting = {
      query: (...args: Parameters<Pool['query']>) => {
        if (/^REFRESH/.test(String(args[0]))) refreshes++;
        return (pool.query as (...a: unknown[]) => unknown)(...args);
      },
    } as unknown as Pool;
    const hooks = tableHooks({ pool: counting, projections: [...PROJECTIONS], refreshEveryMs: 300 });
    hooks.afterCommit(); // refreshes at once
    while (refreshes === 0) await new Promise((r) => setImmediate(r));
    hooks.afterCommit(); // during that refresh: one more is due once it ends
    await hooks.finish(); // the last one
    const atEnd = refreshes;
    await new Promise((r) => setTimeout(r, 600));
    expect(refreshes, 'no refresh after finish').to.equal(atEnd);
  });

  it('refresh at the end of a run that projected nothing', async () => {
    await commitRow('2026-05-03', 5); // committed by a run killed before its refresh
    expect(await summarySent()).to.equal(7);
    const hooks = tableHooks({ pool, projections: [...PROJECTIONS] });
    await hooks.finish();
    expect(await summarySent()).to.equal(12);
  });
});
