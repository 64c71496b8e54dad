/**
 * Floe's Kafka message formats.
 *
 * `floe.ingest` accepts two forms of a message (DESIGN §7):
 *   - JSON: the value is one envelope as in an `floe append` line,
 *     {"id"?, "type", "tenantId", "occurredAt", "data", "metadata"?, "stream"?, "expectedVersion"?}
 *   - Avro: the value is the payload in Avro single-object encoding (C3 01, the CRC-64-AVRO
 *     fingerprint of a writer schema registered in floe.event_schemas, the binary body), and
 *     the envelope is in headers: floe-type, floe-tenant, floe-occurred-at (required),
 *     floe-event-id, floe-stream, floe-metadata (a JSON object) (optional).
 *   A value starting with the bytes C3 01 is Avro; anything else is read as JSON.
 *
 * `floe.events` messages are the stored events: key = tenant id, value = the stored Avro
 * single-object bytes, headers floe-type, floe-event-id, floe-position, floe-stream,
 * floe-tenant, floe-occurred-at, floe-recorded-at (and floe-metadata when the event has
 * some). Such a message is itself a valid Avro ingest message for the same event.
 *
 * A message `floe.ingest` cannot take goes to `floe.ingest.dlq` unchanged (key, value,
 * headers), with floe-error (the reason), floe-error-code, floe-source-topic,
 * floe-source-partition, floe-source-offset and floe-failed-at added.
 */
import { createHash } from 'node:crypto';

export const DEFAULT_INGEST_TOPIC = 'floe.ingest';
export const DEFAULT_EVENTS_TOPIC = 'floe.events';
export const dlqTopicOf = (topic: string) => `${topic}.dlq`;

export const H = {
  type: 'floe-type',
  tenant: 'floe-tenant',
  occurredAt: 'floe-occurred-at',
  recordedAt: 'floe-recorded-at',
  eventId: 'floe-event-id',
  stream: 'floe-stream',
  position: 'floe-position',
  metadata: 'floe-metadata',
  error: 'floe-error',
  errorCode: 'floe-error-code',
  sourceTopic: 'floe-source-topic',
  sourcePartition: 'floe-source-partition',
  sourceOffset: 'floe-source-offset',
  failedAt: 'floe-failed-at',
} as const;

/** A header as text (Floe's headers are UTF-8), or undefined when absent. */
export function headerText(headers: Record<string, Buffer | undefined>, name: string): string | undefined {
  const v = headers[name];
  return v === undefined ? undefined : v.toString('utf8');
}

/**
 * Namespace of the ids Floe gives id-less ingest messages (UUIDv5, RFC 9562 §5.5):
 * uuidv5(INGEST_ID_NAMESPACE, `${topic}/${partition}/${offset}`). Any client can compute it.
 */
export const INGEST_ID_NAMESPACE = '7d1f3c52-4a0e-4f5b-9c1e-f10e0a6c2b11';

/** The deterministic id of an id-less message: the same message redelivered gets the same id. */
export function ingestEventId(topic: string, partition: number, offset: string): string {
  return uuidv5(INGEST_ID_NAMESPACE, `${topic}/${partition}/${offset}`);
}

export function uuidv5(namespace: string, name: string): string {
  const h = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.toString('hex', 0, 16);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
