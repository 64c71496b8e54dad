/**
 * Kafka transport (DESIGN §7): `floe.ingest` → store (ingest.ts), store → `floe.events`
 * (publish.ts), message formats (messages.ts), behind a small client contract
 * (transport.ts) implemented on kafkajs (kafkajs.ts).
 */
export * from './transport';
export { kafkajsTransport } from './kafkajs';
export type { KafkajsOptions } from './kafkajs';
export { decodeIngestMessage } from './decode';
export type { Decoded, PayloadDecoder } from './decode';
export { DEFAULT_INGEST_CHUNK, DEFAULT_PARTITIONS_AT_ONCE, ingest } from './ingest';
export type { IngestOptions, IngestStats } from './ingest';
export { publish } from './publish';
export type { PublishOptions, PublishStats } from './publish';
export { DEFAULT_EVENTS_TOPIC, DEFAULT_INGEST_TOPIC, dlqTopicOf, H as HEADERS, headerText, ingestEventId, INGEST_ID_NAMESPACE, uuidv5 } from './messages';
