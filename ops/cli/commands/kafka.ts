/** `floe kafka produce`, `floe kafka ingest` and `floe kafka publish`: the Kafka transport (streams/kafka/). */
import { headPosition } from '../../../streams/postgres/read';
import { DEFAULT_EVENTS_TOPIC, DEFAULT_INGEST_CHUNK, DEFAULT_INGEST_TOPIC, DEFAULT_PARTITIONS_AT_ONCE, dlqTopicOf, ingest, IngestStats, publish } from '../../../streams/kafka';
import { openKafka } from '../../kafka/brokers';
import { Command, intOption, stringOption, toJson, UsageError } from '../args';
import { checkInputFile, readLines } from '../lines';
import { openContext } from '../context';
import { Progress } from '../progress';
import { catchStopsDuring, untilStopped } from '../signals';

const KAFKA_ENV = `
Kafka: KAFKA_BROKERS=host:port[,…]; without it, the development broker of
ops/kafka/broker when it runs (ops/kafka/broker start).`;

/** Messages per send of `floe kafka produce`. */
const PRODUCE_BATCH = 1000;

export const kafkaProduce: Command = {
  usage: 'kafka produce FILE|- [--topic T] [--partitions P] [--json]',
  positionals: 1,
  summary: 'Send NDJSON events (as floe append takes them) to a Kafka topic (floe.ingest), as a producer would',
  options: { topic: { type: 'string' }, partitions: { type: 'string' }, json: { type: 'boolean' } },
  help: `
Sends each non-empty line of FILE (- for stdin) as one JSON message to TOPIC (default
${DEFAULT_INGEST_TOPIC}), the form floe kafka ingest reads: the line is the message value as it
is, and its tenantId is the key (so a tenant's events keep their order on one partition; a
line that is not JSON gets no key). Nothing is checked here: that is floe kafka ingest's job,
which sends what it refuses to the dead-letter topic with the reason. What a tracking
producer does, for trying ingest out: floe generate --emails 1000 | floe kafka produce -
Idempotent producer, acks from all in-sync replicas, ${PRODUCE_BATCH.toLocaleString('en-US')} messages a send.

  --partitions P   partitions when the topic is created (default: the broker's num.partitions)
  --json           print one JSON line at the end: {"produced","topic","seconds"}
${KAFKA_ENV}
Exit codes: 0 done, 1 failure, 2 usage.`,
  async run(p, io) {
    const file = p.positionals[0];
    if (!file) throw new UsageError('kafka produce needs a file of NDJSON events, or - for stdin');
    const topic = stringOption(p, 'topic') ?? DEFAULT_INGEST_TOPIC;
    const partitions = p.values.partitions === undefined ? undefined : intOption(p, 'partitions', 1, 1);
    checkInputFile(file);
    const kafka = openKafka((l) => io.err(l), 'floe-produce');
    const started = Date.now();
    let produced = 0;
    try {
      await kafka.ensureTopics([{ topic, partitions }]);
      const producer = await kafka.producer({ idempotent: true });
      try {
        let batch: Array<{ key: string | null; value: string }> = [];
        const send = async () => {
          await producer.send(topic, batch);
          produced += batch.length;
          batch = [];
        };
        for await (const line of readLines(file)) {
          batch.push({ key: tenantOf(line.text), value: line.text });
          if (batch.length === PRODUCE_BATCH) await send();
        }
        if (batch.length) await send();
      } finally {
        await producer.close();
      }
      const seconds = Number(((Date.now() - started) / 1000).toFixed(3));
      if (p.values.json) io.out(toJson({ produced, topic, seconds }));
      else io.err(`produced ${produced.toLocaleString('en-US')} messages to ${topic} in ${seconds.toFixed(1)} s`);
      return 0;
    } finally {
      await kafka.close();
    }
  },
};

/** The tenantId of an NDJSON line, or null when it has none (the broker then picks a partition). */
function tenantOf(text: string): string | null {
  try {
    const o = JSON.parse(text) as { tenantId?: unknown };
    return typeof o?.tenantId === 'string' ? o.tenantId : null;
  } catch {
    return null;
  }
}

