/**
 * `floe kafka ingest` against a real broker: events produced to the ingest topic by an
 * independent client (plain kafkajs) land in the store exactly once, also when the ingest
 * process is SIGKILLed after an append committed and before its offsets did; bad messages
 * go to the DLQ with a readable reason and do not hold back the valid ones around them.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Pool } from 'pg';
import { defaultCatalog, encode, validatePayload } from '../../schemas';
import { ingest, ingestEventId, kafkajsTransport } from '../../streams/kafka';
import { PostgresEventStore } from '../../streams/postgres';
import type { PreparedEvent } from '../../streams/prepare';
import { APPEND_LOCK_KEY } from '../../streams/postgres/append';
import { useDatabase } from '../helpers/backends';
import { exited, floe } from '../helpers/cli';
import { useKafka } from '../helpers/kafka';

const FLOE = path.join(__dirname, '..', '..', 'ops', 'cli', 'floe.js');

type Event = { id?: string; type: string; tenantId: string; occurredAt: string; data: Record<string, unknown> };

function ingestChild(url: string, args: string[], env: Record<string, string> = {}) {
  return spawn(process.execPath, [FLOE, 'kafka', 'ingest', '--session-timeout-ms', '6000', ...args], {
    env: { ...process.env, DATABASE_URL: url, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function ingestUntilIdle(url: string, topic: string, group: string, extra: string[] = []) {
  const r = await exited(ingestChild(url, ['--topic', topic, '--group', group, '--until-idle', '--json', ...extra]));
  expect(r.code, r.err).to.equal(0);
  return JSON.parse(r.out.trim().split('\n').pop()!) as { messages: number; appended: number; duplicates: number; deadLettered: number };
}

/**
 * A deterministic workload without the generator's retried duplicates (same id twice), so
 * every message is one distinct event; every other event loses its id (Floe derives one).
 */
function workload(url: string, seed: number, emails: number): Event[] {
  const r = floe(url, ['generate', '--seed', String(seed), '--tenants', '3', '--emails', String(emails), '--days', '4']);
  expect(r.code, r.err).to.equal(0);
  const seen = new Set<string>();
  return r.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Event)
    .filter((e) => !seen.has(e.id!) && seen.add(e.id!))
    .map((e, i) => {
      if (i % 2) delete e.id;
      return e;
    });
}

async function produce(k: ReturnType<typeof useKafka>, topic: string, events: Event[]) {
  const p = await k.producer();
  for (let i = 0; i < events.length; i += 500) {
    await p.send({ topic, acks: -1, messages: events.slice(i, i + 500).map((e) => ({ key: e.tenantId, value: JSON.stringify(e) })) });
  }
}

