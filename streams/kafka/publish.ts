/**
 * Event store → Kafka `floe.events` (DESIGN §7): the committed log in global order, one
 * message per event (format: messages.ts), through an idempotent producer with acks from
 * all in-sync replicas. The last published position is kept in
 * `floe.kafka_publish_checkpoints` and advanced only after the broker acknowledged a batch.
 *
 * At-least-once: a crash between the acknowledgement and the checkpoint update re-sends that
 * batch when the publisher restarts. Consumers deduplicate by the `floe-event-id` header.
 * Order: key = tenant id, so a tenant's events share a partition and keep store order there.
 *
 * One publisher per topic: a session advisory lock on a dedicated connection, which also
 * LISTENs for appends so a caught-up publisher wakes as soon as an event commits.
 */
import { Client, Pool } from 'pg';
import { EVENTS_CHANNEL } from '../postgres/append';
import { FloeError } from '../errors';
import { H } from './messages';
import type { KafkaProducer, OutboundMessage } from './transport';

/** First key of the publisher's advisory lock (the second is hashtext(topic)). */
const PUBLISH_LOCK_KEY = 0x466b7062; // "Fkpb"

const LOCK_SQL = `SELECT pg_try_advisory_lock(${PUBLISH_LOCK_KEY}, hashtext($1)) AS locked`;

const CHECKPOINT_SQL = `
  INSERT INTO floe.kafka_publish_checkpoints (topic) VALUES ($1) ON CONFLICT (topic) DO NOTHING;`;

const READ_CHECKPOINT_SQL = 'SELECT position FROM floe.kafka_publish_checkpoints WHERE topic = $1';

const ADVANCE_SQL = `
  UPDATE floe.kafka_publish_checkpoints
     SET position = $2, published = published + $3, updated_at = now()
   WHERE topic = $1 AND position < $2`;

/**
 * A page of the log as publish needs it: the timestamps already in the ISO-8601 form of the
 * headers (Date.toISOString's, milliseconds, UTC), formatted by the server, so the client
 * does not parse them into Dates only to format them again.
 */
const PAGE_SQL = `
  SELECT global_position, event_id, stream_id, type, tenant_id, data, metadata,
         to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at,
         to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS recorded_at
    FROM floe.events WHERE global_position > $1 ORDER BY global_position LIMIT $2`;

interface PageRow {
  global_position: string;
  event_id: string;
  stream_id: string;
  type: string;
  tenant_id: string;
  occurred_at: string;
  recorded_at: string;
  data: Buffer;
  metadata: Record<string, unknown> | null;
}

export interface PublishOptions {
  url: string;
  pool: Pool;
  producer: KafkaProducer;
  topic: string;
  /** Events per send and checkpoint (default 5000). */
  batchSize?: number;
  /** Stop once everything stored has been published. */
  untilCaughtUp?: boolean;
  /** Polling interval when no notification arrives, ms (default 1000). */
  pollMs?: number;
  signal?: AbortSignal;
  onBatch?: (stats: PublishStats) => void;
}

export interface PublishStats {
  published: number;
  batches: number;
  /** Checkpoint: global position of the last published event. */
  position: bigint;
}

function outbound(r: PageRow): OutboundMessage {
  const headers: Record<string, string> = {
    [H.type]: r.type,
    [H.eventId]: r.event_id,
    [H.position]: r.global_position,
    [H.stream]: r.stream_id,
    [H.tenant]: r.tenant_id,
    [H.occurredAt]: r.occurred_at,
    [H.recordedAt]: r.recorded_at,
  };
  if (r.metadata !== null) headers[H.metadata] = JSON.stringify(r.metadata);
  return { key: r.tenant_id, value: r.data, headers };
}

export async function publish(o: PublishOptions): Promise<PublishStats> {
  const batchSize = o.batchSize ?? 5000;
  const pollMs = o.pollMs ?? 1000;
  const listener = new Client({ connectionString: o.url });
  let wake: (() => void) | undefined;
  listener.on('notification', () => wake?.());
  listener.on('error', () => {}); // polling carries on; a lost lock connection ends the run at the next checkpoint
  await listener.connect();
  const onAbort = () => wake?.();
  o.signal?.addEventListener('abort', onAbort);
  try {
    const { rows } = await listener.query<{ locked: boolean }>(LOCK_SQL, [o.topic]);
    if (!rows[0].locked) {
      throw new FloeError('PUBLISHER_RUNNING', `another floe kafka publish is already publishing to ${o.topic} (one publisher per topic)`, { context: { topic: o.topic } });
    }
    await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
    await o.pool.query(CHECKPOINT_SQL, [o.topic]);
    const stats: PublishStats = { published: 0, batches: 0, position: BigInt((await o.pool.query(READ_CHECKPOINT_SQL, [o.topic])).rows[0].position) };
    // The next page is read while the current one is being sent.
    let next: Promise<PageRow[]> | undefined;
    const readAfter = (after: bigint) => {
      const p = o.pool.query<PageRow>(PAGE_SQL, [String(after), batchSize]).then((r) => r.rows);
      p.catch(() => {}); // awaited in the loop; keeps an early failure from being unhandled
      return p;
    };
    while (!o.signal?.aborted) {
      const page = await (next ?? readAfter(stats.position));
      next = undefined;
      if (page.length) {
        const last = BigInt(page[page.length - 1].global_position);
        if (page.length === batchSize) next = readAfter(last);
        await o.producer.send(o.topic, page.map(outbound));
        // The lock's connection must still be ours, or another publisher may have started.
        await listener.query('SELECT 1');
        await o.pool.query(ADVANCE_SQL, [o.topic, String(last), page.length]);
        stats.position = last;
        stats.published += page.length;
        stats.batches++;
        o.onBatch?.(stats);
      }
      if (page.length < batchSize) {
        if (o.untilCaughtUp) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => resolve(), pollMs);
          wake = () => {
            clearTimeout(timer);
            wake = undefined;
            resolve();
          };
          if (o.signal?.aborted) wake();
        });
      }
    }
    return stats;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await listener.end().catch(() => {});
  }
}
