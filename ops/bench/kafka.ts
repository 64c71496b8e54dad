/**
 * Kafka benchmark: on a fresh database and fresh topics (3 partitions) of the broker in use,
 *   produce  N generated events as JSON messages (idempotent producer, acks -1, 1,000 a send),
 *   ingest   `floe kafka ingest` (in process) until the group is idle: overall events/s from
 *            start (group join included) and steady events/s from the first to the last chunk,
 *   publish  `floe kafka publish` of the N stored events until caught up, events/s.
 * Each run checks that the store holds exactly the N events and the publisher sent N.
 *
 * Not wired into `floe bench` yet (ops/cli/commands/bench.ts): run it alone with
 *   KAFKA_BROKERS=… node -r tsx/cjs ops/bench/kafka.ts [EVENTS] [RUNS]
 */
import { randomBytes } from 'node:crypto';
import { defaultCatalog } from '../../schemas';
import { ingest, KafkaTransport, publish } from '../../streams/kafka';
import { PostgresEventStore } from '../../streams/postgres';
import { databaseUrl } from '../db/connect';
import { migrate } from '../db/migrate';
import { openKafka } from '../kafka/brokers';
import { median, seconds, withDatabase, workloadEvents, type Log } from './shared';

export interface KafkaBenchOptions {
  url: string;
  transport: KafkaTransport;
  events: number;
  runs: number;
  /** Events per append in ingest (default 2000), per send in publish (default 1000). */
  ingestBatch?: number;
  publishBatch?: number;
  log: Log;
}

export interface KafkaBenchRun {
  events: number;
  produce: number;
  ingest: number;
  ingestSteady: number;
  publish: number;
}

export interface KafkaBenchResult {
  runs: KafkaBenchRun[];
  median: Omit<KafkaBenchRun, 'events'>;
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

async function oneRun(o: KafkaBenchOptions, lines: string[], db: string): Promise<KafkaBenchRun> {
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

    let first: { t: bigint; messages: number } | undefined;
    let last = 0n;
    t0 = process.hrtime.bigint();
    const s = await ingest({
      transport: o.transport,
      store,
      catalog: defaultCatalog(),
      payloads: store.schemas,
      topic: ingestTopic,
      groupId: `bench-${tag}`,
      chunkSize: o.ingestBatch ?? 2000,
      untilIdle: true,
      idleCheckMs: 100,
      onChunk: (st) => {
        const now = process.hrtime.bigint();
        first ??= { t: now, messages: st.messages };
        last = now;
      },
    });
    const ingestRate = s.messages / seconds(t0);
    const steady = first && last > first.t ? (s.messages - first.messages) / (Number(last - first.t) / 1e9) : ingestRate;
    const { count } = await store.head();
    if (s.appended !== lines.length || count !== lines.length) throw new Error(`ingest stored ${count} events (appended ${s.appended}), expected ${lines.length}`);

    t0 = process.hrtime.bigint();
    const p = await publish({ url: db, pool: store.pool, producer, topic: eventsTopic, batchSize: o.publishBatch ?? 1000, untilCaughtUp: true });
    const publishRate = p.published / seconds(t0);
    if (p.published !== lines.length) throw new Error(`published ${p.published} events, expected ${lines.length}`);
    await producer.close();
    return { events: lines.length, produce, ingest: ingestRate, ingestSteady: steady, publish: publishRate };
  } finally {
    await store.close();
  }
}

export async function benchKafka(o: KafkaBenchOptions): Promise<KafkaBenchResult> {
  const lines = workload(o.events);
  const runs: KafkaBenchRun[] = [];
  for (let i = 0; i < o.runs; i++) {
    const r = await withDatabase(o.url, (db) => oneRun(o, lines, db), 'kafka');
    o.log(`kafka run ${i + 1}/${o.runs}: produce ${Math.round(r.produce)}, ingest ${Math.round(r.ingest)} (steady ${Math.round(r.ingestSteady)}), publish ${Math.round(r.publish)} events/s`);
    runs.push(r);
  }
  const m = (k: keyof Omit<KafkaBenchRun, 'events'>) => Math.round(median(runs.map((r) => r[k])));
  return { runs, median: { produce: m('produce'), ingest: m('ingest'), ingestSteady: m('ingestSteady'), publish: m('publish') } };
}

if (require.main === module) {
  void (async () => {
    const log = (l: string) => process.stderr.write(l + '\n');
    const transport = openKafka(log, 'floe-bench');
    try {
      const r = await benchKafka({ url: await databaseUrl(log), transport, events: Number(process.argv[2] ?? 50_000), runs: Number(process.argv[3] ?? 3), log });
      process.stdout.write(JSON.stringify(r) + '\n');
    } finally {
      await transport.close();
    }
  })();
}
