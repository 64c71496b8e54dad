/**
 * The event store contract (DESIGN §4). Backends live below this folder
 * (`streams/postgres/`); nothing above `streams/` knows which one runs.
 *
 * @example
 *   const r = await store.append([{ type: 'email.opened', tenantId: 't1',
 *     occurredAt: '2026-03-01T10:00:00.000Z', data: { emailId: 'e1' } }]);
 *   for await (const batch of store.readAll({ from: 0n })) handle(batch);
 */
import type { EventInput, RecordedEvent } from './envelope';

/** What a stream must look like before an append: its last stream position, or a rule. */
export type ExpectedVersion = number | 'no_stream' | 'stream_exists' | 'any';

export interface AppendOptions {
  /** Applies to every stream of the call, checked before its first event in the call. */
  expectedVersion?: ExpectedVersion;
  /** Runs inside the append transaction just before COMMIT (tests use it to vary transaction length). */
  beforeCommit?: () => Promise<void>;
}

/** An input event, optionally with the expected version of its stream just before it. */
export type AppendInput = EventInput & { expectedVersion?: ExpectedVersion };

export interface AppendResult {
  /** Events stored by this call. */
  appended: number;
  /** Events whose id was already stored with the same content (or repeated in the call). */
  duplicates: number;
  /** Global positions of the first and last stored event; null when nothing was stored. */
  firstPosition: bigint | null;
  lastPosition: bigint | null;
  /** Per input event: its position, or `duplicate`. */
  results: Array<{ id: string; position: bigint | 'duplicate'; stream: string; streamPosition: number | null }>;
}

export interface ReadOptions {
  /** Exclusive lower bound: events with a greater global position. Default 0 (everything). */
  after?: bigint;
  limit?: number;
  stream?: string;
  tenant?: string;
  typePrefix?: string;
  /** Only events of these exact types (or, with `typePrefixes`, of one of those families). */
  types?: readonly string[];
  /** Only events whose type starts with one of these (`email.`); with `types`, either matches. */
  typePrefixes?: readonly string[];
  /** Only tenants with hash(tenantId) % shards.count = shards.index. */
  shard?: { count: number; index: number };
}

export interface StoreHead {
  /** Global position of the newest event, 0n when empty. */
  position: bigint;
  count: number;
}

export interface Subscription {
  /** Stops following; resolves when the handler is no longer running. */
  stop(): Promise<void>;
  /** Resolves when the subscription ends (stopped, or failed with the handler's error). */
  done: Promise<void>;
}

export interface SubscribeOptions extends Omit<ReadOptions, 'limit'> {
  batchSize?: number;
  /** Polling interval when no notification arrives, in ms. */
  pollMs?: number;
  /** Called once the subscription has read everything stored when it was caught up. */
  onCaughtUp?: () => void;
}

export interface EventStore {
  append(events: AppendInput[], options?: AppendOptions): Promise<AppendResult>;
  /** One page of events in global order. */
  read(options?: ReadOptions): Promise<RecordedEvent[]>;
  /** Every matching event in global order, page by page. */
  readAll(options?: ReadOptions & { batchSize?: number }): AsyncIterable<RecordedEvent[]>;
  head(): Promise<StoreHead>;
  /** Catch up from `after`, then follow live; the handler gets batches in global order. */
  subscribe(options: SubscribeOptions, handler: (batch: RecordedEvent[]) => Promise<void>): Subscription;
  close(): Promise<void>;
}
