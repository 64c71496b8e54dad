/**
 * The Kafka transport on kafkajs 2.x.
 *
 * Consumers run `eachBatch` with auto-commit and auto-resolve off: Floe commits an offset
 * itself, only once what the messages became is durable. kafkajs sends heartbeats only when
 * asked (between batches, or through `heartbeat()`), so handlers that may run long must call
 * it: see `keepAlive` in ingest.ts. Its rebalances are eager (every member stops for each
 * join), and its idempotent producer is marked experimental: we use it with one request in
 * flight, acks from all in-sync replicas and unlimited retries, as its documentation asks.
 */
// Before 'kafkajs': it replaces one of kafkajs' modules, which has to happen before kafkajs loads it.
import { installProduceEncoder } from './kafkajsProduce';
import { Admin, ConsumerRunConfig, ICustomPartitioner, Kafka, logLevel as LogLevel, LogEntry, Partitioners } from 'kafkajs';
import { FloeError } from '../../schemas/errors';
import type { ConsumerOptions, InboundBatch, KafkaConsumer, KafkaProducer, KafkaTransport, OutboundMessage, TopicSpec } from './transport';

export interface KafkajsOptions {
  brokers: string[];
  clientId?: string;
  /** Where kafkajs' own warnings and errors go (default: stderr). */
  log?: (line: string) => void;
  /** kafkajs log level: 'error' | 'warn' (default) | 'info' | 'debug'. */
  logLevel?: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
}

const LEVELS: Record<string, LogLevel> = {
  nothing: LogLevel.NOTHING,
  error: LogLevel.ERROR,
  warn: LogLevel.WARN,
  info: LogLevel.INFO,
  debug: LogLevel.DEBUG,
};

/** Most bytes (keys, values, headers) in one produce request: well below the broker's default message.max.bytes. */
const SEND_SLICE_BYTES = 512 * 1024;

const size = (v: string | Buffer | null | undefined) => (v == null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);

/** Consecutive runs of messages of at most `limit` bytes each (a larger message goes alone). */
export function slices(messages: OutboundMessage[], limit: number): OutboundMessage[][] {
  const out: OutboundMessage[][] = [];
  let current: OutboundMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    let n = 70 + size(m.key) + size(m.value); // 70: record overhead, roughly
    for (const [k, v] of Object.entries(m.headers ?? {})) n += k.length + size(v) + 2;
    if (current.length && bytes + n > limit) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += n;
  }
  if (current.length) out.push(current);
  return out;
}

/** kafkajs (and the Kafka protocol) may repeat a header; Floe reads the first value. */
function headerBuffers(headers: Record<string, unknown> | undefined): Record<string, Buffer | undefined> {
  const out: Record<string, Buffer | undefined> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    out[k] = first === undefined ? undefined : Buffer.isBuffer(first) ? first : Buffer.from(String(first));
  }
  return out;
}

/**
 * kafkajs' Java-compatible (murmur2) partitioner, remembering each key's partition: hashing
 * the key in JavaScript cost more than the rest of routing a message, and Floe's keys are
 * tenant ids, few of them.
 */
const rememberingPartitioner: ICustomPartitioner = () => {
  const partitioner = Partitioners.DefaultPartitioner();
  const known = new Map<string, number>();
  return (args) => {
    const { topic, partitionMetadata, message } = args;
    if ((message.partition !== undefined && message.partition !== null) || message.key === undefined || message.key === null) return partitioner(args);
    const key = `${topic}\0${partitionMetadata.length}\0${typeof message.key === 'string' ? `s${message.key}` : `b${message.key.toString('latin1')}`}`;
    let p = known.get(key);
    if (p === undefined) {
      if (known.size >= 10_000) known.clear();
      p = partitioner(args);
      known.set(key, p);
    }
    return p;
  };
};

