/**
 * Projection workers fed by Kafka (DESIGN §7): a consumer group over the topic `floe kafka
 * publish` writes (`floe.events`), where each partition is a shard.
 *
 * - Shards. Partition P of TOPIC is the shard `kafka:TOPIC/P`, with its own lane(s), email
 *   ledger, parking, dead letters and checkpoints, exactly as a `--shards` shard. The
 *   publisher keys messages by tenant, so a tenant's events are all in one partition, in
 *   store order: per-tenant order and per-email ledgers hold as with tenant-hash shards.
 * - Exactly-once. A batch of a partition is folded in one PostgreSQL transaction with the
 *   lane's position (the store position of its last event, from `floe-position`), the
 *   projections' checkpoints and the partition's offset (`floe.projection_kafka_offsets`).
 *   A worker given a partition seeks to the lowest stored offset + 1 (0 when a projection has
 *   none there), whatever the group's committed offset says, and commits that for the group;
 *   the group offset is committed again after each PostgreSQL commit, for lag monitoring and
 *   `--until-caught-up`.
 * - Re-sends. The publisher is at-least-once: after a crash it re-sends its last batch.
 *   Store positions only grow within a partition, so a message at or below the lane's
 *   position is a re-send and is skipped.
 * - Rebalances. One session advisory lock per (projection, shard) is held while a worker
 *   owns a partition; the next owner waits for it (heartbeating). Every commit is also
 *   fenced by a compare-and-set on the lane position, so a late transaction of a former
 *   owner fails instead of counting twice. kafkajs rebalances eagerly: every (re)join drops
 *   all partition state, which is read again from PostgreSQL on the next batch.
 * - Group membership. A timer heartbeats while a batch is handled (kafkajs only heartbeats
 *   when asked), and a fetch is folded in transactions of at most `batchSize` events, so a
 *   slow transaction never makes the coordinator drop the worker.
 */
import type { Pool, PoolClient } from 'pg';
import { FloeError } from '../../schemas/errors';
import type { StoredEvent } from '../../streams/envelope';
import { stopWhenIdle } from '../../streams/kafka/idle';
import { H, headerText } from '../../streams/kafka/messages';
import { stopOnAbort, type InboundBatch, type InboundMessage, type KafkaTransport } from '../../streams/kafka/transport';
import { decodeRecord, readStoredAt, type StoredRecord } from '../../streams/postgres/read';
import type { SchemaResolver } from '../../streams/postgres/schemaRegistry';
import { describe, LaneRef } from './batch';
import { Lane, lockProjections, ProjectionBusyError, resolveLanes } from './lanes';
import { LedgerCache } from './ledger';
import './pgTypes';
import { BatchAbandoned, BatchReport, LaneMovedError, laneApplier } from './runner';
import type { AnyProjection } from './types';

/** The shard of partition `partition` of `topic`. */
export const kafkaShardKey = (topic: string, partition: number): string => `kafka:${topic}/${partition}`;

export interface KafkaProjectorOptions {
  pool: Pool;
  schemas: SchemaResolver;
  projections: AnyProjection[];
  transport: KafkaTransport;
  topic: string;
  groupId: string;
  /** Most events per transaction (default 5000); a fetch larger than this is folded in several. */
  batchSize?: number;
  /** The coordinator drops a worker silent for this long (default 30 s); a killed worker's partitions wait that long. */
  sessionTimeoutMs?: number;
  /** Bytes fetched per partition at most (default 2 MiB): bounds a fetch. */
  maxBytesPerPartition?: number;
  /** Partitions folded at once by this worker (default 2). */
  concurrency?: number;
  /** Stop once the group has committed every message of the topic. */
  untilCaughtUp?: boolean;
  /** How often `untilCaughtUp` checks the group's lag, ms (default 500). */
  idleCheckMs?: number;
  signal?: AbortSignal;
  log?: (m: string) => void;
  onBatch?: (b: BatchReport) => void;
  afterCommit?: (lane: Lane) => void;
  /** Before a batch's transaction: create what its rows need (month partitions). */
  prepare?: (lane: Lane, events: StoredEvent[]) => Promise<void>;
  attempts?: number;
  backoffMs?: number;
  /** Ledger entries kept in memory per lane (default 100,000). */
  ledgerCacheSize?: number;
  /** After a batch's PostgreSQL commit, before the group offset commit (fault tests). */
  afterPgCommit?: (stats: KafkaProjectorResult) => void;
}

