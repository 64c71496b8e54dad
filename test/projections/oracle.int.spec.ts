/**
 * The acceptance test of the projections: a generated workload with every anomaly the
 * generator knows (retried duplicates, out-of-order and late arrival, opens before sends,
 * second sends, events claiming another tenant's email) is appended and projected with
 * the CLI as a user would, and every table the oracle knows equals it exactly.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Pool } from 'pg';
import { PROJECTIONS } from '../../projections';
import { useDatabase } from '../helpers/backends';
import { floe } from '../helpers/cli';
import { expectSameRows, tableRows, workload } from '../helpers/pipeline';

const OPTS = { seed: 'oracle-e2e', tenants: 5, emails: 3000, start: '2026-02-20', days: 20 };

describe('projections equal the oracle (floe append + floe project)', function () {
  this.timeout(300_000);
  const db = useDatabase();
  let pool: Pool;
  before(function () {
    if (!db.url) return this.skip();
    pool = new Pool({ connectionString: db.url, max: 2 });
    const file = path.join(os.tmpdir(), `floe-oracle-${process.pid}.ndjson`);
    writeFileSync(file, workload(OPTS).lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const a = floe(db.url, ['append', file]);
    expect(a.code, a.err).to.equal(0);
    const p = floe(db.url, ['project', '--until-caught-up', '--json']);
    expect(p.code, p.err).to.equal(0);
    expect(JSON.parse(p.out).events).to.equal(JSON.parse(a.out).appended);
  });
  after(() => pool?.end());

  const owned = new Set(PROJECTIONS.flatMap((p) => p.tables));
  for (const table of Object.keys(workload(OPTS).tables)) {
    it(`${table}`, async () => {
      expect(owned.has(table), `a projection owns ${table}`).to.equal(true);
      const expected = workload(OPTS).tables[table];
      expect(expected.length, 'the oracle has rows').to.be.greaterThan(0);
      expectSameRows(table, await tableRows(pool, table), expected);
    });
  }

  it('reports the projections, caught up, in floe status --json, with the second sends it ignored', () => {
    const s = JSON.parse(floe(db.url, ['status', '--json']).out);
    const secondSends = workload(OPTS).truth.emails.flatMap((m) => m.ignored.filter((i) => i.reason === 'duplicate_send')).length;
    expect(secondSends).to.be.greaterThan(0);
    const names = s.projections.map((x: { name: string }) => x.name).sort();
    expect(names).to.deep.equal(PROJECTIONS.map((p) => p.name).sort());
    for (const x of s.projections) {
      expect(x, x.name).to.include({ shard: '0/1', lag: 0 });
      expect(x.position).to.equal(s.head.position);
      expect(x.deadLetters, `${x.name}: the foreign-tenant events are dead letters`).to.be.greaterThan(0);
      expect(x.ignoredSends, x.name).to.equal(secondSends);
    }
  });
});
