/**
 * Kafka benchmark (`floe bench --only kafka`): on a fresh database and fresh topics
 * (3 partitions) of the broker in use, each run
 *   produce  N generated events as JSON messages (idempotent producer, acks -1, 1,000 a send),
 *   ingest   `floe kafka ingest` (in process) until the group is idle: overall events/s from
 *            start (group join and the idle check included) and steady events/s from the
 *            first to the last chunk; how much of the steady window the store append was busy,
 *   append   the same N events, prepared beforehand, appended with `appendPrepared` in chunks
 *            of the ingest's size on another fresh database: the store's own ceiling for ingest,
 *            measured in the same run,
 *   publish  `floe kafka publish` of the N stored events until caught up, events/s, and how
 *            much of it the producer's sends took.
 * Each run checks that the store holds exactly the N events and the publisher sent N. A
 * warm-up run on a smaller prefix comes first (JIT, broker page cache, first group join).
 *
 * Alone: KAFKA_BROKERS=… node -r tsx/cjs ops/bench/kafka.ts [EVENTS] [RUNS]
 */
import { randomBytes } from 'node:crypto';
import { defaultCatalog } from '../../schemas';
import { DEFAULT_INGEST_CHUNK, ingest, KafkaTransport, publish } from '../../streams/kafka';
import { PostgresEventStore } from '../../streams/postgres';
import { prepareEvent } from '../../streams/prepare';
import { migrate } from '../db/migrate';
import { median, seconds, withDatabase, workloadEvents, type Log } from './shared';

/** Events per append in ingest: the CLI default. */
const INGEST_BATCH = DEFAULT_INGEST_CHUNK;

export interface KafkaBenchOptions {
  url: string;
  transport: KafkaTransport;
  events: number;
  runs: number;
  /** Events of the warm-up run (default min(20,000, events); 0: none). */
  warmupEvents?: number;
  /** Events per append in ingest (default 2000), per send and checkpoint in publish (default: publish's). */
  ingestBatch?: number;
  publishBatch?: number;
  log: Log;
}

export interface KafkaBenchRun {
  events: number;
  produce: number;
  /** Start (group join included) to idle. */
  ingest: number;
  /** First to last chunk. */
  ingestSteady: number;
  /** Share of the steady window spent in the store append. */
  ingestAppendShare: number;
  /** Plain appendPrepared of the same events, same chunk size, fresh database. */
  appendAlone: number;
  publish: number;
  /** Share of the publish spent in producer sends (encoding + broker round trips). */
  publishSendShare: number;
}

export type KafkaFigures = Omit<KafkaBenchRun, 'events'>;

export interface KafkaBenchResult {
  events: number;
  runs: KafkaBenchRun[];
  median: KafkaFigures;
}

/** Distinct events (the generator repeats some ids on purpose; those would count as duplicates). */
function workload(events: number): string[] {
  const seen = new Set<unknown>();
  const out: string[] = [];
  for (const e of workloadEvents({ events, days: 30 })) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    out.push(JSON.stringify(e));
  }
  return out;
}

async function appendAlone(url: string, lines: string[], chunk: number): Promise<number> {
  const catalog = defaultCatalog();
  const prepared = lines.map((l) => prepareEvent(catalog, JSON.parse(l), { byteLength: l.length }));
  return withDatabase(
    url,
    async (db) => {
      await migrate(db);
      const store = await PostgresEventStore.open(db);
      try {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < prepared.length; i += chunk) await store.appendPrepared(prepared.slice(i, i + chunk));
        const rate = prepared.length / seconds(t0);
        const { count } = await store.head();
        if (count !== prepared.length) throw new Error(`append alone stored ${count} events, expected ${prepared.length}`);
        return rate;
      } finally {
        await store.close();
      }
    },
    'kafka_append',
  );
}

