/**
 * The benchmark harness must not rot: a tiny `floe bench --quick` runs every scenario and
 * reports sane figures, and the catch-up correctness check (Floe's campaign_analytics =
 * the in-database baseline's) passes. No speed is asserted.
 */
import { expect } from 'chai';
import { postgresUrl } from '../helpers/backends';
import { floe } from '../helpers/cli';
import { kafkaBrokers } from '../helpers/kafka';

describe('floe bench (smoke)', function () {
  this.timeout(240_000);
  it('runs append, catch-up, freshness, memory, replay and kafka on tiny sizes; catch-up results are identical to the baseline', async function () {
    const url = await postgresUrl();
    if (!url) return this.skip();
    // The kafka scenario runs against the suites' broker (KAFKA_BROKERS, or ops/kafka/broker), else reports itself skipped.
    const brokers = await kafkaBrokers();
    const saved = process.env.KAFKA_BROKERS;
    if (brokers) process.env.KAFKA_BROKERS = brokers.join(',');
    let r: ReturnType<typeof floe>;
    try {
      r = floe(url, ['bench', '--quick', '--events', '10000', '--runs', '1', '--seconds', '2', '--json', '--no-write']);
    } finally {
      if (saved === undefined) delete process.env.KAFKA_BROKERS;
      else process.env.KAFKA_BROKERS = saved;
    }
    expect(r.code, r.err).to.equal(0);
    const s = JSON.parse(r.out);
    expect(s.ok).to.equal(true);
    expect(s.events).to.equal(10000);
    expect(s.scenarios).to.deep.equal(['append', 'catchup', 'freshness', 'memory', 'replay', 'kafka']);

    expect(s.append.events).to.equal(10000);
    expect(s.append.floe).to.be.greaterThan(0);
    expect(s.append.naive).to.be.greaterThan(0);
    expect(s.append.emmett).to.be.greaterThan(0);
    expect(s.append.all.length).to.equal(1);

    // The store keeps every distinct generated event (the workload repeats a few ids on purpose).
    expect(s.catchup.events).to.be.within(9_500, 10_000);
    expect(s.catchup.identical).to.equal(true);
    expect(s.catchup.rows).to.be.greaterThan(0);
    for (const k of ['baseline', 'campaign', 'all', 'ratio']) expect(s.catchup[k], k).to.be.greaterThan(0);
    expect(s.catchup.runs).to.have.length(1);
    expect(s.catchup.profile.all.map((p: { step: string }) => p.step)).to.include('write campaign_analytics');
    for (const k of ['read', 'decode', 'readCpuUs', 'decodeCpuUs', 'foldCpuUs']) expect(s.catchup.floor[k], `floor.${k}`).to.be.greaterThan(0);
    // Every sent email has its row in `emails` (and more in the other tables): at least one row per 10 events.
    expect(s.catchup.writeFloor.rows).to.be.greaterThan(s.catchup.events / 10);
    expect(s.catchup.writeFloor.seconds).to.be.greaterThan(0);
    expect(s.catchup.writeFloor.bulk.seconds).to.be.greaterThan(0);
    // The live tables' indexes, built after the bulk load: a primary key for each of the 20 tables at least.
    expect(s.catchup.writeFloor.bulk.indexes).to.be.at.least(20);
    if (/@(127\.0\.0\.1|localhost)[:/]/.test(url)) {
      expect(s.catchup.writeFloor.serverCpuSeconds).to.be.greaterThan(0);
      expect(s.catchup.writeFloor.bulk.serverCpuSeconds).to.be.greaterThan(0);
      expect(s.catchup.floor.serverCpuUs).to.be.greaterThan(0);
    }
    // A server on this machine (the embedded one) shows its processes' CPU.
    if (/@(127\.0\.0\.1|localhost)[:/]/.test(url)) expect(s.catchup.serverShare.all).to.be.greaterThan(0);

    expect(s.freshness.samples).to.be.greaterThan(10);
    for (const k of ['p50', 'p95', 'p99']) expect(s.freshness[k], k).to.be.greaterThan(0);
    expect(s.freshness.p50).to.be.at.most(s.freshness.p99);

    expect(s.replay.rebuild.seconds).to.have.length(1);
    expect(s.replay.rebuild.median).to.be.greaterThan(0);
    expect(s.replay.rebuild.cpu, 'the rebuild process used CPU').to.be.greaterThan(0);
    if (/@(127\.0\.0\.1|localhost)[:/]/.test(url)) expect(s.replay.rebuild.serverCpu).to.be.greaterThan(0);
    expect(s.replay.periodRebuild.period).to.match(/^\d{4}-\d{2}$/);
    expect(s.replay.recompute.tenantEvents).to.be.greaterThan(0);
    expect(s.replay.recompute.median).to.be.greaterThan(0);

    if (brokers) {
      expect(s.kafka.events).to.be.within(9_500, 10_000);
      expect(s.kafka.all).to.have.length(1);
      for (const k of ['produce', 'ingest', 'ingestSteady', 'appendAlone', 'publish']) expect(s.kafka[k], k).to.be.greaterThan(0);
      expect(s.kafka.ingestAppendShare).to.be.within(0, 1);
      expect(s.kafka.publishSendShare).to.be.within(0, 1);
    } else expect(s.kafka.skipped).to.match(/no Kafka/);

    expect(s.memory.points).to.have.length(2);
    expect(s.memory.points[1].events).to.be.greaterThan(3 * s.memory.points[0].events);
    for (const p of s.memory.points) {
      expect(p.peakRssMb).to.be.within(20, 8192);
      expect(p.heapLiveMb).to.be.within(1, p.peakRssMb);
    }
  });

  it('refuses an unknown scenario (exit 2)', async function () {
    const url = await postgresUrl();
    if (!url) return this.skip();
    const r = floe(url, ['bench', '--only', 'catchup,nope', '--no-write']);
    expect(r.code).to.equal(2);
    expect(r.err).to.match(/unknown scenario "nope"/);
  });
});