export interface KafkaProjectorResult {
  events: number;
  batches: number;
  /** Messages skipped: re-sends (position at or below the lane's) and messages already taken (offset). */
  skipped: number;
  /** Partition assignments received (one per join of the group). */
  assignments: number;
  lanes: Array<{ lane: string; shard: string; position: bigint; projections: string[] }>;
}

interface LaneState {
  lane: Lane;
  /** Offset of the last message this lane has taken; -1 before any. */
  offset: bigint;
  ref: LaneRef;
  cache: LedgerCache;
}

interface PartitionState {
  shard: string;
  lanes: LaneState[];
  release: () => Promise<void>;
  /** Seeks in a row to the lanes' offsets (a fetch that lands after them again means those messages are gone). */
  seeks: number;
  /** Handlers of this partition running now; the locks are released once none is. */
  running: number;
  idle?: () => void;
}

/** Where `record` finds the offset to store with a lane position (a batch, or half of one when bisecting). */
interface Pending {
  offsets: Map<bigint, bigint>;
  final: { position: bigint; offset: bigint };
  highWatermark: bigint;
}

/**
 * Where a partition's messages are to be read from for these projections: after the lowest
 * offset stored with their lanes, or from 0 when one of them has nothing stored there.
 */
const START_OFFSET_SQL = `
  SELECT CASE WHEN bool_or(k."offset" IS NULL) THEN 0 ELSE min(k."offset") + 1 END AS start
    FROM unnest($2::text[]) AS p(name)
    LEFT JOIN floe.projection_checkpoints c ON c.projection = p.name AND c.shard = $1
    LEFT JOIN floe.projection_kafka_offsets k ON k.lane = c.lane AND k.shard = c.shard`;

const LOOKUP_OFFSETS_SQL = `SELECT lane, "offset", position FROM floe.projection_kafka_offsets WHERE shard = $1`;

const RECORD_OFFSET_SQL = `
  INSERT INTO floe.projection_kafka_offsets (lane, shard, topic, partition, position, "offset", high_watermark, group_id, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
  ON CONFLICT (lane, shard) DO UPDATE SET position = EXCLUDED.position, "offset" = EXCLUDED."offset",
    high_watermark = EXCLUDED.high_watermark, group_id = EXCLUDED.group_id, updated_at = now()`;