export function kafkajsTransport(options: KafkajsOptions): KafkaTransport {
  const encoder = process.env.FLOE_KAFKA_ENCODER;
  if (encoder && encoder !== 'floe' && encoder !== 'kafkajs') {
    throw new FloeError('INVALID_ARGUMENT', `FLOE_KAFKA_ENCODER must be floe (the default) or kafkajs, not ${JSON.stringify(encoder)}`);
  }
  installProduceEncoder(); // kafkajs' produce requests, encoded several times faster (kafkajsProduce.ts)
  const write = options.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const level = options.logLevel ?? (process.env.FLOE_KAFKA_LOG || 'warn');
  if (LEVELS[level] === undefined) {
    throw new FloeError('INVALID_ARGUMENT', `FLOE_KAFKA_LOG must be one of ${Object.keys(LEVELS).join(', ')}, not ${JSON.stringify(level)}`);
  }
  const kafka = new Kafka({
    clientId: options.clientId ?? 'floe',
    brokers: options.brokers,
    logLevel: LEVELS[level],
    logCreator: (configured) => (entry: LogEntry) => {
      // kafkajs logs every retried protocol error at ERROR from its Connection; they are
      // transient (a coordinator loading, a leader moving) and retried: only shown at debug.
      if (entry.namespace === 'Connection' && configured < LogLevel.DEBUG) return;
      const { message, ...rest } = entry.log;
      // A seed broker that cannot be reached is retried too: said once, then only at debug.
      const retry = (rest as { retryCount?: number }).retryCount;
      if (entry.namespace === 'BrokerPool' && retry !== undefined && configured < LogLevel.DEBUG) {
        const error = (rest as { error?: string }).error;
        if (retry === 0) write(`kafka: ${message}${error ? ` (${error})` : ''}; retrying for a minute or two`);
        return;
      }
      const extra = ['error', 'groupId', 'topic', 'partition', 'retryCount']
        .filter((k) => (rest as Record<string, unknown>)[k] !== undefined)
        .map((k) => `${k}=${(rest as Record<string, unknown>)[k]}`)
        .join(' ');
      const level = Object.keys(LEVELS).find((k) => LEVELS[k] === entry.level) ?? String(entry.level);
      write(`kafka ${level} [${entry.namespace}] ${message}${extra ? ` (${extra})` : ''}`);
    },
    retry: { initialRetryTime: 300, retries: 8 },
  });
  let admin: Promise<Admin> | undefined;
  const getAdmin = () =>
    (admin ??= (async () => {
      const a = kafka.admin();
      await a.connect();
      return a;
    })());
  const closers = new Set<() => Promise<void>>();

  return {
    brokers: options.brokers,

    async producer({ idempotent = false } = {}): Promise<KafkaProducer> {
      const p = kafka.producer({
        idempotent,
        // kafkajs warns that fewer retries "may invalidate EoS guarantees": retry for as long
        // as it takes (a send waits out a broker restart), as the idempotent producer asks.
        retry: idempotent ? { initialRetryTime: 300, maxRetryTime: 30_000, retries: Number.MAX_SAFE_INTEGER } : undefined,
        maxInFlightRequests: idempotent ? 1 : undefined,
        allowAutoTopicCreation: false,
        // Java-compatible murmur2 partitioning: the same key lands on the same partition as
        // with any other client (and kafkajs does not warn about its changed default).
        createPartitioner: rememberingPartitioner,
      });
      await p.connect();
      const close = () => p.disconnect();
      closers.add(close);
      return {
        async send(topic: string, messages: OutboundMessage[]) {
          // kafkajs puts a send's messages for one partition into one record batch, and the
          // broker refuses a batch over message.max.bytes (1 MiB by default): send in slices.
          for (const slice of slices(messages, SEND_SLICE_BYTES)) await p.send({ topic, acks: -1, messages: slice });
        },
        async close() {
          closers.delete(close);
          await close();
        },
      };
    },

    consumer(o: ConsumerOptions): KafkaConsumer {
      const sessionTimeout = o.sessionTimeoutMs ?? 30_000;
      let stopping = false;
      const c = kafka.consumer({
        groupId: o.groupId,
        sessionTimeout,
        heartbeatInterval: Math.min(3000, Math.floor(sessionTimeout / 10)),
        rebalanceTimeout: Math.max(60_000, 2 * sessionTimeout),
        maxBytesPerPartition: o.maxBytesPerPartition ?? 1 << 20,
        // An idle fetch waits at most this long for data; stopping waits for the fetch in flight.
        maxWaitTimeInMs: 500,
        allowAutoTopicCreation: false,
        retry: { initialRetryTime: 300, retries: 8, restartOnFailure: async () => !stopping },
      });
      let finish: (() => void) | undefined;
      let ahead: FetchAhead | undefined;
      const stop = async () => {
        stopping = true;
        await ahead?.stop(); // the batches handed on finish their chunk in hand and commit it
        await c.disconnect(); // waits for the batch in hand
        finish?.();
      };
      return {
        async run(handler) {
          // A stop may come at any await below, before the consumer runs: it is not run then.
          if (stopping) return;
          // kafkajs would only say "This server does not host this topic-partition".
          const known = new Set(await (await getAdmin()).listTopics());
          const missing = o.topics.filter((t) => !known.has(t));
          if (missing.length) {
            throw new FloeError('UNKNOWN_TOPIC', `topic ${missing.join(', ')} does not exist on ${options.brokers.join(',')} (floe kafka publish creates the topic it writes)`);
          }
          await c.connect();
          if (stopping) return void (await c.disconnect());
          await c.subscribe({ topics: o.topics, fromBeginning: o.fromBeginning ?? true });
          if (stopping) return void (await c.disconnect());
          closers.add(stop);
          if (o.fetchAhead) ahead = new FetchAhead(handler);
          try {
            await new Promise<void>((resolve, reject) => {
              finish = resolve;
              if (ahead) {
                const revoke = () => ahead?.revoke();
                c.on(c.events.REBALANCING, revoke);
                c.on(c.events.GROUP_JOIN, revoke);
              }
              if (o.onAssign) {
                const onAssign = o.onAssign;
                c.on(c.events.GROUP_JOIN, (e) => {
                  const assigned = e.payload.memberAssignment as Record<string, number[]>;
                  onAssign(Object.entries(assigned).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition }))));
                });
              }
              if (o.onRevoke) c.on(c.events.REBALANCING, () => o.onRevoke?.());
              c.on(c.events.CRASH, (e) => {
                ahead?.revoke();
                o.onRevoke?.();
                if (!e.payload.restart && !stopping) reject(e.payload.error);
                else if (!stopping) write(`kafka: consumer ${o.groupId} restarts after: ${e.payload.error.message}`);
              });
              c.run({
                autoCommit: false,
                eachBatchAutoResolve: false,
                partitionsConsumedConcurrently: o.concurrency ?? 1,
                eachBatch: async (p) => {
                  const { topic, partition } = p.batch;
                  const last = p.batch.messages[p.batch.messages.length - 1]?.offset;
                  const inbound = (active: () => boolean): InboundBatch => ({
                    topic,
                    partition,
                    messages: p.batch.messages.map((m) => ({ topic, partition, offset: m.offset, key: m.key, value: m.value, headers: headerBuffers(m.headers) })),
                    heartbeat: () => p.heartbeat(),
                    async commit(offset) {
                      // After the batch's last message, the batch may end in control records (transactions): skip them too.
                      const upTo = offset === last ? p.batch.lastOffset() : offset;
                      if (!ahead) p.resolveOffset(upTo); // with fetch-ahead, resolved when handed over
                      await p.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: (BigInt(upTo) + 1n).toString() }] }] });
                    },
                    active,
                    // kafkajs applies a seek at the next fetch (with autoCommit off, it only moves the fetch position).
                    seek: (offset) => c.seek({ topic, partition, offset }),
                    highWatermark: p.batch.highWatermark,
                  });
                  if (!ahead) return handler(inbound(() => p.isRunning() && !p.isStale()));
                  await ahead.take(p, inbound);
                },
              }).catch(reject);
            });
          } finally {
            closers.delete(stop);
          }
        },
        async rewind(topic, partition, offset) {
          c.seek({ topic, partition, offset });
          await c.commitOffsets([{ topic, partition, offset }]);
        },
        stop,
      };
    },

    async ensureTopics(topics: TopicSpec[]) {
      const a = await getAdmin();
      const existing = new Set(await a.listTopics());
      const missing = topics.filter((t) => !existing.has(t.topic));
      if (missing.length) {
        try {
          // Not kafkajs' waitForLeaders: on a freshly started KRaft broker its metadata poll
          // fails with UNKNOWN_TOPIC_OR_PARTITION, which it does not retry (waitForLeaders below does).
          await a.createTopics({
            waitForLeaders: false,
            topics: missing.map((t) => ({
              topic: t.topic,
              numPartitions: t.partitions ?? -1,
              configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
            })),
          });
        } catch (e) {
          // Created concurrently by another process: fine.
          const errors = (e as { errors?: Array<{ type?: string; topic?: string; message?: string }> }).errors ?? [];
          const failed = errors.filter((x) => x.type !== 'TOPIC_ALREADY_EXISTS');
          if (!errors.length) throw e;
          if (failed.length) {
            const why = failed.map((x) => `${x.topic ?? '?'}: ${x.message ?? x.type}${x.type ? ` (${x.type})` : ''}`).join('; ');
            const invalid = failed.every((x) => x.type === 'INVALID_TOPIC_EXCEPTION' || x.type === 'INVALID_PARTITIONS' || x.type === 'INVALID_CONFIG');
            throw new FloeError(invalid ? 'INVALID_ARGUMENT' : 'KAFKA_TOPIC', `cannot create topic ${why}`);
          }
        }
      }
      await waitForLeaders(a, topics.map((t) => t.topic));
    },

    async groupLag(groupId: string, topic: string) {
      const a = await getAdmin();
      const [ends, groups] = await Promise.all([a.fetchTopicOffsets(topic), a.fetchOffsets({ groupId, topics: [topic] })]);
      const committed = new Map((groups.find((g) => g.topic === topic)?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      let lag = 0n;
      for (const e of ends) {
        const low = BigInt(e.low);
        const done = committed.get(e.partition) ?? -1n;
        const from = done < low ? low : done;
        if (BigInt(e.high) > from) lag += BigInt(e.high) - from;
      }
      return Number(lag);
    },

    async close() {
      for (const close of [...closers]) await close().catch(() => {});
      closers.clear();
      if (admin) await (await admin).disconnect().catch(() => {});
      admin = undefined;
    },
  };
}