async function oneRun(o: KafkaBenchOptions, lines: string[], db: string): Promise<KafkaBenchRun> {
  const ingestBatch = o.ingestBatch ?? INGEST_BATCH;
  await migrate(db);
  const store = await PostgresEventStore.open(db);
  const tag = randomBytes(4).toString('hex');
  const ingestTopic = `bench.ingest.${tag}`;
  const eventsTopic = `bench.events.${tag}`;
  try {
    await o.transport.ensureTopics([{ topic: ingestTopic, partitions: 3 }, { topic: eventsTopic, partitions: 3 }]);
    const producer = await o.transport.producer({ idempotent: true });
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < lines.length; i += 1000) {
      await producer.send(ingestTopic, lines.slice(i, i + 1000).map((value) => ({ key: JSON.parse(value).tenantId as string, value })));
    }
    const produce = lines.length / seconds(t0);

    let first: { t: bigint; messages: number; appendNs: bigint } | undefined;
    let last = 0n;
    // Time during which at least one append was in progress (partitions append concurrently).
    let appendNs = 0n;
    let appendNsAtLast = 0n;
    let appending = 0;
    let busySince = 0n;
    const sink = {
      appendPrepared: async (events: Parameters<typeof store.appendPrepared>[0]) => {
        if (appending++ === 0) busySince = process.hrtime.bigint();
        try {
          return await store.appendPrepared(events);
        } finally {
          if (--appending === 0) appendNs += process.hrtime.bigint() - busySince;
        }
      },
    };
    /** Append-busy time up to `now`, the append in progress included. */
    const busyUntil = (now: bigint) => appendNs + (appending > 0 ? now - busySince : 0n);
    t0 = process.hrtime.bigint();
    const s = await ingest({
      transport: o.transport,
      store: sink,
      catalog: defaultCatalog(),
      payloads: store.schemas,
      topic: ingestTopic,
      groupId: `bench-${tag}`,
      chunkSize: ingestBatch,
      untilIdle: true,
      idleCheckMs: 100,
      onChunk: (st) => {
        const now = process.hrtime.bigint();
        first ??= { t: now, messages: st.messages, appendNs: busyUntil(now) };
        last = now;
        appendNsAtLast = busyUntil(now);
      },
    });
    const ingestRate = s.messages / seconds(t0);
    const steadyNs = first && last > first.t ? Number(last - first.t) : 0;
    const steady = steadyNs > 0 ? (s.messages - first!.messages) / (steadyNs / 1e9) : ingestRate;
    const ingestAppendShare = steadyNs > 0 ? Number(appendNsAtLast - first!.appendNs) / steadyNs : NaN;
    const { count } = await store.head();
    if (s.appended !== lines.length || count !== lines.length) throw new Error(`ingest stored ${count} events (appended ${s.appended}), expected ${lines.length}`);

    let sendNs = 0n;
    const timedProducer = {
      send: async (topic: string, messages: Parameters<typeof producer.send>[1]) => {
        const t = process.hrtime.bigint();
        try {
          await producer.send(topic, messages);
        } finally {
          sendNs += process.hrtime.bigint() - t;
        }
      },
      close: () => producer.close(),
    };
    t0 = process.hrtime.bigint();
    const p = await publish({ url: db, pool: store.pool, producer: timedProducer, topic: eventsTopic, batchSize: o.publishBatch, untilCaughtUp: true });
    const publishNs = Number(process.hrtime.bigint() - t0);
    const publishRate = p.published / (publishNs / 1e9);
    if (p.published !== lines.length) throw new Error(`published ${p.published} events, expected ${lines.length}`);
    await producer.close();
    const alone = await appendAlone(o.url, lines, ingestBatch);
    return {
      events: lines.length,
      produce,
      ingest: ingestRate,
      ingestSteady: steady,
      ingestAppendShare,
      appendAlone: alone,
      publish: publishRate,
      publishSendShare: Number(sendNs) / publishNs,
    };
  } finally {
    await store.close();
  }
}

const fmt = (r: KafkaFigures) =>
  `produce ${Math.round(r.produce)}, ingest ${Math.round(r.ingest)} (steady ${Math.round(r.ingestSteady)}, append busy ${Math.round(100 * r.ingestAppendShare)}%; ` +
  `appendPrepared alone ${Math.round(r.appendAlone)}), publish ${Math.round(r.publish)} (sends ${Math.round(100 * r.publishSendShare)}%) events/s`;

export async function benchKafka(o: KafkaBenchOptions): Promise<KafkaBenchResult> {
  const lines = workload(o.events);
  const warmup = o.warmupEvents ?? Math.min(20_000, lines.length);
  if (warmup > 0) {
    const r = await withDatabase(o.url, (db) => oneRun(o, lines.slice(0, warmup), db), 'kafka');
    o.log(`kafka warm-up (${r.events} events): ${fmt(r)}`);
  }
  const runs: KafkaBenchRun[] = [];
  for (let i = 0; i < o.runs; i++) {
    const r = await withDatabase(o.url, (db) => oneRun(o, lines, db), 'kafka');
    o.log(`kafka run ${i + 1}/${o.runs} (${r.events} events): ${fmt(r)}`);
    runs.push(r);
  }
  const m = (k: keyof KafkaFigures) => median(runs.map((r) => r[k]));
  const median_: KafkaFigures = {
    produce: Math.round(m('produce')),
    ingest: Math.round(m('ingest')),
    ingestSteady: Math.round(m('ingestSteady')),
    ingestAppendShare: m('ingestAppendShare'),
    appendAlone: Math.round(m('appendAlone')),
    publish: Math.round(m('publish')),
    publishSendShare: m('publishSendShare'),
  };
  return { events: lines.length, runs, median: median_ };
}
