/**
 * A real Kafka broker for the tests: KAFKA_BROKERS when set (CI starts ops/kafka/broker and
 * sets it), else `ops/kafka/broker start` once per run, stopped when the run exits if this
 * helper started it. Without Java/Maven (or any broker) the Kafka suites are skipped with a
 * loud line, unless FLOE_REQUIRE includes kafka: then the run fails.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
// Floe's transport first, as in the CLI: it replaces a kafkajs module before kafkajs loads it.
import { kafkajsTransport } from '../../streams/kafka';
import { Kafka, KafkaMessage, logLevel, Partitioners, Producer } from 'kafkajs';
import { BROKER_SCRIPT } from '../../ops/kafka/brokers';
import { isRequired } from '../../ops/required';


let brokers: Promise<string[] | undefined> | undefined;

function startBroker(): string[] | undefined {
  const env = process.env.KAFKA_BROKERS?.trim();
  if (env) return env.split(',').map((s) => s.trim());
  const wasRunning = spawnSync('bash', [BROKER_SCRIPT, 'status'], { encoding: 'utf8' }).status === 0;
  const r = spawnSync('bash', [BROKER_SCRIPT, 'start'], { encoding: 'utf8', timeout: 600_000 });
  const addr = r.stdout?.trim();
  if (r.status !== 0 || !addr) {
    const why = (r.stderr || r.error?.message || 'unknown error').trim().split('\n').slice(-5).join(' | ');
    if (isRequired('kafka')) throw new Error(`FLOE_REQUIRE includes kafka, but ops/kafka/broker could not start a broker: ${why}`);
    console.error(`\n!!! SKIPPING Kafka suites: no KAFKA_BROKERS and ops/kafka/broker could not start one (${why})\n`);
    return undefined;
  }
  if (!wasRunning) process.on('exit', () => spawnSync('bash', [BROKER_SCRIPT, 'stop'], { stdio: 'ignore' }));
  return [addr];
}

/** The brokers of this run, or undefined when there is no Kafka. */
export function kafkaBrokers(): Promise<string[] | undefined> {
  brokers ??= Promise.resolve().then(startBroker);
  return brokers;
}

export interface KafkaHandle {
  brokers: string[];
  /** A plain kafkajs client, as an independent producer or consumer would use. */
  kafka: Kafka;
  /** A topic or group name unique to this run: `${prefix}.${random}`. */
  unique(prefix: string): string;
  /** A connected plain producer (Java-compatible partitioner). */
  producer(): Promise<Producer>;
  createTopic(topic: string, partitions: number): Promise<void>;
  /** Read `topic` from the beginning in a fresh group until `count` messages arrived (or fail after `timeoutMs`). */
  consume(topic: string, count: number, timeoutMs?: number): Promise<Array<KafkaMessage & { partition: number }>>;
}

/**
 * Kafka for one suite (call inside describe()); skips the suite when there is none.
 * @example
 *   const k = useKafka();
 *   it('…', async () => { const topic = k.unique('ingest'); await k.createTopic(topic, 3); … });
 */
export function useKafka(): KafkaHandle {
  const cleanups: Array<() => Promise<void>> = [];
  const handle: KafkaHandle = {
    brokers: [] as string[],
    kafka: undefined as unknown as Kafka,
    unique: (prefix: string) => `${prefix}.${randomBytes(4).toString('hex')}`,
    async producer() {
      const p = handle.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await p.connect();
      cleanups.push(() => p.disconnect());
      return p;
    },
    async createTopic(topic: string, partitions: number) {
      const t = kafkajsTransport({ brokers: handle.brokers, logLevel: 'nothing' });
      try {
        await t.ensureTopics([{ topic, partitions }]);
      } finally {
        await t.close();
      }
    },
    async consume(topic: string, count: number, timeoutMs = 60_000) {
      const got: Array<KafkaMessage & { partition: number }> = [];
      const c = handle.kafka.consumer({ groupId: handle.unique('floe-test-reader'), sessionTimeout: 10_000, heartbeatInterval: 1000 });
      await c.connect();
      try {
        await c.subscribe({ topics: [topic], fromBeginning: true });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${topic}: ${got.length} of ${count} messages after ${timeoutMs} ms`)), timeoutMs);
          if (count === 0) setTimeout(() => (clearTimeout(timer), resolve()), 3000);
          c.run({
            eachMessage: async ({ partition, message }) => {
              got.push({ ...message, partition });
              if (got.length >= count && count > 0) {
                clearTimeout(timer);
                resolve();
              }
            },
          }).catch(reject);
        });
      } finally {
        await c.disconnect();
      }
      return got;
    },
  };
  before(async function () {
    this.timeout(600_000);
    const b = await kafkaBrokers();
    if (!b) return this.skip();
    handle.brokers = b;
    handle.kafka = new Kafka({ clientId: 'floe-test', brokers: b, logLevel: logLevel.NOTHING });
  });
  after(async () => {
    for (const c of cleanups.splice(0)) await c().catch(() => {});
  });
  return handle;
}