type BatchPayload = Parameters<NonNullable<ConsumerRunConfig['eachBatch']>>[0];

/**
 * Fetch-ahead (`ConsumerOptions.fetchAhead`). kafkajs fetches again only once the handlers of
 * every partition it fetched have returned, so a handler that waits on a slow sink (ingest's
 * store appends) leaves the sink idle during each fetch and its decoding. Here eachBatch marks
 * its batch fetched (the next fetch continues after it), queues it behind the partition's
 * batch in progress and returns once that one is done: each partition's next batch is fetched
 * while its current one is handled, and the batches of a partition still run one at a time, in
 * order. The handler commits offsets as before, after its work. When a handler throws, the
 * partition is fetched again from the first offset that batch did not commit (the batch
 * queued behind it is dropped) and the error is thrown from that partition's next eachBatch,
 * so kafkajs' retries and restarts apply as they do without fetch-ahead. A rebalance or a
 * restart drops what is queued (it is fetched again by the partition's next owner).
 */
class FetchAhead {
  private readonly partitions = new Map<string, { tail: Promise<void>; epoch: number; failure?: unknown }>();
  private generation = 0;
  private stopping = false;

  constructor(private readonly handler: (batch: InboundBatch) => Promise<void>) {}

  /** Every partition is being revoked (eager rebalance, restart): what is queued is dropped, the batch in hand stops at its next chunk. */
  revoke(): void {
    this.generation++;
  }

