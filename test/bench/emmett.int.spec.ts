/**
 * The Emmett append comparison runs for real: a small generated workload appended to
 * Emmett's PostgreSQL event store (fresh database, 2 concurrent writers) ends up stored
 * exactly once per distinct event id, and pg's process-wide type parsers are left as
 * Floe expects them. No speed is asserted.
 */
import { expect } from 'chai';
import { types } from 'pg';
import { emmettAppend } from '../../ops/bench/emmett';
import { workloadLines } from '../../ops/bench/shared';
import { streamFor } from '../../streams/envelope';
import { postgresUrl } from '../helpers/backends';

describe('bench: Emmett append (integration)', function () {
  this.timeout(30_000);

  it('appends every distinct generated event once, one call per stream, with 2 writers', async function () {
    const url = await postgresUrl();
    if (!url) return this.skip();
    const lines = workloadLines(2_000);
    const parsed = lines.map((l) => JSON.parse(l));
    const distinct = new Set(parsed.map((e) => e.id)).size;
    const streams = new Set(parsed.map((e) => streamFor(e.type, e.tenantId, e.data))).size;
    const int8Before = types.getTypeParser(20, 'text');

    const r = await emmettAppend(url, lines, 2);

    expect(r.events).to.equal(distinct);
    expect(r.streams).to.equal(streams);
    expect(r.rate).to.be.greaterThan(0);
    expect(r.seconds).to.be.greaterThan(0);
    // Emmett's connection layer sets int8/json/jsonb parsers process-wide; they are restored.
    expect(types.getTypeParser(20, 'text')).to.equal(int8Before);
    expect(typeof types.getTypeParser(20, 'text')('1')).to.equal('string');
  });
});
