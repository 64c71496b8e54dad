/**
 * Kafka → event store (DESIGN §7): a consumer group on `floe.ingest` that decodes and
 * validates each message, appends the valid ones in batches, sends the others to the
 * dead-letter topic, and only then commits the partition's offset.
 *
 * Exactly-once in the store: a message whose append committed but whose offset did not
 * (a crash, a rebalance) is delivered again, and appending it again is a duplicate, because
 * its id is the producer's or one derived from (topic, partition, offset). A dead letter may
 * be sent twice in that case (at-least-once in the DLQ).
 *
 * Group membership: kafkajs only heartbeats when asked, so while an append runs a timer keeps
 * heartbeating (`keepAlive`), and a fetch is split into chunks of at most `chunkSize` events
 * with the offset committed after each: no handler outlives the session timeout, and a
 * rebalance waits at most one chunk.
 */
import type { Catalog } from '../../schemas';
import { EventIdConflictError, WrongExpectedVersionError } from '../errors';
import type { PreparedEvent } from '../prepare';
import type { AppendResult } from '../store';
import { decodeIngestMessage, PayloadDecoder } from './decode';
import { stopWhenIdle } from './idle';
import { dlqTopicOf, H } from './messages';
import { stopOnAbort, type InboundBatch, type InboundMessage, type KafkaProducer, type KafkaTransport, type OutboundMessage } from './transport';

export interface IngestSink {
  appendPrepared(events: PreparedEvent[]): Promise<AppendResult>;
}

export interface IngestOptions {
  transport: KafkaTransport;
  store: IngestSink;
  catalog: Catalog;
  payloads: PayloadDecoder;
  topic: string;
  /** Default `${topic}.dlq`. */
  dlqTopic?: string;
  groupId: string;
  /** Most events per append and offset commit (default 5000). */
  chunkSize?: number;
  /**
   * Partitions handled at once (default 3), each with its own appends: their appends queue
   * on the store's append lock, so the server goes from one to the next while the others
   * fetch, decode and commit offsets.
   */
  partitionsAtOnce?: number;
  sessionTimeoutMs?: number;
  /** Most bytes one fetch brings per partition (default 8 MiB, about 25,000 JSON events of the generated workload). */
  fetchBytesPerPartition?: number;
  /** Stop once the group has committed everything in the topic. */
  untilIdle?: boolean;
  /** How often idleness is checked, ms (default 500). */
  idleCheckMs?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
  onChunk?: (stats: IngestStats) => void;
  /** Called after a chunk's append committed, before its offset is committed (fault tests). */
  beforeCommit?: (stats: IngestStats) => void;
}

export interface IngestStats {
  messages: number;
  appended: number;
  duplicates: number;
  deadLettered: number;
  chunks: number;
}

const FETCH_BYTES_PER_PARTITION = 8 << 20;

export const DEFAULT_INGEST_CHUNK = 5000;
export const DEFAULT_PARTITIONS_AT_ONCE = 3;

/** Messages decoded between two yields to the event loop. */
const DECODE_SLICE = 250;

interface Rejected {
  message: InboundMessage;
  code: string;
  reason: string;
}

