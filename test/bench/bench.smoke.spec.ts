/** The benchmark harness must not rot: a tiny run completes and reports sane figures (no speed asserted). */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { postgresUrl } from '../helpers/backends';

describe('floe bench (smoke)', function () {
  this.timeout(120_000);
  it('runs the append scenario and checks each contender stored every event', async function () {
    const url = await postgresUrl();
    if (!url) return this.skip();
    const r = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'ops', 'cli', 'floe.js'), 'bench', '--quick', '--events', '2000', '--runs', '1', '--json', '--no-write'], {
      env: { ...process.env, DATABASE_URL: url },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).to.equal(0);
    const s = JSON.parse(r.stdout);
    expect(s.events).to.equal(2000);
    expect(s.append.floe).to.be.greaterThan(0);
    expect(s.append.naive).to.be.greaterThan(0);
    expect(s.append.all.length).to.equal(1);
  });
});
