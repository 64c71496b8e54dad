/**
 * `floe dead-letters list` as a user reads it: a header, then one tab-separated line per dead
 * letter that says the same as its --json line (lane and shard included).
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useDatabase } from '../helpers/backends';
import { floe } from '../helpers/cli';

describe('floe dead-letters list', function () {
  this.timeout(120_000);
  const db = useDatabase();

  it('prints a header and one line per dead letter, agreeing with --json', function () {
    if (!db.url) return this.skip();
    // The generated workload has events naming another tenant's email: dead letters of the whole lane.
    const g = floe(db.url, ['generate', '--seed', 'dead-letters-cli', '--tenants', '3', '--emails', '600']);
    const file = path.join(os.tmpdir(), `floe-dead-letters-${process.pid}.ndjson`);
    writeFileSync(file, g.out);
    expect(floe(db.url, ['append', file]).code).to.equal(0);
    expect(floe(db.url, ['project', '--until-caught-up']).code).to.equal(0);

    const json = floe(db.url, ['dead-letters', 'list', '--json']).out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(json.length, 'the workload leaves dead letters').to.be.greaterThan(0);
    const text = floe(db.url, ['dead-letters', 'list']);
    expect(text.code, text.err).to.equal(0);
    const [header, ...lines] = text.out.trim().split('\n');
    expect(header.split('\t')).to.deep.equal(['position', 'event', 'type', 'tenant', 'lane (shard)', 'projection', 'attempts', 'error']);
    expect(lines.map((l) => l.split('\t'))).to.deep.equal(
      json.map((d) => [String(d.position), d.eventId, d.type, d.tenantId, `${d.lane} (${d.shard})`, d.projection ?? '(every one of the lane)', String(d.attempts), d.error]),
    );
    expect(text.err).to.contain(`${json.length} dead letter(s)`);
  });
});