  /** Let the batches in hand finish (each stops after its current chunk); nothing new starts. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.partitions.values()].map((p) => p.tail));
  }

  async take(p: BatchPayload, inbound: (active: () => boolean) => InboundBatch): Promise<void> {
    if (this.stopping) return; // not marked fetched: whoever owns the partition next fetches it
    const { topic, partition } = p.batch;
    const key = `${topic}\0${partition}`;
    const state = this.partitions.get(key) ?? { tail: Promise.resolve(), epoch: 0 };
    this.partitions.set(key, state);
    // A failure no eachBatch was waiting for: this batch was fetched after the seek back, and
    // is not marked fetched, so it comes again after kafkajs' retry.
    this.raise(state);
    const { epoch } = state;
    const generation = this.generation;
    const active = () => !this.stopping && this.generation === generation && state.epoch === epoch && p.isRunning();
    const batch = inbound(active);
    let resume = p.batch.messages[0].offset; // kafkajs hands over no empty batch
    const tracked: InboundBatch = {
      ...batch,
      async commit(offset) {
        await batch.commit(offset);
        resume = (BigInt(offset) + 1n).toString();
      },
    };
    p.resolveOffset(p.batch.lastOffset());
    const previous = state.tail;
    state.tail = previous.then(async () => {
      if (!active()) return;
      try {
        await this.handler(tracked);
      } catch (e) {
        if (state.epoch !== epoch || this.generation !== generation) return; // superseded: the next owner fetches it again
        state.epoch++;
        batch.seek(resume);
        state.failure = e;
      }
    });
    await previous;
    this.raise(state);
  }

  private raise(state: { failure?: unknown }): void {
    if (state.failure === undefined) return;
    const e = state.failure;
    state.failure = undefined;
    throw e;
  }
}

/** Until every partition of `topics` has a leader (a new topic's metadata takes a moment to spread). */
async function waitForLeaders(a: Admin, topics: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let why: string;
    try {
      const md = await a.fetchTopicMetadata({ topics });
      const waiting = md.topics.filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0));
      if (!waiting.length) return;
      why = `no leader yet for ${waiting.map((t) => t.name).join(', ')}`;
    } catch (e) {
      why = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`Kafka topics ${topics.join(', ')} not ready after ${timeoutMs} ms: ${why}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