/** A fetch that starts this far before the stored offsets is skipped by a seek rather than read through. */
const SEEK_AHEAD_MIN = 1000n;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runKafkaProjector(o: KafkaProjectorOptions): Promise<KafkaProjectorResult> {
  const log = o.log ?? (() => undefined);
  const batchSize = o.batchSize ?? 5000;
  const names = o.projections.map((p) => p.name);
  const identity = (_p: AnyProjection, t: string) => t;
  const result: KafkaProjectorResult = { events: 0, batches: 0, skipped: 0, assignments: 0, lanes: [] };
  const known = new Map<string, Lane[]>(); // by shard, for the result
  const states = new Map<number, PartitionState>();
  const pending = new Map<Lane, Pending>();
  let fatal: unknown;
  let revoked = false;
  let assignments = 0; // assignments and revocations so far: state acquired across one is stale

  const lockClient = await o.pool.connect();
  lockClient.on('error', (e) => log(`kafka projector: lock connection lost (${e.message}); commits stay fenced by lane positions`));
  const loadEvents = (positions: bigint[]) => readStoredAt(o.pool, positions, o.schemas);
  const laneStates = new Map<Lane, LaneState>();
  const stateOf = (lane: Lane) => {
    const ls = laneStates.get(lane);
    if (!ls) throw new Error(`lane ${lane.lane} (shard ${lane.shard}) is not held by this worker`);
    return ls;
  };

  const apply = laneApplier({
    pool: o.pool,
    log,
    attempts: o.attempts ?? 3,
    backoffMs: o.backoffMs ?? 100,
    signal: o.signal,
    prepare: o.prepare,
    loadEvents,
    ref: (lane) => stateOf(lane).ref,
    cache: (lane) => stateOf(lane).cache,
    resetCache: (lane) => (stateOf(lane).cache = new LedgerCache(o.ledgerCacheSize)),
    async record(client: PoolClient, lane: Lane, position: bigint) {
      const p = pending.get(lane);
      if (!p) throw new Error(`no Kafka offset pending for lane ${lane.lane} (shard ${lane.shard})`);
      const offset = position === p.final.position ? p.final.offset : p.offsets.get(position);
      if (offset === undefined) throw new Error(`no Kafka offset for position ${position} of shard ${lane.shard}`);
      const partition = Number(lane.shard.slice(lane.shard.lastIndexOf('/') + 1));
      await client.query(RECORD_OFFSET_SQL, [lane.lane, lane.shard, o.topic, partition, String(position), String(offset), String(p.highWatermark), o.groupId]);
    },
    committed(lane, report) {
      result.events += report.events;
      result.batches++;
      o.onBatch?.(report);
      o.afterCommit?.(lane);
    },
  });

  /** Unlocks run one after another: they share the lock connection. */
  let unlocking: Promise<void> = Promise.resolve();
  /**
   * Drop a partition's state; its locks go once no handler of it runs any more (`unlock`
   * false: the lock connection is about to be closed, which releases them all).
   */
  const drop = (partition: number, unlock = true) => {
    const st = states.get(partition);
    if (!st) return;
    states.delete(partition);
    const release = () => {
      for (const l of st.lanes) laneStates.delete(l.lane);
      if (!unlock) return;
      unlocking = unlocking.then(() => st.release()).catch((e) => log(`kafka projector: releasing ${st.shard}: ${describe(e)}`));
    };
    if (st.running === 0) release();
    else st.idle = release;
  };

  /** Take the partition's locks (waiting for a former owner to let go), resolve its lanes, read their offsets. */
  const acquire = async (batch: InboundBatch): Promise<PartitionState | undefined> => {
    const shard = kafkaShardKey(batch.topic, batch.partition);
    let release: (() => Promise<void>) | undefined;
    for (let waited = 0; !release; waited++) {
      if (!batch.active() || o.signal?.aborted) return undefined;
      try {
        release = await lockProjections(lockClient, names, shard);
      } catch (e) {
        if (!(e instanceof ProjectionBusyError)) throw e;
        if (waited === 0) log(`kafka projector: ${shard} is still held by its former owner (or floe dead-letters retry); waiting`);
        await sleep(250);
      }
    }
    try {
      const lanes = await resolveLanes(o.pool, o.projections, shard, log, identity, { refuseStale: true });
      const { rows } = await o.pool.query<{ lane: string; offset: string; position: string }>(LOOKUP_OFFSETS_SQL, [shard]);
      const st: PartitionState = { shard, lanes: [], release, seeks: 0, running: 0 };
      for (const lane of lanes) {
        const r = rows.find((x) => x.lane === lane.lane && BigInt(x.position) === lane.position);
        if (!r && lane.position !== 0n) {
          throw new FloeError('KAFKA_OFFSET_MISSING', `lane ${lane.lane} of ${shard} is at position ${lane.position} without a stored Kafka offset; rebuild its projections`, {
            context: { shard, lane: lane.lane },
          });
        }
        const ls: LaneState = {
          lane,
          offset: r ? BigInt(r.offset) : -1n,
          ref: { lane: lane.lane, shard, projections: lane.projections, table: identity },
          cache: new LedgerCache(o.ledgerCacheSize),
        };
        st.lanes.push(ls);
        laneStates.set(lane, ls);
      }
      known.set(shard, lanes);
      return st;
    } catch (e) {
      await release().catch(() => undefined);
      throw e;
    }
  };

  /** The message as the stored event it carries; from the store by position when the message cannot say. */
  const decode = async (m: InboundMessage, position: bigint): Promise<StoredEvent | undefined> => {
    const h = (n: string) => headerText(m.headers, n);
    const [type, id, stream, occurredAt] = [h(H.type), h(H.eventId), h(H.stream), h(H.occurredAt)];
    const tenant = h(H.tenant) ?? m.key?.toString('utf8');
    if (type && id && stream && tenant && occurredAt && m.value) {
      const metadata = h(H.metadata);
      const record: StoredRecord = {
        id,
        type,
        stream,
        tenantId: tenant,
        occurredAt: new Date(occurredAt),
        position,
        streamPosition: -1, // not carried by the message; no projection reads it
        data: m.value,
        metadata: metadata ? JSON.parse(metadata) : null,
      };
      try {
        return await decodeRecord(record, o.schemas);
      } catch (e) {
        log(`kafka projector: ${m.topic}/${m.partition}@${m.offset} (position ${position}) does not decode (${describe(e)}); reading it from the store`);
      }
    }
    const [stored] = await loadEvents([position]);
    if (stored && (!id || stored.id === id)) return stored;
    log(`kafka projector: skipping ${m.topic}/${m.partition}@${m.offset}: position ${position} is ${stored ? `event ${stored.id}, not ${id}` : 'not in the store'}`);
    return undefined;
  };

  const positionOf = (m: InboundMessage): bigint | undefined => {
    const text = headerText(m.headers, H.position);
    return text !== undefined && /^\d+$/.test(text) ? BigInt(text) : undefined;
  };

  const fold = async (batch: InboundBatch, st: PartitionState): Promise<void> => {
    const messages = batch.messages;
    if (!messages.length) return;
    const first = BigInt(messages[0].offset);
    const lastOffset = BigInt(messages[messages.length - 1].offset);
    const from = st.lanes.reduce((min, l) => (l.offset < min ? l.offset : min), lastOffset + 1n) + 1n;
    // After an assignment the fetch starts where the group's committed offset says; the
    // offsets stored with the lanes decide. Messages before them are skipped (a long run of
    // them by a seek), messages after them are fetched again by a seek.
    if (first > from) {
      if (st.seeks < 3) {
        st.seeks++;
        batch.seek(String(from));
        return;
      }
      // Never skip events: a fetch that lands after the offset asked for means those messages are gone.
      throw new FloeError(
        'KAFKA_GAP',
        `${st.shard}: the next message to fold is at offset ${from}, but the partition continues at ${first} (messages deleted by retention?); ` +
          `the projections cannot be continued from this topic`,
        { context: { shard: st.shard, from: String(from), first: String(first) } },
      );
    } else if (first + SEEK_AHEAD_MIN < from && st.seeks === 0) {
      st.seeks++;
      batch.seek(String(from));
      return;
    }
    st.seeks = 0;
    const decoded = new Map<number, StoredEvent | undefined>();
    for (const ls of st.lanes) {
      const events: StoredEvent[] = [];
      const offsets = new Map<bigint, bigint>();
      let max = ls.lane.position;
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i];
        const offset = BigInt(m.offset);
        if (offset <= ls.offset) continue;
        const position = positionOf(m);
        if (position === undefined) {
          log(`kafka projector: skipping ${m.topic}/${m.partition}@${m.offset}: no ${H.position} header (not written by floe kafka publish?)`);
          continue;
        }
        if (position <= max) {
          result.skipped++; // a re-send of the publisher (at-least-once)
          continue;
        }
        if (!decoded.has(i)) decoded.set(i, await decode(m, position));
        const event = decoded.get(i);
        if (!event) continue;
        max = position;
        events.push(event);
        offsets.set(position, offset);
      }
      for (let i = 0; i < events.length; i += batchSize) {
        // Revoked (or dropped from the group: a heartbeat failed): the partition's next owner waits for our locks.
        if (!batch.active() || o.signal?.aborted || revoked) return;
        const chunk = events.slice(i, i + batchSize);
        const position = chunk[chunk.length - 1].position;
        const offset = i + batchSize >= events.length ? lastOffset : offsets.get(position)!;
        pending.set(ls.lane, { offsets, final: { position, offset }, highWatermark: BigInt(batch.highWatermark) });
        try {
          await apply(ls.lane, chunk, position);
        } finally {
          pending.delete(ls.lane);
        }
        ls.offset = offset; // committed with the lane's position
      }
    }
    o.afterPgCommit?.(result);
    try {
      await batch.commit(String(lastOffset));
    } catch (e) {
      // The offsets that matter are in PostgreSQL; the group's is for lag and a quicker start.
      log(`kafka projector: committing the group offset of ${st.shard} failed (${describe(e)}); the offset stored with the rows decides`);
    }
  };

  const handle = async (batch: InboundBatch): Promise<void> => {
    if (fatal || o.signal?.aborted) return;
    await heartbeating(batch, log, () => (revoked = true), async () => {
      let st = states.get(batch.partition);
      if (!st) {
        const generation = assignments;
        st = await acquire(batch);
        if (!st) return;
        states.set(batch.partition, st);
        // Revoked while acquiring: let go at once (or the next owner would wait for these locks).
        if (generation !== assignments) return drop(batch.partition);
      }
      st.running++;
      try {
        await fold(batch, st);
      } catch (e) {
        if (e instanceof BatchAbandoned) return log(`kafka projector: stopping; ${e.message}`); // its offsets stay where PostgreSQL has them
        if (e instanceof LaneMovedError) {
          // Someone else wrote the lane (this worker had lost the partition): start over from PostgreSQL.
          log(`kafka projector: ${e.message}; reading ${st.shard} again`);
          drop(batch.partition);
          batch.seek(batch.messages[0].offset);
          return;
        }
        throw e;
      } finally {
        st.running--;
        if (st.running === 0) st.idle?.();
      }
    })
      .then(() => {
        // A heartbeat failed: this worker is being rebalanced, or was dropped from the group
        // (then no rebalance event may come until it rejoins): let its partitions go now.
        if (revoked) {
          revoked = false;
          assignments++;
          for (const p of [...states.keys()]) drop(p);
        }
      })
      .catch((e) => {
        // Not retried by redelivery: a batch that failed past the runtime's retries and dead letters would fail again.
        fatal ??= e;
        void stop();
      });
  };

  /**
   * Move each partition just given to this worker to where PostgreSQL says its projections
   * are, and the group's offset with it: the group's committed offset may be anywhere (this
   * database restored or new, the group used with another one), and a partition whose group
   * offset is at its end would never be fetched, nor counted in the lag --until-caught-up
   * waits on. A partition already being folded is left to fold, which seeks by itself.
   */
  let joined = false;
  let settling = 0;
  const startFromStored = async (partitions: number[], generation: number): Promise<void> => {
    for (const partition of partitions) {
      const shard = kafkaShardKey(o.topic, partition);
      for (let attempt = 1; ; attempt++) {
        try {
          const { rows } = await o.pool.query<{ start: string }>(START_OFFSET_SQL, [shard, names]);
          if (generation !== assignments || states.has(partition) || o.signal?.aborted) break;
          await consumer.rewind(o.topic, partition, rows[0].start);
          break;
        } catch (e) {
          // Without it, a partition whose group offset is at its end would never be projected,
          // and --until-caught-up would believe the group: retry, then stop the worker.
          if (attempt >= 5) throw e;
          await sleep(200 * attempt);
        }
      }
    }
  };

  const consumer = o.transport.consumer({
    groupId: o.groupId,
    topics: [o.topic],
    fromBeginning: true,
    sessionTimeoutMs: o.sessionTimeoutMs,
    maxBytesPerPartition: o.maxBytesPerPartition ?? 2 << 20,
    concurrency: o.concurrency ?? 2,
    onAssign: (assigned) => {
      result.assignments++;
      const mine = assigned.filter((a) => a.topic === o.topic).map((a) => a.partition);
      log(`kafka projector: ${o.groupId} assigned ${o.topic} partitions [${mine.join(', ')}]`);
      // Eager rebalancing revoked everything; whatever is kept again is read again.
      assignments++;
      for (const p of [...states.keys()]) drop(p);
      joined = true;
      settling++;
      startFromStored(mine, assignments)
        .catch((e) => {
          fatal ??= new FloeError('KAFKA_START', `could not start the partitions at the offsets stored in PostgreSQL: ${describe(e)}`);
          void stop();
        })
        .finally(() => settling--);
    },
    onRevoke: () => {
      assignments++;
      for (const p of [...states.keys()]) drop(p);
    },
  });
  const stops = stopOnAbort(consumer, o.signal);
  const stop = stops.stop;
  let idleTimer: NodeJS.Timeout | undefined;
  try {
    const running = consumer.run(handle);
    if (o.untilCaughtUp) {
      const ready = () => joined && settling === 0;
      idleTimer = stopWhenIdle(o.transport, o.groupId, o.topic, stop, (m) => log(`kafka projector: ${m}`), o.idleCheckMs, ready);
    }
    await running;
    await stops.stopping;
    if (fatal) throw fatal;
    result.lanes = [...known.values()].flat().map((l) => ({ lane: l.lane, shard: l.shard, position: l.position, projections: l.projections.map((p) => p.name) }));
    return result;
  } finally {
    if (idleTimer) clearInterval(idleTimer);
    stops.release();
    await stop().catch(() => undefined);
    for (const p of [...states.keys()]) drop(p, false);
    await unlocking;
    // Session locks go with the connection; destroy it rather than unlock each.
    lockClient.release(true);
  }
}

/**
 * Runs `work` while heartbeating every second (kafkajs itself sends at most one per
 * heartbeat interval), so a slow transaction never makes the coordinator drop this worker.
 * A failed heartbeat (the group is rebalancing) is only logged: the transaction in hand
 * finishes, and the lane's compare-and-set fences whatever a former owner does late.
 */
async function heartbeating<T>(batch: InboundBatch, log: (l: string) => void, failed: () => void, work: () => Promise<T>): Promise<T> {
  let warned = false;
  const timer = setInterval(() => {
    batch.heartbeat().catch((e) => {
      if (!warned) log(`kafka projector: heartbeat failed (${describe(e)}); the group is rebalancing`);
      warned = true;
      failed();
    });
  }, 1000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