describe('kafka ingest (real broker)', function () {
  this.timeout(300_000);
  const db = useDatabase();
  const k = useKafka();
  let pool: Pool;
  before(function () {
    process.env.KAFKA_BROKERS = k.brokers.join(',');
    pool = new Pool({ connectionString: db.url });
    pool.on('error', () => {});
  });
  after(() => pool?.end());

  /** What the store holds for these events: their count, and the id-less ones' derived ids. */
  async function expectStoredOnce(events: Event[], tenantIds = [...new Set(events.map((e) => e.tenantId))]) {
    const { rows } = await pool.query<{ n: string; distinct_content: string; v5: string }>(
      `SELECT count(*) AS n,
              count(DISTINCT (type, tenant_id, stream_id, occurred_at, data)) AS distinct_content,
              count(*) FILTER (WHERE substr(event_id::text, 15, 1) = '5') AS v5
         FROM floe.events WHERE tenant_id = ANY($1)`,
      [tenantIds],
    );
    expect(Number(rows[0].n), 'events stored').to.equal(events.length);
    expect(Number(rows[0].distinct_content), 'no event stored twice').to.equal(events.length);
    expect(Number(rows[0].v5), 'id-less events got derived ids').to.equal(events.filter((e) => !e.id).length);
    const given = events.filter((e) => e.id).map((e) => e.id!);
    const found = await pool.query<{ n: string }>('SELECT count(*) AS n FROM floe.events WHERE event_id = ANY($1::uuid[])', [given]);
    expect(Number(found.rows[0].n), 'producer ids kept').to.equal(given.length);
  }

  it('appends every produced event exactly once, JSON and Avro, over 3 partitions', async () => {
    const topic = k.unique('ingest.once');
    await k.createTopic(topic, 3);
    const events = workload(db.url, 11, 150);
    await produce(k, topic, events);
    // Avro single-object payloads with the envelope in headers, from the same producer.
    const catalog = defaultCatalog();
    const avro: Event[] = [0, 1, 2].map((i) => ({ type: 'email.opened', tenantId: 'kafka-avro', occurredAt: `2026-02-01T10:00:0${i}.000Z`, data: { emailId: `av-${i}`, machine: i === 1 } }));
    const schema = catalog.current('email.opened');
    const p = await k.producer();
    await p.send({
      topic,
      acks: -1,
      messages: avro.map((e) => ({
        key: e.tenantId,
        value: encode(schema, validatePayload(schema, e.data).value),
        headers: { 'floe-type': e.type, 'floe-tenant': e.tenantId, 'floe-occurred-at': e.occurredAt },
      })),
    });

    const first = await ingestUntilIdle(db.url, topic, 'g-once');
    expect(first).to.include({ messages: events.length + 3, appended: events.length + 3, duplicates: 0, deadLettered: 0 });
    await expectStoredOnce([...events, ...avro]);
    const opened = await floe(db.url, ['read', '--tenant', 'kafka-avro']);
    const got = opened.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(got.map((e) => [e.data.emailId, e.data.machine, e.occurredAt])).to.deep.equal(avro.map((e) => [e.data.emailId, e.data.machine, e.occurredAt]));

    // Another group reads the same messages: every one is a duplicate (same producer or derived ids).
    const again = await ingestUntilIdle(db.url, topic, 'g-once-2');
    expect(again).to.include({ appended: 0, duplicates: events.length + 3 });
    await expectStoredOnce([...events, ...avro]);
  });

  it('takes what floe kafka produce sends: the lines of an NDJSON file, keyed by tenant; a bad line goes to the DLQ', async () => {
    const topic = k.unique('ingest.produce');
    await k.createTopic(topic, 3);
    // A seed of its own: the other tests' events (same ids) must not be in the store before theirs.
    const events = workload(db.url, 16, 60);
    const file = path.join(os.tmpdir(), `floe-produce-${process.pid}.ndjson`);
    writeFileSync(file, [...events.map((e) => JSON.stringify(e)), '{"type": "email.sent", not json', ''].join('\n'));
    const sent = floe(db.url, ['kafka', 'produce', file, '--topic', topic, '--json']);
    expect(sent.code, sent.err).to.equal(0);
    expect(JSON.parse(sent.out)).to.include({ produced: events.length + 1, topic });
    // Keyed by tenant: each tenant's events are on one partition, in file order.
    const messages = await k.consume(topic, events.length + 1);
    const partitionOf = new Map<string, Set<number>>();
    for (const m of messages.filter((x) => x.key)) partitionOf.set(m.key!.toString(), (partitionOf.get(m.key!.toString()) ?? new Set()).add(m.partition));
    expect([...partitionOf.keys()].sort()).to.deep.equal([...new Set(events.map((e) => e.tenantId))].sort());
    for (const [tenant, partitions] of partitionOf) expect([...partitions], tenant).to.have.length(1);
    expect(messages.filter((x) => !x.key).map((x) => x.value!.toString())).to.deep.equal(['{"type": "email.sent", not json']);

    const r = await ingestUntilIdle(db.url, topic, 'g-produce');
    expect(r).to.include({ messages: events.length + 1, appended: events.length, deadLettered: 1 });
    await expectStoredOnce(events);
    const missing = floe(db.url, ['kafka', 'produce', '/nonexistent/events.ndjson', '--topic', topic]);
    expect(missing.code).to.equal(2);
    expect(missing.err).to.contain('/nonexistent/events.ndjson: no such file');
  });

  it('derives the id of an id-less message from (topic, partition, offset)', async () => {
    const topic = k.unique('ingest.ids');
    await k.createTopic(topic, 1);
    const p = await k.producer();
    const e: Event = { type: 'company.created', tenantId: 'kafka-ids', occurredAt: '2026-02-01T10:00:00.000Z', data: { companyId: 'c1', name: 'Acme' } };
    const [meta] = await p.send({ topic, acks: -1, messages: [{ value: JSON.stringify(e) }] });
    await ingestUntilIdle(db.url, topic, 'g-ids');
    const { rows } = await pool.query('SELECT event_id::text AS id FROM floe.events WHERE tenant_id = $1', ['kafka-ids']);
    expect(rows.map((r) => r.id)).to.deep.equal([ingestEventId(topic, 0, meta.baseOffset!)]);
  });

  it('is exactly-once when the consumer is SIGKILLed after an append, before its offsets commit, and restarted', async () => {
    const topic = k.unique('ingest.kill');
    const group = 'g-kill';
    await k.createTopic(topic, 3);
    const all = workload(db.url, 12, 500);
    const tenants = [...new Set(all.map((e) => e.tenantId))];
    const half = Math.floor(all.length / 2);
    await produce(k, topic, all.slice(0, half));

    // Killed right after its 2nd append committed: that chunk's offsets are never committed.
    const killed = await exited(ingestChild(db.url, ['--topic', topic, '--group', group, '--batch-size', '200'], { FLOE_KAFKA_TEST_KILL_BEFORE_COMMIT: '2' }));
    expect(killed.signal, killed.err).to.equal('SIGKILL');
    const stored = Number((await pool.query('SELECT count(*) AS n FROM floe.events WHERE tenant_id = ANY($1)', [tenants])).rows[0].n);
    const admin = k.kafka.admin();
    await admin.connect();
    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    await admin.disconnect();
    const committed = offsets.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    expect(stored, 'two chunks appended').to.be.within(2, 400);
    expect(committed, 'the second chunk was appended but not committed').to.be.below(stored);

    // Restarted: the uncommitted chunk comes again and is recognised, message for message.
    const restart = await ingestUntilIdle(db.url, topic, group);
    expect(restart.duplicates, 'redelivered messages were duplicates').to.equal(stored - committed);
    expect(restart.appended).to.equal(half - stored);
    await expectStoredOnce(all.slice(0, half), tenants);

    // Killed at random moments while following and producing, then run to the end.
    await produce(k, topic, all.slice(half));
    for (const delay of [2500, 4000, 6500]) {
      const child = ingestChild(db.url, ['--topic', topic, '--group', group, '--batch-size', '150']);
      const done = exited(child);
      setTimeout(() => child.kill('SIGKILL'), delay);
      const r = await done;
      expect(r.signal ?? r.code, r.err).to.equal('SIGKILL');
    }
    await ingestUntilIdle(db.url, topic, group);
    await expectStoredOnce(all, tenants);
  });

  it('fetches a partition again from its first uncommitted offset when an append fails, with its next batches fetched ahead', async () => {
    const topic = k.unique('ingest.fail');
    await k.createTopic(topic, 3);
    const events = workload(db.url, 14, 200);
    await produce(k, topic, events);
    const store = await PostgresEventStore.open(db.url);
    const transport = kafkajsTransport({ brokers: k.brokers, logLevel: 'nothing' });
    // The 3rd append fails before reaching the store; the 8th commits, then fails (a lost reply).
    let calls = 0;
    let lostReply = 0;
    const sink = {
      async appendPrepared(batch: PreparedEvent[]) {
        if (++calls === 3) throw new Error('injected: the store is unreachable');
        const r = await store.appendPrepared(batch);
        if (calls === 8) {
          lostReply = batch.length;
          throw new Error('injected: the reply was lost after the commit');
        }
        return r;
      },
    };
    let s;
    try {
      // Small fetches and chunks: each partition comes in many batches, each in two chunks,
      // so batches are queued behind the failing ones when they fail.
      s = await ingest({
        transport,
        store: sink,
        catalog: defaultCatalog(),
        payloads: store.schemas,
        topic,
        groupId: k.unique('g-fail'),
        chunkSize: 40,
        fetchBytesPerPartition: 16 << 10,
        untilIdle: true,
        idleCheckMs: 200,
        signal: AbortSignal.timeout(120_000), // a partition stuck behind a lost chunk would never be idle
      });
    } finally {
      await transport.close();
      await store.close();
    }
    expect(calls, `appends (ingest: ${JSON.stringify(s)})`).to.be.above(20);
    expect(lostReply).to.be.above(0);
    await expectStoredOnce(events);
    // The chunk whose reply was lost came again, as duplicates; every other event was appended once.
    expect(s.appended).to.equal(events.length - lostReply);
    expect(s.duplicates).to.be.at.least(lostReply);
  });

  it('keeps its group membership through an append that outlasts the session timeout', async () => {
    const topic = k.unique('ingest.slow');
    await k.createTopic(topic, 1);
    const events = workload(db.url, 13, 15).slice(0, 50);
    await produce(k, topic, events);
    // Hold the store's append lock for 3 session timeouts: the first append waits behind it.
    const blocker = await pool.connect();
    let r;
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK_KEY]);
      const done = exited(ingestChild(db.url, ['--topic', topic, '--group', 'g-slow', '--until-idle', '--json']));
      await new Promise((resolve) => setTimeout(resolve, 18_000));
      await blocker.query('COMMIT');
      r = await done;
    } finally {
      await blocker.query('ROLLBACK').catch(() => {});
      blocker.release();
    }
    expect(r.code, r.err).to.equal(0);
    // Dropped from the group, it would have seen the messages again (as duplicates).
    expect(JSON.parse(r.out.trim())).to.include({ messages: events.length, appended: events.length, duplicates: 0 });
    expect(r.err).to.not.match(/rebalanc|not a member|UNKNOWN_MEMBER_ID/i);
  });

  it('sends invalid and undecodable messages to the DLQ with the reason, and keeps the valid ones around them', async () => {
    const topic = k.unique('ingest.dlq');
    await k.createTopic(topic, 1);
    const ok = (i: number): Event => ({ id: undefined, type: 'company.created', tenantId: 'kafka-dlq', occurredAt: `2026-02-01T10:00:0${i}.000Z`, data: { companyId: `c${i}`, name: `Company ${i}` } });
    const schema = defaultCatalog().current('email.opened');
    const fixedId = '0d6f1b8e-8c55-4c9a-9d0f-6a1a7c1e0001';
    const messages: Array<{ value: string | Buffer | null; headers?: Record<string, string>; bad?: RegExp }> = [
      { value: JSON.stringify(ok(1)) },
      { value: JSON.stringify({ type: 'email.bounced', tenantId: 'kafka-dlq', occurredAt: '2026-02-01T10:00:00.000Z', data: { emailId: 'e1', bounceType: 'medium' } }), bad: /data\.bounceType: "medium" is not one of hard, soft/ },
      { value: Buffer.from([0x00, 0x01, 0x02, 0xff]), bad: /neither Avro single-object encoding .* nor JSON/ },
      { value: JSON.stringify(ok(2)) },
      { value: JSON.stringify({ type: 'email.teleported', tenantId: 'kafka-dlq', occurredAt: '2026-02-01T10:00:00.000Z', data: {} }), bad: /unknown event type "email.teleported"/ },
      { value: encode(schema, validatePayload(schema, { emailId: 'e2' }).value), headers: { 'floe-type': 'email.opened', 'floe-occurred-at': '2026-02-01T10:00:00.000Z' }, bad: /missing header floe-tenant/ },
      { value: Buffer.concat([Buffer.from([0xc3, 0x01]), Buffer.alloc(8, 0x42), Buffer.from([2, 0x41])]), headers: { 'floe-type': 'email.opened', 'floe-tenant': 'kafka-dlq', 'floe-occurred-at': '2026-02-01T10:00:00.000Z' }, bad: /no schema with fingerprint 4242424242424242/ },
      { value: JSON.stringify({ ...ok(3), id: fixedId }) },
      { value: JSON.stringify({ ...ok(4), id: fixedId }), bad: /repeated earlier in the same append with different content \(occurredAt / },
      { value: JSON.stringify({ type: 'company.created', tenantId: 'kafka-dlq', occurredAt: 'yesterday', data: { companyId: 'c9', name: 'x' } }), bad: /occurredAt: not an ISO-8601 timestamp/ },
      { value: null, bad: /empty message/ },
      { value: JSON.stringify(ok(5)) },
    ];
    const p = await k.producer();
    const sent = await p.send({ topic, acks: -1, messages: messages.map((m) => ({ key: 'k', value: m.value, headers: m.headers })) });
    const base = BigInt(sent[0].baseOffset!);

    const r = await ingestUntilIdle(db.url, topic, 'g-dlq');
    const bad = messages.filter((m) => m.bad);
    expect(r).to.include({ messages: messages.length, appended: messages.length - bad.length, deadLettered: bad.length });
    const stored = floe(db.url, ['read', '--tenant', 'kafka-dlq']).out.trim().split('\n').map((l) => JSON.parse(l).data.name);
    expect(stored).to.deep.equal(['Company 1', 'Company 2', 'Company 3', 'Company 5']);

    const dlq = await k.consume(`${topic}.dlq`, bad.length);
    const byOffset = new Map(dlq.map((m) => [m.headers!['floe-source-offset']!.toString(), m]));
    messages.forEach((m, i) => {
      if (!m.bad) return;
      const d = byOffset.get(String(base + BigInt(i)));
      expect(d, `dead letter for offset ${i}`).to.exist;
      expect(d!.headers!['floe-error']!.toString(), d!.headers!['floe-error']!.toString()).to.match(m.bad);
      expect(d!.headers!['floe-source-topic']!.toString()).to.equal(topic);
      expect(d!.headers!['floe-source-partition']!.toString()).to.equal('0');
      expect(d!.headers!['floe-error-code']!.toString()).to.match(/^(INVALID|UNDECODABLE|ID_CONFLICT)$/);
      if (m.value === null) expect(d!.value).to.equal(null);
      else expect(Buffer.compare(d!.value!, Buffer.from(m.value))).to.equal(0);
      for (const [h, v] of Object.entries(m.headers ?? {})) expect(d!.headers![h]!.toString()).to.equal(v);
    });
  });
});
