/**
 * The Kafka transport contract: what Floe's ingest and publish need from a Kafka client,
 * and nothing more, so the client (kafkajs today, `streams/kafka/kafkajs.ts`) can be swapped.
 *
 * @example
 *   const kafka = kafkajsTransport({ brokers: ['127.0.0.1:9092'] });
 *   const producer = await kafka.producer({ idempotent: true });
 *   await producer.send('floe.events', [{ key: 't1', value: bytes, headers: { 'floe-type': 'email.opened' } }]);
 */

/** A message as read from a partition. Header values are raw bytes (UTF-8 text for Floe's headers). */
export interface InboundMessage {
  topic: string;
  partition: number;
  /** Decimal string (offsets are int64). */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | undefined>;
}

export interface OutboundMessage {
  key?: string | Buffer | null;
  value: Buffer | string | null;
  headers?: Record<string, string | Buffer>;
}

/** Some consecutive messages of one partition, handed to a consumer's handler. */
export interface InboundBatch {
  topic: string;
  partition: number;
  messages: InboundMessage[];
  /** Tells the group coordinator this member is alive (a no-op if one was sent recently). Throws while the group rebalances. */
  heartbeat(): Promise<void>;
  /** Everything up to and including `offset` is done: commit the next offset for the group. */
  commit(offset: string): Promise<void>;
  /** False once the consumer is stopping, the partition is no longer this member's, or after `seek`. */
  active(): boolean;
  /**
   * Fetch this partition from `offset` next (the rest of this batch is dropped: return from
   * the handler). For consumers that keep their offsets elsewhere, e.g. with their effects.
   */
  seek(offset: string): void;
  /** The partition's end (the offset the next produced message gets) when this batch was fetched. */
  highWatermark: string;
}

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  /** Where a group without a committed offset starts: the oldest message (default) or new ones only. */
  fromBeginning?: boolean;
  /** The coordinator drops a member it has not heard from for this long (default 30 s). */
  sessionTimeoutMs?: number;
  /** Upper bound of one fetch per partition, which bounds a batch (default 1 MiB). */
  maxBytesPerPartition?: number;
  /** Batches of different partitions handled at once (default 1). */
  concurrency?: number;
  /**
   * Fetch a partition's next batch while its current one is handled (default false). For
   * handlers that commit their own offsets and never `seek`: a batch's messages count as
   * fetched once it is handed over, and a handler that throws has the partition fetched
   * again from the first offset it did not commit.
   */
  fetchAhead?: boolean;
  /**
   * Called when this member (re)joins the group, with the partitions it now owns. Every
   * rebalance revokes all partitions first (eager), so anything kept per partition is stale.
   */
  onAssign?: (partitions: Array<{ topic: string; partition: number }>) => void;
  /** Called when the group starts rebalancing or the consumer restarts after a crash: every partition is being revoked. */
  onRevoke?: () => void;
}

export interface KafkaConsumer {
  /**
   * Join the group and hand batches to `handler`, one partition at a time; a handler that
   * throws gets its batch again (from the last committed offset). Resolves when stopped;
   * rejects when the consumer crashed for good.
   */
  run(handler: (batch: InboundBatch) => Promise<void>): Promise<void>;
  /**
   * Fetch this member's `partition` of `topic` from `offset` next and commit that offset for
   * the group, so its lag says what is left from there. For consumers that keep their offsets
   * elsewhere, when they are given a partition (not with `fetchAhead`).
   */
  rewind(topic: string, partition: number, offset: string): Promise<void>;
  /** Finish the batch in hand, leave the group, disconnect. */
  stop(): Promise<void>;
}

/** A consumer's stop, asked for once by whoever asks first: `stop()`, or the signal (`stopOnAbort`). */
export interface ConsumerStop {
  stop(): Promise<void>;
  /** The stop asked for, if any. */
  readonly stopping: Promise<void> | undefined;
  /** Let go of the signal. */
  release(): void;
}

/** Stop `consumer` when `signal` aborts, or at once if it has: a stop that came first (while the command started) means the consumer never runs. */
export function stopOnAbort(consumer: KafkaConsumer, signal: AbortSignal | undefined): ConsumerStop {
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= consumer.stop());
  const onAbort = () => void stop();
  signal?.addEventListener('abort', onAbort);
  if (signal?.aborted) onAbort();
  return {
    stop,
    get stopping() {
      return stopping;
    },
    release: () => signal?.removeEventListener('abort', onAbort),
  };
}

export interface KafkaProducer {
  /** Resolves once every message is acknowledged by all in-sync replicas (acks = -1). */
  send(topic: string, messages: OutboundMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface TopicSpec {
  topic: string;
  /** Default: the broker's num.partitions. */
  partitions?: number;
  /** Topic configuration when the topic is created (e.g. `retention.ms`); an existing topic is left as it is. */
  config?: Record<string, string>;
}

export interface KafkaTransport {
  /** Brokers, for messages ("127.0.0.1:9092,…"). */
  readonly brokers: string[];
  producer(options?: { idempotent?: boolean }): Promise<KafkaProducer>;
  consumer(options: ConsumerOptions): KafkaConsumer;
  /** Create the topics that do not exist yet (idempotent, safe from many processes). */
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  /** Messages of `topic` the group has not committed yet, over all partitions. */
  groupLag(groupId: string, topic: string): Promise<number>;
  close(): Promise<void>;
}
