/**
 * `floe project --source kafka` against a real broker: projection workers in one consumer
 * group over the topic `floe kafka publish` wrote produce exactly the tables of the
 * PostgreSQL-sourced projector (`floe project --until-caught-up`) on the same events —
 * with two workers, one of them SIGKILLed mid-way (its partitions move to the other in a
 * rebalance); with a worker killed after its PostgreSQL commit and before its offset commit;
 * and with the publisher re-sending its tail (at-least-once), deduplicated by floe-position.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { Pool } from 'pg';
import { PROJECTIONS } from '../../projections';
import { useDatabase } from '../helpers/backends';
import { exited, floe } from '../helpers/cli';
import { useKafka } from '../helpers/kafka';
import { expectSameSnapshot, snapshot, workload } from '../helpers/pipeline';

const FLOE = path.join(__dirname, '..', '..', 'ops', 'cli', 'floe.js');
const OPTS = { seed: 'kafka-project', tenants: 8, emails: 2500, start: '2026-03-01', days: 20 };
const PARTITIONS = 4;

interface Summary {
  events: number;
  batches: number;
  skipped: number;
  assignments: number;
  lanes: Array<{ lane: string; shard: string; position: number }>;
}

/** A database holding the workload (appended with the CLI), with a pool. */
function useLoaded() {
  const db = useDatabase();
  const h = { db, pool: undefined as unknown as Pool };
  before(function () {
    if (!db.url) return this.skip();
    const file = path.join(os.tmpdir(), `floe-kafka-project-${process.pid}.ndjson`);
    writeFileSync(file, workload(OPTS).lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const a = floe(db.url, ['append', file]);
    expect(a.code, a.err).to.equal(0);
    h.pool = new Pool({ connectionString: db.url, max: 2 });
    h.pool.on('error', () => {});
  });
  after(() => h.pool?.end());
  return h;
}

function worker(url: string, topic: string, group: string, extra: string[] = [], env: Record<string, string> = {}) {
  return spawn(
    process.execPath,
    [FLOE, 'project', '--source', 'kafka', '--topic', topic, '--group', group, '--session-timeout-ms', '6000', '--until-caught-up', '--json', ...extra],
    { env: { ...process.env, DATABASE_URL: url, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

/** A plain kafkajs admin for one call. */
async function withAdmin<T>(k: ReturnType<typeof useKafka>, f: (a: ReturnType<ReturnType<typeof useKafka>['kafka']['admin']>) => Promise<T>): Promise<T> {
  const a = k.kafka.admin();
  await a.connect();
  try {
    return await f(a);
  } finally {
    await a.disconnect();
  }
}

const summaryOf = (out: string): Summary => JSON.parse(out.trim().split('\n').pop()!);

function publish(url: string, topic: string): number {
  const r = floe(url, ['kafka', 'publish', '--topic', topic, '--partitions', String(PARTITIONS), '--until-caught-up', '--json']);
  expect(r.code, r.err).to.equal(0);
  return JSON.parse(r.out.trim().split('\n').pop()!).published;
}

/** Messages of the topic per partition that the workers' lanes have taken, from PostgreSQL. */
async function takenOffsets(pool: Pool, topic: string): Promise<Map<number, bigint>> {
  const { rows } = await pool.query<{ partition: number; offset: string }>('SELECT partition, "offset" FROM floe.projection_kafka_offsets WHERE topic = $1', [topic]);
  return new Map(rows.map((r) => [r.partition, BigInt(r.offset) + 1n]));
}

/** A worker following live (no --until-caught-up), with the partitions it was last assigned, from its log. */
function follower(url: string, topic: string, group: string) {
  const follow = ['--batch-size', '100', '--concurrency', '1'];
  const child = spawn(process.execPath, [FLOE, 'project', '--source', 'kafka', '--topic', topic, '--group', group, '--session-timeout-ms', '6000', '--json', ...follow], {
    env: { ...process.env, DATABASE_URL: url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (c) => (err += c));
  const owned = () => {
    const lines = [...err.matchAll(/assigned \S+ partitions \[([\d, ]*)\]/g)];
    return (lines[lines.length - 1]?.[1] ?? '').split(',').map((x) => x.trim()).filter(Boolean).map(Number);
  };
  return { child, done: exited(child), owned, log: () => err };
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) expect.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('floe project --source kafka (real broker)', function () {
  this.timeout(600_000);
  const k = useKafka();
  before(function () {
    process.env.KAFKA_BROKERS = k.brokers.join(',');
  });

  // The PostgreSQL-sourced projector on the same events: the tables to match.
  const reference = useLoaded();
  let expected: Record<string, string[]>;
  let stored: number;
  before(async function () {
    if (!reference.db.url) return this.skip();
    const r = floe(reference.db.url, ['project', '--until-caught-up']);
    expect(r.code, r.err).to.equal(0);
    expected = await snapshot(reference.pool, PROJECTIONS);
    stored = Number((await reference.pool.query('SELECT count(*) AS n FROM floe.events')).rows[0].n);
    expect(Object.values(expected).reduce((n, rows) => n + rows.length, 0), 'the reference has rows').to.be.greaterThan(1000);
  });

  /** A fresh topic, two workers of one group sharing its partitions, the store published to it. */
  async function twoWorkers(url: string) {
    const topic = k.unique('events');
    const group = k.unique('projectors');
    await k.createTopic(topic, PARTITIONS);
    const a = follower(url, topic, group);
    const b = follower(url, topic, group);
    await until('both workers share the partitions', () => a.owned().length > 0 && b.owned().length > 0 && a.owned().length + b.owned().length === PARTITIONS);
    expect(publish(url, topic)).to.equal(stored);
    const ends = new Map((await withAdmin(k, (x) => x.fetchTopicOffsets(topic))).map((o) => [o.partition, BigInt(o.high)]));
    const withData = [...ends].filter(([, end]) => end > 0n).map(([p]) => p);
    const aPartitions = a.owned().filter((p) => withData.includes(p));
    expect(aPartitions.length, `A's partitions ${a.owned()} hold events (ends ${[...ends]})`).to.be.greaterThan(0);
    return { topic, group, a, b, ends, withData, aPartitions };
  }

  describe('two workers in one group, one SIGKILLed mid-way', () => {
    const h = useLoaded();
    it('give the tables of floe project: nothing lost, nothing counted twice', async () => {
      // Two workers following live; small transactions and one partition at a time, so there is a "mid-way" to kill in.
      const { topic, a, b, ends, withData, aPartitions } = await twoWorkers(h.db.url);
      expect(b.owned().some((p) => withData.includes(p)), `B's partitions ${b.owned()} hold events`).to.equal(true);

      // Kill A once it has committed part of its partitions, not all.
      let killedWith = new Map<number, bigint>();
      await until("A has committed part of its partitions", async () => {
        killedWith = await takenOffsets(h.pool, topic);
        return aPartitions.some((p) => (killedWith.get(p) ?? 0n) > 0n);
      });
      a.child.kill('SIGKILL');
      expect(aPartitions.some((p) => (killedWith.get(p) ?? 0n) < ends.get(p)!), `A was killed before the end of its partitions (${[...killedWith]})`).to.equal(true);
      expect((await a.done).signal).to.equal('SIGKILL');

      // B takes A's partitions over in a rebalance (after the session timeout) and finishes them.
      await until('every partition is taken to its end', async () => {
        const taken = await takenOffsets(h.pool, topic);
        return withData.every((p) => taken.get(p) === ends.get(p));
      }, 120_000);
      b.child.kill('SIGTERM');
      const rb = await b.done;
      expect(rb.code, rb.err).to.equal(0);
      const sb = summaryOf(rb.out);
      expect(sb.assignments, 'B joined again after A died').to.be.greaterThan(1);
      const bShards = new Set(sb.lanes.map((l) => l.shard));
      for (const p of aPartitions) expect(bShards.has(`kafka:${topic}/${p}`), `B projected A's partition ${p}`).to.equal(true);

      expectSameSnapshot(await snapshot(h.pool, PROJECTIONS), expected, 'two Kafka workers, one killed');
      const checkpointEvents = await h.pool.query<{ n: string }>(
        `SELECT sum(events) AS n FROM floe.projection_checkpoints WHERE projection = 'emails' AND shard LIKE $1`,
        [`kafka:${topic}/%`],
      );
      expect(Number(checkpointEvents.rows[0].n), 'each stored event folded once').to.equal(stored);

      // floe status lists the partitions as shards, caught up; the projections stay on Kafka.
      const s = JSON.parse(floe(h.db.url, ['status', '--json']).out);
      const shards = new Set(s.projections.map((x: { shard: string }) => x.shard));
      expect(shards).to.deep.equal(new Set(withData.map((p) => `kafka:${topic}/${p}`)));
      for (const x of s.projections) expect(x.lag, `${x.name} ${x.shard}`).to.equal(0);
      const fromStore = floe(h.db.url, ['project', '--until-caught-up']);
      expect(fromStore.code).to.equal(1);
      expect(fromStore.err).to.match(/projected from Kafka topic/);
    });
  });

  describe('a worker paused (SIGSTOP) past its session timeout: a zombie', () => {
    const h = useLoaded();
    it("keeps its partitions' locks until it resumes and lets go; the tables are those of floe project", async () => {
      const { topic, a, b, ends, withData, aPartitions } = await twoWorkers(h.db.url);

      await until('A has committed part of its partitions', async () => {
        const taken = await takenOffsets(h.pool, topic);
        return aPartitions.some((p) => (taken.get(p) ?? 0n) > 0n);
      });
      a.child.kill('SIGSTOP');
      const pausedAt = await takenOffsets(h.pool, topic);
      try {
        // The group gives B everything once A's session expired; A's partitions wait for A's locks.
        await until('B is assigned every partition', () => b.owned().length === PARTITIONS, 60_000);
        await new Promise((r) => setTimeout(r, 2000));
        const meanwhile = await takenOffsets(h.pool, topic);
        for (const p of aPartitions) expect(meanwhile.get(p), `partition ${p} while A is paused`).to.equal(pausedAt.get(p));
        expect(b.log()).to.match(/still held by its former owner/);
        expect(aPartitions.some((p) => (pausedAt.get(p) ?? 0n) < ends.get(p)!), 'A was paused before the end of its partitions').to.equal(true);
      } finally {
        a.child.kill('SIGCONT');
      }

      await until('every partition is taken to its end', async () => {
        const taken = await takenOffsets(h.pool, topic);
        return withData.every((p) => taken.get(p) === ends.get(p));
      }, 120_000);
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      const [ra, rb] = await Promise.all([a.done, b.done]);
      expect(ra.code, ra.err).to.equal(0);
      expect(rb.code, rb.err).to.equal(0);
      expectSameSnapshot(await snapshot(h.pool, PROJECTIONS), expected, 'a paused worker');
      const checkpointEvents = await h.pool.query<{ n: string }>(
        `SELECT sum(events) AS n FROM floe.projection_checkpoints WHERE projection = 'emails' AND shard LIKE $1`,
        [`kafka:${topic}/%`],
      );
      expect(Number(checkpointEvents.rows[0].n), 'each stored event folded once').to.equal(stored);
    });
  });

  it('names a topic that does not exist, and one that cannot be created (exit 2)', async () => {
    const missing = k.unique('nosuch');
    const r = await exited(worker(reference.db.url, missing, k.unique('projectors')));
    expect(r.code, r.err).to.equal(2);
    expect(r.err).to.contain(`topic ${missing} does not exist on`).and.contain('[UNKNOWN_TOPIC]');
    const bad = floe(reference.db.url, ['kafka', 'publish', '--topic', 'bad topic', '--until-caught-up']);
    expect(bad.code, bad.err).to.equal(2);
    expect(bad.err).to.contain('cannot create topic bad topic').and.contain('INVALID_TOPIC_EXCEPTION');
  });

  describe('a group whose committed offsets are at the end, on a database that has projected nothing', () => {
    const first = useLoaded();
    const second = useLoaded();
    it('starts every partition from the offsets PostgreSQL holds, not from the group', async () => {
      const topic = k.unique('events');
      const group = k.unique('projectors');
      expect(publish(first.db.url, topic)).to.equal(stored);
      const done = await exited(worker(first.db.url, topic, group));
      expect(done.code, done.err).to.equal(0);
      expect(summaryOf(done.out).events, 'the first database projected every event').to.equal(stored);

      // The same events in another database (a restore, a new environment): the group has
      // committed everything, but nothing of it is projected here.
      const r = await exited(worker(second.db.url, topic, group));
      expect(r.code, r.err).to.equal(0);
      expect(summaryOf(r.out).events, `projected by the second run (log: ${r.err.slice(-500)})`).to.equal(stored);
      expectSameSnapshot(await snapshot(second.pool, PROJECTIONS), expected, 'on a database the group had not projected into');
    });
  });

  describe('a worker killed between its PostgreSQL commit and its offset commit, and a publisher re-sending its tail', () => {
    const h = useLoaded();
    it('skip what was taken and what was re-sent, and give the tables of floe project', async () => {
      const topic = k.unique('events');
      const group = k.unique('projectors');
      expect(publish(h.db.url, topic)).to.equal(stored);

      const killed = await exited(worker(h.db.url, topic, group, ['--batch-size', '500'], { FLOE_KAFKA_TEST_KILL_AFTER_PG_COMMIT: '3' }));
      expect(killed.signal, killed.err).to.equal('SIGKILL');
      const taken = await takenOffsets(h.pool, topic);
      expect([...taken.values()].reduce((a, b) => a + b, 0n) > 0n, 'the killed worker committed batches').to.equal(true);
      // Its last batch is in PostgreSQL but not in the group's offsets.
      const committed = await withAdmin(k, (a) => a.fetchOffsets({ groupId: group, topics: [topic] }));
      const groupAt = new Map(committed[0].partitions.map((p) => [p.partition, BigInt(p.offset)]));
      expect([...taken].some(([p, n]) => (groupAt.get(p) ?? -1n) < n), `group offsets ${JSON.stringify([...groupAt].map(String))} behind PostgreSQL's`).to.equal(true);

      // As if the publisher died after the broker acknowledged its last 300 events, before its checkpoint.
      await h.pool.query('UPDATE floe.kafka_publish_checkpoints SET position = position - 300 WHERE topic = $1', [topic]);
      const resent = floe(h.db.url, ['kafka', 'publish', '--topic', topic, '--until-caught-up', '--json']);
      expect(resent.code, resent.err).to.equal(0);
      expect(JSON.parse(resent.out.trim().split('\n').pop()!).published).to.equal(300);

      const r = await exited(worker(h.db.url, topic, group));
      expect(r.code, r.err).to.equal(0);
      expect(r.err, 'a clean stop releases its partitions quietly').to.not.match(/Connection terminated|DeprecationWarning/);
      const s = summaryOf(r.out);
      expect(s.skipped, 'the re-sent messages are skipped by position').to.equal(300);
      const checkpointEvents = await h.pool.query<{ n: string }>(
        `SELECT sum(events) AS n FROM floe.projection_checkpoints WHERE projection = 'emails' AND shard LIKE $1`,
        [`kafka:${topic}/%`],
      );
      expect(Number(checkpointEvents.rows[0].n), 'each stored event folded once').to.equal(stored);
      expectSameSnapshot(await snapshot(h.pool, PROJECTIONS), expected, 'after a kill before the offset commit and a re-sent tail');
    });
  });
});