export async function ingest(o: IngestOptions): Promise<IngestStats> {
  const dlqTopic = o.dlqTopic ?? dlqTopicOf(o.topic);
  const chunkSize = o.chunkSize ?? DEFAULT_INGEST_CHUNK;
  const log = o.log ?? (() => {});
  const stats: IngestStats = { messages: 0, appended: 0, duplicates: 0, deadLettered: 0, chunks: 0 };
  await o.transport.ensureTopics([{ topic: o.topic }, { topic: dlqTopic }]);
  const dlq = await o.transport.producer({ idempotent: true });
  // Fetches of several chunks per partition: the next chunk is decoded while one is appended,
  // and the fetch round trip (not overlapped with appends) is paid once per several chunks.
  const consumer = o.transport.consumer({
    groupId: o.groupId,
    topics: [o.topic],
    fromBeginning: true,
    sessionTimeoutMs: o.sessionTimeoutMs,
    maxBytesPerPartition: o.fetchBytesPerPartition ?? FETCH_BYTES_PER_PARTITION,
    concurrency: o.partitionsAtOnce ?? DEFAULT_PARTITIONS_AT_ONCE,
    // The next fetch (and kafkajs' decoding of it) overlaps the appends of the current one.
    fetchAhead: true,
  });
  let idleTimer: NodeJS.Timeout | undefined;
  const stops = stopOnAbort(consumer, o.signal);
  const stop = stops.stop;

  const decodeChunk = async (chunk: InboundMessage[]): Promise<{ good: Array<{ message: InboundMessage; event: PreparedEvent }>; bad: Rejected[] }> => {
    const good: Array<{ message: InboundMessage; event: PreparedEvent }> = [];
    const bad: Rejected[] = [];
    for (let j = 0; j < chunk.length; j++) {
      // Yield now and then, so the replies of an append running meanwhile are not held up.
      if (j % DECODE_SLICE === DECODE_SLICE - 1) await new Promise<void>((r) => setImmediate(r));
      const message = chunk[j];
      const d = await decodeIngestMessage(message, o.catalog, o.payloads);
      if (d.ok) good.push({ message, event: d.event });
      else bad.push({ message, code: d.code, reason: d.reason });
    }
    return { good, bad };
  };

  const handle = async (batch: InboundBatch) => {
    // The next chunk is decoded while the current one is appended (the append mostly waits
    // for the server); its offset is still committed only after its own append committed.
    let next: Promise<Awaited<ReturnType<typeof decodeChunk>>> | undefined;
    for (let i = 0; i < batch.messages.length; i += chunkSize) {
      if (!batch.active() || o.signal?.aborted) return;
      const chunk = batch.messages.slice(i, i + chunkSize);
      const decoded = next ?? decodeChunk(chunk);
      next = undefined;
      await keepAlive(batch, log, async () => {
        const { good, bad } = await decoded;
        const appending = appendAll(o.store, good);
        if (i + chunkSize < batch.messages.length) {
          const following = batch.messages.slice(i + chunkSize, i + 2 * chunkSize);
          // After the append's first request is on its way.
          next = new Promise<void>((r) => setImmediate(r)).then(() => decodeChunk(following));
          next.catch(() => {}); // awaited in the next round; an early failure is not unhandled
        }
        const r = await appending;
        bad.push(...r.rejected);
        await sendDeadLetters(dlq, dlqTopic, bad);
        stats.messages += chunk.length;
        stats.appended += r.appended;
        stats.duplicates += r.duplicates;
        stats.deadLettered += bad.length;
        stats.chunks++;
      });
      o.beforeCommit?.(stats);
      await batch.commit(chunk[chunk.length - 1].offset);
      o.onChunk?.(stats);
    }
  };

  try {
    const running = consumer.run(handle);
    if (o.untilIdle) idleTimer = stopWhenIdle(o.transport, o.groupId, o.topic, stop, (m) => log(`kafka: ${m}`), o.idleCheckMs);
    await running;
    await stops.stopping;
    return stats;
  } finally {
    if (idleTimer) clearInterval(idleTimer);
    stops.release();
    await stop().catch(() => {});
    await dlq.close().catch(() => {});
  }
}

/**
 * Runs `work` while heartbeating every second (kafkajs itself sends at most one per heartbeat
 * interval), so a slow append never makes the coordinator drop this member. A failed
 * heartbeat (the group is rebalancing) is only logged: the work finishes, and the offset
 * commit that follows tells whether this member still owns the partition.
 */
async function keepAlive<T>(batch: InboundBatch, log: (l: string) => void, work: () => Promise<T>): Promise<T> {
  let warned = false;
  const timer = setInterval(() => {
    batch.heartbeat().catch((e) => {
      if (!warned) log(`kafka: heartbeat during an append failed (${(e as Error).message}); the offset commit will tell`);
      warned = true;
    });
  }, 1000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Append; an event that conflicts with a stored one, or misses its expected version, becomes a dead letter. */
async function appendAll(
  store: IngestSink,
  good: Array<{ message: InboundMessage; event: PreparedEvent }>,
): Promise<{ appended: number; duplicates: number; rejected: Rejected[] }> {
  const rejected: Rejected[] = [];
  let batch = good;
  while (batch.length) {
    try {
      const r = await store.appendPrepared(batch.map((g) => g.event));
      return { appended: r.appended, duplicates: r.duplicates, rejected };
    } catch (e) {
      if (e instanceof EventIdConflictError) {
        const bad = new Map(e.conflicts.map((c) => [c.index, c.reason]));
        batch.forEach((g, i) => {
          if (bad.has(i)) rejected.push({ message: g.message, code: 'ID_CONFLICT', reason: `${g.event.type}, id ${g.event.id}: ${bad.get(i)}` });
        });
        batch = batch.filter((_g, i) => !bad.has(i));
      } else if (e instanceof WrongExpectedVersionError) {
        const i = batch.findIndex((g) => g.event.id === e.context.eventId);
        if (i < 0) throw e;
        rejected.push({ message: batch[i].message, code: 'WRONG_EXPECTED_VERSION', reason: `${batch[i].event.type}, id ${batch[i].event.id}: ${e.message}` });
        batch = batch.filter((_g, j) => j !== i);
      } else throw e;
    }
  }
  return { appended: 0, duplicates: 0, rejected };
}

async function sendDeadLetters(dlq: KafkaProducer, topic: string, rejected: Rejected[]): Promise<void> {
  if (!rejected.length) return;
  const failedAt = new Date().toISOString();
  const messages: OutboundMessage[] = rejected.map(({ message: m, code, reason }) => {
    const headers: Record<string, string | Buffer> = {};
    for (const [k, v] of Object.entries(m.headers)) if (v !== undefined) headers[k] = v;
    Object.assign(headers, {
      [H.error]: reason,
      [H.errorCode]: code,
      [H.sourceTopic]: m.topic,
      [H.sourcePartition]: String(m.partition),
      [H.sourceOffset]: m.offset,
      [H.failedAt]: failedAt,
    });
    return { key: m.key, value: m.value, headers };
  });
  await dlq.send(topic, messages);
}