export const kafkaIngest: Command = {
  usage: 'kafka ingest [--topic T] [--dlq-topic D] [--group G] [--batch-size N] [--concurrency N] [--session-timeout-ms MS] [--until-idle] [--json]',
  summary: 'Append the events of a Kafka topic (floe.ingest) to the store, as a consumer group',
  options: {
    topic: { type: 'string' },
    'dlq-topic': { type: 'string' },
    group: { type: 'string' },
    'batch-size': { type: 'string' },
    concurrency: { type: 'string' },
    'session-timeout-ms': { type: 'string' },
    'until-idle': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  help: `
Consumes TOPIC (default ${DEFAULT_INGEST_TOPIC}) in consumer group G (default floe-ingest; run
several processes with the same group to share the partitions). Each message is one event:
  JSON  the value is an envelope as in a floe append line:
        {"id"?, "type", "tenantId", "occurredAt", "data": {...}, "metadata"?, "stream"?,
         "expectedVersion"?}
  Avro  the value is the payload in Avro single-object encoding (C3 01 + fingerprint + body,
        the writer schema registered in floe.event_schemas); the envelope is in headers:
        floe-type, floe-tenant, floe-occurred-at; optional floe-event-id, floe-stream,
        floe-metadata (JSON object)
Valid events are appended in batches of at most N (--batch-size, default ${DEFAULT_INGEST_CHUNK}); the
partition's offset is committed only after the append committed. --concurrency C partitions
(default ${DEFAULT_PARTITIONS_AT_ONCE}) are handled at once, each with its own appends, which queue on the store's
append lock: the server goes from one append to the next while the others fetch, decode and
commit offsets. A message without an id gets one derived from
(topic, partition, offset), so a redelivery after a crash is a duplicate, not a new event.
Undecodable or invalid messages, a stored id reused for other content and a missed
expectedVersion go to the dead-letter topic unchanged, with headers floe-error (the reason),
floe-error-code, floe-source-topic/-partition/-offset, floe-failed-at.

  --dlq-topic D  the dead-letter topic (default TOPIC.dlq)
  --session-timeout-ms MS
                 the group drops a member silent for this long (default 30000; the broker's
                 minimum is 6000); a killed process's partitions wait that long for a new owner
  --until-idle   stop once the group has committed every message of the topic
  --json         print one JSON line at the end:
                 {"messages","appended","duplicates","deadLettered","chunks","seconds"}
Runs until Ctrl-C/SIGTERM otherwise (the batch in hand is finished and committed).
${KAFKA_ENV}
Exit codes: 0 done or stopped, 1 failure, 2 usage.`,
  async run(p, io) {
    const topic = stringOption(p, 'topic') ?? DEFAULT_INGEST_TOPIC;
    const dlqTopic = stringOption(p, 'dlq-topic') ?? dlqTopicOf(topic);
    const groupId = stringOption(p, 'group') ?? 'floe-ingest';
    const chunkSize = intOption(p, 'batch-size', DEFAULT_INGEST_CHUNK, 1);
    const partitionsAtOnce = intOption(p, 'concurrency', DEFAULT_PARTITIONS_AT_ONCE, 1);
    const sessionTimeoutMs = intOption(p, 'session-timeout-ms', 30_000, 6000);
    if (dlqTopic === topic) throw new UsageError(`--dlq-topic ${dlqTopic} is the topic read: a dead letter would be read again, forever`);
    const kafka = openKafka((l) => io.err(l), 'floe-ingest');
    const [ctx, stops] = await catchStopsDuring(() => openContext((m) => io.err(m), { poolSize: partitionsAtOnce + 1 }));
    const started = Date.now();
    const progress = io.tty && !p.values.json ? new Progress('ingest', io.err) : undefined;
    let seen = 0;
    try {
      const stats = await untilStopped(
        (signal) => {
          io.err(`ingesting ${topic} as group ${groupId} from ${kafka.brokers.join(',')} (dead letters to ${dlqTopic})`);
          return ingest({
            transport: kafka,
            store: ctx.store,
            catalog: ctx.store.catalog,
            payloads: ctx.store.schemas,
            topic,
            dlqTopic,
            groupId,
            chunkSize,
            partitionsAtOnce,
            sessionTimeoutMs,
            untilIdle: p.values['until-idle'] === true,
            signal,
            log: (l) => io.err(l),
            onChunk: (s) => {
              progress?.tick(s.messages - seen);
              seen = s.messages;
            },
            beforeCommit: testKillHook(),
          });
        },
        () => io.err('stopping after the current batch…'),
        stops,
      );
      progress?.done();
      const seconds = Number(((Date.now() - started) / 1000).toFixed(3));
      if (p.values.json) io.out(toJson({ ...stats, seconds }));
      else {
        io.err(
          `ingested ${stats.messages.toLocaleString('en-US')} messages in ${seconds.toFixed(1)} s: ${stats.appended} appended, ` +
            `${stats.duplicates} duplicates, ${stats.deadLettered} dead-lettered to ${dlqTopic}`,
        );
      }
      return 0;
    } finally {
      await kafka.close();
      await ctx.close();
    }
  },
};

/**
 * Fault tests only (FLOE_TEST=1): FLOE_KAFKA_TEST_KILL_BEFORE_COMMIT=N SIGKILLs the process
 * after its N-th append committed and before that chunk's offsets are committed: the worst
 * moment for exactly-once.
 */
function testKillHook(): ((s: IngestStats) => void) | undefined {
  const n = Number(process.env.FLOE_KAFKA_TEST_KILL_BEFORE_COMMIT ?? 0);
  if (process.env.FLOE_TEST !== '1' || !(n > 0)) return undefined;
  return (s) => {
    if (s.chunks >= n) process.kill(process.pid, 'SIGKILL');
  };
}

export const kafkaPublish: Command = {
  usage: 'kafka publish [--topic T] [--batch-size N] [--partitions P] [--until-caught-up] [--json]',
  summary: 'Publish the committed event log, in order, to a Kafka topic (floe.events)',
  options: {
    topic: { type: 'string' },
    'batch-size': { type: 'string' },
    partitions: { type: 'string' },
    'until-caught-up': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  help: `
Sends every stored event, in global order, to TOPIC (default ${DEFAULT_EVENTS_TOPIC}), then follows
new events live until Ctrl-C/SIGTERM. One message per event: key = tenant id (a tenant's events
share a partition, in store order), value = the stored Avro single-object bytes (decode with the
writer schema in floe.event_schemas found by the fingerprint in bytes 2..9), headers floe-type,
floe-event-id, floe-position, floe-stream, floe-tenant, floe-occurred-at, floe-recorded-at
(and floe-metadata). Idempotent producer, acks from all in-sync replicas.

The last published position is kept in floe.kafka_publish_checkpoints and advanced after the
broker acknowledged each batch. Delivery is at-least-once: after a crash the last batch may be
sent again, so consumers deduplicate by floe-event-id. One publisher per topic at a time.

  --batch-size N      events per send and checkpoint (default 5000)
  --partitions P      partitions when the topic is created (default: the broker's num.partitions)
  --until-caught-up   stop once everything stored has been published
  --json              print one JSON line at the end: {"published","batches","position","seconds"}
${KAFKA_ENV}
Exit codes: 0 done or stopped, 1 failure (e.g. another publisher runs for the topic), 2 usage.`,
  async run(p, io) {
    const topic = stringOption(p, 'topic') ?? DEFAULT_EVENTS_TOPIC;
    const batchSize = intOption(p, 'batch-size', 5000, 1);
    const partitions = p.values.partitions === undefined ? undefined : intOption(p, 'partitions', 1, 1);
    const kafka = openKafka((l) => io.err(l), 'floe-publish');
    const [ctx, stops] = await catchStopsDuring(() => openContext((m) => io.err(m), { poolSize: 2 }));
    const started = Date.now();
    try {
      // The log is kept forever: a shard whose next message was deleted cannot go on (KAFKA_GAP).
      await kafka.ensureTopics([{ topic, partitions, config: { 'retention.ms': '-1' } }]);
      const producer = await kafka.producer({ idempotent: true });
      const head = await headPosition(ctx.pool);
      const progress = io.tty && !p.values.json ? new Progress('publish', io.err) : undefined;
      let sent = 0;
      let caughtUpSaid = false;
      const untilCaughtUp = p.values['until-caught-up'] === true;
      const stats = await untilStopped(
        (signal) =>
          publish({
            url: ctx.url,
            pool: ctx.pool,
            producer,
            topic,
            batchSize,
            untilCaughtUp,
            signal,
            onBatch: (s) => {
              progress?.tick(s.published - sent);
              sent = s.published;
              if (!untilCaughtUp && !caughtUpSaid && s.position >= head) {
                caughtUpSaid = true;
                io.err(`caught up at position ${s.position}; following live (Ctrl-C to stop)`);
              }
            },
          }),
        () => io.err('stopping after the current batch…'),
        stops,
      );
      progress?.done();
      const seconds = Number(((Date.now() - started) / 1000).toFixed(3));
      if (p.values.json) io.out(toJson({ ...stats, seconds }));
      else io.err(`published ${stats.published.toLocaleString('en-US')} events to ${topic} in ${seconds.toFixed(1)} s; checkpoint at position ${stats.position}`);
      return 0;
    } finally {
      await kafka.close();
      await ctx.close();
    }
  },
};
