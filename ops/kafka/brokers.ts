/**
 * Which Kafka cluster Floe talks to: `KAFKA_BROKERS` (comma-separated host:port), else the
 * development broker of `ops/kafka/broker` when it is running.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { FloeError } from '../../schemas/errors';
import { kafkajsTransport, KafkaTransport } from '../../streams/kafka';

export const BROKER_SCRIPT = path.join(__dirname, 'broker');

/** The brokers, or undefined when none is configured or running. */
export function kafkaBrokers(): string[] | undefined {
  const env = process.env.KAFKA_BROKERS?.trim();
  if (env) return env.split(',').map((s) => s.trim()).filter(Boolean);
  const r = spawnSync('bash', [BROKER_SCRIPT, 'status'], { encoding: 'utf8' });
  const addr = r.status === 0 ? r.stdout.trim() : '';
  return addr ? [addr] : undefined;
}

/** The Kafka client of a CLI command (STYLE: clients are built in ops/ and handed down). */
export function openKafka(log: (line: string) => void, clientId = 'floe'): KafkaTransport {
  const brokers = kafkaBrokers();
  if (!brokers) {
    throw new FloeError('KAFKA_NOT_CONFIGURED', 'no Kafka: set KAFKA_BROKERS=host:port[,…], or start the development broker with ops/kafka/broker start');
  }
  return kafkajsTransport({ brokers, clientId, log });
}
