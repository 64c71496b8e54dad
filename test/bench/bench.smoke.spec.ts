/** The benchmark harness must not rot: a tiny run completes and reports sane figures (no speed asserted). */
import { expect } from 'chai';
import { postgresUrl } from '../helpers/backends';
import { floe } from '../helpers/cli';

describe('floe bench (smoke)', function () {
  this.timeout(120_000);
  it('runs the append scenario and checks each contender stored every event', async function () {
    const url = await postgresUrl();
    if (!url) return this.skip();
    const r = floe(url, ['bench', '--quick', '--events', '2000', '--runs', '1', '--json', '--no-write']);
    expect(r.code, r.err).to.equal(0);
    const s = JSON.parse(r.out);
    expect(s.events).to.equal(2000);
    expect(s.append.floe).to.be.greaterThan(0);
    expect(s.append.naive).to.be.greaterThan(0);
    expect(s.append.all.length).to.equal(1);
  });
});
