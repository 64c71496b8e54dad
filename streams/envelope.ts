/**
 * The event envelope (DESIGN §3): what producers send (`EventInput`), what the store
 * keeps and hands back (`RecordedEvent`), and how a stream name follows from the type.
 */

/** Optional tracing fields carried with an event. */
export interface EventMetadata {
  correlationId?: string;
  causationId?: string;
  source?: string;
  [key: string]: unknown;
}

/** One event as a producer appends it (one NDJSON line). */
export interface EventInput {
  /** UUID chosen by the producer, the idempotency key. Floe assigns a UUIDv7 when absent. */
  id?: string;
  type: string;
  tenantId: string;
  /** ISO-8601 event time, with milliseconds. */
  occurredAt: string;
  data: Record<string, unknown>;
  metadata?: EventMetadata | null;
  /** Derived from type and ids when absent. */
  stream?: string;
}

/** One stored event, with its payload decoded to the current reader schema. */
export interface RecordedEvent<D = Record<string, unknown>> {
  id: string;
  type: string;
  stream: string;
  tenantId: string;
  occurredAt: Date;
  recordedAt: Date;
  /** Global position: strictly increasing in read order. */
  position: bigint;
  /** 0-based position in its stream. */
  streamPosition: number;
  data: D;
  metadata: EventMetadata | null;
  /** Schema version of the writer schema the payload was encoded with. */
  schemaVersion: number;
}

/**
 * A stored event as the projection runtime reads it: everything but when it was recorded,
 * which no fold uses (leaving the column out spares parsing a timestamp per event).
 */
export type StoredEvent<D = Record<string, unknown>> = Omit<RecordedEvent<D>, 'recordedAt'>;

/** Store order (by global position), for `Array.prototype.sort`. */
export const byPosition = (a: { position: bigint }, b: { position: bigint }): number => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0);

const STREAM_RULES: Array<[prefix: string, build: (tenantId: string, data: Record<string, unknown>) => unknown]> = [
  ['email.', (_t, d) => d.emailId !== undefined && d.emailId !== null && `email-${d.emailId}`],
  ['warmup.', (_t, d) => d.mailboxId !== undefined && d.mailboxId !== null && `mailbox-${d.mailboxId}`],
  ['mailbox.', (_t, d) => d.mailboxId !== undefined && d.mailboxId !== null && `mailbox-${d.mailboxId}`],
  ['campaign.', (_t, d) => d.campaignId !== undefined && d.campaignId !== null && `campaign-${d.campaignId}`],
  ['sequence_step.', (_t, d) => d.campaignId !== undefined && d.campaignId !== null && `campaign-${d.campaignId}`],
  ['lead.', (_t, d) => d.leadId !== undefined && d.leadId !== null && `lead-${d.leadId}`],
  ['tenant.', (t) => `tenant-${t}`],
  ['subscription.', (t) => `tenant-${t}`],
  ['company.', (t) => `tenant-${t}`],
  ['domain.', (t) => `tenant-${t}`],
  ['admin.', (t) => `admin-${t}`],
  ['billing.', (t) => `admin-${t}`],
];

/**
 * The stream an event belongs to, from its type and ids (DESIGN §3):
 * `email.*` → `email-{emailId}`, `warmup.*`/`mailbox.*` → `mailbox-{mailboxId}`, ...
 * Returns undefined when the id the rule needs is missing (validation reports it).
 */
export function streamFor(type: string, tenantId: string, data: Record<string, unknown>): string | undefined {
  for (const [prefix, build] of STREAM_RULES) {
    if (type.startsWith(prefix)) {
      const s = build(tenantId, data);
      return typeof s === 'string' ? s : undefined;
    }
  }
  return undefined;
}
