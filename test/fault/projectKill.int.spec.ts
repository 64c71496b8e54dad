/**
 * Fault: SIGKILL the projector (`floe project --until-caught-up`) at random moments while
 * it catches up, at least ten times, then let it finish: every table is identical to an
 * uninterrupted run. Then: three shard processes give the same tables as one process.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Pool } from 'pg';
import { PROJECTIONS } from '../../projections';
import { useDatabase } from '../helpers/backends';
import { exited, floe, floeChild } from '../helpers/cli';
import { expectSameSnapshot, snapshot, workload } from '../helpers/pipeline';

const OPTS = { seed: 'kill-spec', tenants: 6, emails: 2500, start: '2026-03-01', days: 25 };
const KILLS = 10;

function useLoaded() {
  const db = useDatabase();
  const h = { db, pool: undefined as unknown as Pool };
  before(function () {
    if (!db.url) return this.skip();
    const file = path.join(os.tmpdir(), `floe-kill-${process.pid}.ndjson`);
    writeFileSync(file, workload(OPTS).lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const a = floe(db.url, ['append', file]);
    expect(a.code, a.err).to.equal(0);
    h.pool = new Pool({ connectionString: db.url, max: 2 });
  });
  after(() => h.pool?.end());
  return h;
}

const lowestCheckpoint = async (pool: Pool): Promise<bigint> => {
  const { rows } = await pool.query('SELECT min(position) AS p FROM floe.projection_checkpoints');
  return BigInt(rows[0].p ?? 0);
};

describe('fault: projector killed while catching up, and sharded projection', function () {
  this.timeout(600_000);
  const reference = useLoaded();
  let expected: Record<string, string[]>;
  before(function () {
    if (!reference.db.url) return this.skip();
    const r = floe(reference.db.url, ['project', '--until-caught-up']);
    expect(r.code, r.err).to.equal(0);
  });
  before(async function () {
    if (!reference.db.url) return this.skip();
    expected = await snapshot(reference.pool, PROJECTIONS);
  });

  describe('SIGKILL at random points', () => {
    const h = useLoaded();
    it(`resumes after ${KILLS} kills to tables identical to an uninterrupted run`, async () => {
      const head = BigInt(JSON.parse(floe(h.db.url, ['status', '--json']).out).head.position);
      const killedAt: bigint[] = [];
      while (killedAt.length < KILLS) {
        const before = await lowestCheckpoint(h.pool);
        const child = floeChild(h.db.url, ['project', '--until-caught-up', '--batch-size', '150']);
        const done = exited(child);
        // Kill once it has made progress, at a random moment after.
        for (let i = 0; i < 600 && (await lowestCheckpoint(h.pool)) <= before && child.exitCode === null; i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 150)));
        child.kill('SIGKILL');
        const r = await done;
        const at = await lowestCheckpoint(h.pool);
        if (r.signal === 'SIGKILL' && at < head) killedAt.push(at);
        else expect.fail(`the projector finished before it could be killed (${killedAt.length} kills so far); make the workload larger`);
      }
      expect(new Set(killedAt.map(String)).size, `kill points ${killedAt.join(', ')}`).to.be.greaterThan(KILLS / 2);
      const r = floe(h.db.url, ['project', '--until-caught-up']);
      expect(r.code, r.err).to.equal(0);
      const parked = await h.pool.query('SELECT count(*)::int AS n FROM floe.projection_parked');
      const refParked = await reference.pool.query('SELECT count(*)::int AS n FROM floe.projection_parked');
      expect(parked.rows[0].n, 'parked events').to.equal(refParked.rows[0].n);
      expectSameSnapshot(await snapshot(h.pool, PROJECTIONS), expected, 'after kills');
    });
  });

  describe('three shard processes', () => {
    const h = useLoaded();
    it('give the same tables as one unsharded process', async () => {
      const runs = await Promise.all([0, 1, 2].map((i) => exited(floeChild(h.db.url, ['project', '--until-caught-up', '--shards', '3', '--shard', String(i)]))));
      runs.forEach((r, i) => expect(r.code, `shard ${i}: ${r.err}`).to.equal(0));
      const s = JSON.parse(floe(h.db.url, ['status', '--json']).out);
      expect(new Set(s.projections.map((x: { shard: string }) => x.shard))).to.deep.equal(new Set(['0/3', '1/3', '2/3']));
      expectSameSnapshot(await snapshot(h.pool, PROJECTIONS), expected, 'sharded');
      // A shard count is kept: running unsharded now would double count, so it is refused.
      const again = floe(h.db.url, ['project', '--until-caught-up']);
      expect(again.code).to.equal(1);
      expect(again.err).to.match(/projected from the store with --shards 3/);
    });
  });
});
