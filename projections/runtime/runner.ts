/**
 * The projector: reads the store in large pages (the next page is read while the
 * current one is folded), applies each page to every lane in one transaction per lane
 * with the checkpoint, and follows the store live (LISTEN wake-ups, polling fallback)
 * until stopped. A failing event is retried with backoff, then dead-lettered; a write
 * that keeps failing is bisected down to the event that causes it; a lost database
 * connection is waited out, never dead-lettered.
 *
 * @example
 *   const r = await runProjector({ pool, url, schemas, projections: allProjections(), untilCaughtUp: true });
 */
import { Client, Pool, PoolClient } from 'pg';
import { FloeError } from '../../schemas/errors';
import type { StoredEvent } from '../../streams/envelope';
import { EVENTS_CHANNEL } from '../../streams/postgres/append';
import { headPosition, readStored, readStoredAt } from '../../streams/postgres/read';
import type { SchemaResolver } from '../../streams/postgres/schemaRegistry';
import { applyBatch, BatchOutcome, BatchPlan, DeadLetter, describe, foldBatch, FoldError, LaneRef, StopProjecting, writeBatch } from './batch';
import { LaneLedger, LedgerCache, MemoryLedger, saveMemoryLedger, usesLedger } from './ledger';
import { HeldLocks, Lane, lockProjections, ProjectionBusyError, resolveLanes, ShardSpec, shardKey, watchLockConnection } from './lanes';
import './pgTypes';
import { transaction } from './sql';
import { timings } from './timings';
import type { AnyProjection } from './types';

/**
 * Most events per batch by default. A batch's writes touch each row once however many of its
 * events move it, so larger batches write fewer rows: catching up every projection over 1M
 * generated events (2026-12-05, medians of 3) took 56 s in batches of 5,000, 48 s of 10,000
 * and 45 s of 20,000, whose peak RSS (460-490 MB) leaves too little room under 512 MB for a
 * longer history. Following live, a batch is whatever was appended since the last one.
 */
export const BATCH_SIZE = 10_000;

export interface ProjectorOptions {
  pool: Pool;
  url: string;
  schemas: SchemaResolver;
  projections: AnyProjection[];
  shard?: ShardSpec;
  batchSize?: number;
  /** Stop once every lane has read everything stored. */
  untilCaughtUp?: boolean;
  signal?: AbortSignal;
  pollMs?: number;
  log?: (m: string) => void;
  /** After every committed batch (progress, metrics). */
  onBatch?: (b: BatchReport) => void;
  /** Called (not awaited by the batch loop) after commits; e.g. refresh a materialized view. */
  afterCommit?: (lane: Lane) => void;
  /** Before a batch's transaction: create what its rows need (month partitions). */
  prepare?: (lane: Lane, events: StoredEvent[]) => Promise<void>;
  /** Physical table names; the identity unless rebuilding into shadows. */
  tableName?: (p: AnyProjection, name: string) => string;
  /** Retries of a failing batch before its bad event is dead-lettered or the batch bisected. */
  attempts?: number;
  backoffMs?: number;
  /** Never fold past this position (a rebuild catching up to the live projection). */
  stopAt?: bigint;
  /**
   * Read only the events of types the lane's projections handle (`laneTypes`): a rebuild of
   * one projection skips the rest of the store at the source. Reports then count those only.
   */
  handledOnly?: boolean;
  /**
   * Keep the whole email ledger of a lane that starts at position 0 in memory, up to this many
   * entries, and save it once (at the end of the run, or when it outgrows the bound, after which
   * the lane saves its ledger with every batch as usual) instead of with every batch
   * (`MemoryLedger`; `floe rebuild`). A run that dies before saving leaves the lane to be
   * re-projected from the start. Undefined: never.
   */
  memoryLedgerLimit?: number;
  /**
   * With `untilCaughtUp` and `memoryLedgerLimit`: a run that ends caught up (not stopped by a
   * signal) leaves its lanes' memory ledgers unsaved and returns them (`memoryLedgers`), for the
   * caller to save (`saveKeptLedger`) or to let go once the lane is retired (a rebuild that
   * hands its projection to a live lane). Until saved, the lane's row says its saved ledger is
   * behind, as while the run went on.
   */
  keepMemoryLedgers?: boolean;
  /** Ledger entries kept in memory per lane (default LEDGER_CACHE_SIZE, 50,000). */
  ledgerCacheSize?: number;
  /**
   * Fold the next batch while the previous one is being written (default true; FLOE_PIPELINE=0
   * turns it off). Node.js folds while PostgreSQL writes, so the two use both cores.
   */
  pipeline?: boolean;
}

export interface BatchReport extends BatchOutcome {
  lane: string;
  shard: string;
  events: number;
  position: bigint;
  ms: number;
}

export interface ProjectorResult {
  lanes: Array<{ lane: string; shard: string; position: bigint; projections: string[] }>;
  events: number;
  batches: number;
  /** `keepMemoryLedgers`: the memory ledgers left unsaved, each at its lane's position. */
  memoryLedgers?: KeptLedger[];
  /** Projections rebuilt blue/green before projecting (their version changed, or they fell behind their lane). */
  rebuilt?: Array<{ projection: string; events: number; seconds: number; position: bigint }>;
}

/** A lane's whole email ledger in memory, not saved, at the lane's position. */
export interface KeptLedger {
  lane: string;
  shard: string;
  position: bigint;
  ledger: MemoryLedger;
}

/** FLOE_PIPELINE: 1 (the default) folds a batch while the previous one is written, 0 does one at a time. */
function pipelineFromEnv(): boolean {
  const v = process.env.FLOE_PIPELINE;
  if (v === undefined || v === '' || v === '1') return true;
  if (v === '0') return false;
  throw new FloeError('INVALID_ARGUMENT', `FLOE_PIPELINE must be 0 or 1, not ${JSON.stringify(v)}`);
}

/** Save a kept memory ledger (`saveMemoryLedger`, fenced by the lane's position), retrying transient failures. */
export async function saveKeptLedger(pool: Pool, kept: KeptLedger, o: { backoffMs?: number; log?: (m: string) => void } = {}): Promise<void> {
  const t0 = performance.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await transaction(pool, (client) => saveMemoryLedger(client, kept.lane, kept.shard, kept.position, kept.ledger));
      break;
    } catch (e) {
      if (!isTransient(e) || attempt >= 5) throw e;
      o.log?.(`projector: saving the email ledger of lane ${kept.lane}: ${describe(e)}; retrying`);
      await sleep(Math.min((o.backoffMs ?? 100) * 2 ** attempt, 5000));
    }
  }
  timings.add('memory ledger save', performance.now() - t0);
  o.log?.(`projector: lane ${kept.lane} (shard ${kept.shard}) saved its email ledger of ${kept.ledger.size} emails at position ${kept.position}`);
}

/**
 * The events a lane needs (`handledOnly`): the types its projections handle and, when it
 * keeps an email ledger, every `email.*` event (the ledger follows each email's whole
 * lifecycle); the types the prefix covers are not listed again (PostgreSQL would compare each
 * row's type with every one of them before trying the prefix).
 */
export function laneTypes(projections: readonly AnyProjection[]): { types: string[]; typePrefixes?: string[] } {
  const typePrefixes = usesLedger(projections) ? ['email.'] : undefined;
  const types = [...new Set(projections.flatMap((p) => p.types))].filter((t) => !typePrefixes?.some((x) => t.startsWith(x)));
  return { types: types.sort(), typePrefixes };
}

/** The lane's position is not where this writer left it: another writer, or a commit we did not hear back from. */
export class LaneMovedError extends Error {
  constructor(lane: Lane, position: bigint) {
    super(`lane ${lane.lane} (shard ${lane.shard}) is not at position ${lane.position} any more (batch to ${position}); is another projector running it?`);
  }
}

/** A projection of the lane has moved to another lane (a blue/green rebuild swapped it in). */
class LaneChangedError extends Error {
  constructor(lane: Lane) {
    super(`lane ${lane.lane} (shard ${lane.shard}): a rebuild swapped one of its projections`);
  }
}

/**
 * A batch's transaction does not wait for its WAL to reach the disk: projected tables are
 * derived state, and a server crash can only lose the last commits whole (rows and
 * checkpoint together, in order), which the projector then simply folds again. Exactly-once
 * is untouched; each batch saves a WAL flush, which is most of a small live batch's commit.
 */
const BEGIN_BATCH = 'BEGIN; SET LOCAL synchronous_commit = off';

const TRANSIENT_CLASSES = ['08', '40', '53', '55', '57', '58'];

/** Errors that say nothing about the event: connection loss, shutdown, serialization, lock timeouts. */
export function isTransient(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && code.length === 5) return TRANSIENT_CLASSES.includes(code.slice(0, 2));
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT' || /Connection terminated|connection/i.test(describe(e));
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done); // a long-lived signal must not collect one per sleep
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * A batch given up, uncommitted, because the run is stopping (a signal while it waited to be
 * retried): the run ends as after any signal, its lanes at their committed positions.
 */
export class BatchAbandoned extends Error {
  constructor(lane: Lane, readonly reason: unknown) {
    super(`lane ${lane.lane} (shard ${lane.shard}): a batch waiting to be retried (${describe(reason)}) is left to the next run`);
  }
}

/** What `laneApplier` needs: the runtime's connections and hooks, independent of where events are read. */
export interface LaneApplierOptions {
  pool: Pool;
  log: (m: string) => void;
  /** Retries of a failing batch before its bad event is dead-lettered or the batch bisected. */
  attempts: number;
  backoffMs: number;
  signal?: AbortSignal;
  /** Before a batch's transaction: create what its rows need (month partitions). */
  prepare?: (lane: Lane, events: StoredEvent[]) => Promise<void>;
  /** Parked events, back from the store by position. */
  loadEvents(positions: bigint[]): Promise<StoredEvent[]>;
  ref(lane: Lane): LaneRef;
  /**
   * The lane's ledger cache; `resetCache` is told of a failed batch: it starts the cache afresh,
   * or for a memory ledger (which cannot be read back) keeps it, unless `inDoubt` (the lane may
   * have moved without it: a COMMIT whose outcome is unknown, another writer), when it throws.
   */
  cache(lane: Lane): LaneLedger;
  resetCache(lane: Lane, inDoubt: boolean): void;
  /** More writes in the batch's transaction, after the checkpoint (a Kafka source's offset). */
  record?: (client: PoolClient, lane: Lane, position: bigint) => Promise<void>;
  /** After a batch committed (`lane.position` already moved). */
  committed(lane: Lane, report: BatchReport): void;
}

export type LaneApply = (lane: Lane, events: StoredEvent[], position: bigint, dead?: Map<string, DeadLetter>) => Promise<void>;

/**
 * Applies one batch of one lane in one transaction with its checkpoint (fenced by the
 * lane's position: a writer that is not where it left the lane gets `LaneMovedError`):
 * retried, its bad events dead-lettered, bisected if a write keeps failing.
 */
export function laneApplier(o: LaneApplierOptions): LaneApply {
  const apply: LaneApply = async (lane, events, position, dead = new Map<string, DeadLetter>()) => {
    let failures = 0;
    for (;;) {
      const started = Date.now();
      let client: PoolClient | undefined;
      let commitSent = false;
      try {
        await o.prepare?.(lane, events);
        client = await o.pool.connect();
        await client.query(BEGIN_BATCH);
        const cache = o.cache(lane);
        const outcome = await applyBatch(client, o.ref(lane), { events, position, dead, loadEvents: o.loadEvents, cache });
        await advanceLane(client, lane, position, events.length, outcome.ignored);
        await o.record?.(client, lane, position);
        const t0 = performance.now();
        commitSent = true;
        await client.query('COMMIT');
        timings.add('commit', performance.now() - t0);
        cache.commit(outcome.changed);
        lane.position = position;
        o.committed(lane, { ...outcome, lane: lane.lane, shard: lane.shard, events: events.length, position, ms: Date.now() - started });
        return;
      } catch (e) {
        await client?.query('ROLLBACK').catch(() => undefined);
        // Entries looked up inside the rolled-back transaction are still committed state,
        // but a failure may leave doubt (a lost COMMIT reply): start the lane's cache afresh.
        o.resetCache(lane, commitSent || e instanceof LaneMovedError);
        if (e instanceof LaneChangedError) throw e;
        if (e instanceof LaneMovedError) {
          // Our previous COMMIT may have succeeded without us hearing of it: then this batch is done.
          const { rows } = await o.pool.query('SELECT position FROM floe.projection_lanes WHERE lane = $1 AND shard = $2', [lane.lane, lane.shard]);
          if (rows[0] && BigInt(rows[0].position) === position) {
            lane.position = position;
            return;
          }
          throw e;
        }
        if (e instanceof StopProjecting) throw e; // not the event's fault: no retry, no dead letter
        if (isTransient(e)) {
          failures++;
          o.log(`projector: ${describe(e)}; retrying in ${Math.min(o.backoffMs * 2 ** failures, 5000)} ms`);
          await sleep(Math.min(o.backoffMs * 2 ** failures, 5000), o.signal);
          if (o.signal?.aborted) throw new BatchAbandoned(lane, e);
          continue;
        }
        failures++;
        if (failures < o.attempts) {
          await sleep(o.backoffMs * 4 ** (failures - 1), o.signal);
          // Stopping skips the wait: the retries left would run back to back and dead-letter.
          if (o.signal?.aborted) throw new BatchAbandoned(lane, e);
          continue;
        }
        if (e instanceof FoldError) {
          o.log(`projector: dead-lettering event ${e.event.id}: ${e.message}`);
          dead.set(e.event.id, { event: e.event, projection: e.projection, error: describe(e.cause), retriable: true });
          failures = 0;
          continue;
        }
        const live = events.filter((ev) => !dead.has(ev.id));
        if (live.length <= 1) {
          const bad = live[0];
          if (!bad) throw e;
          o.log(`projector: dead-lettering event ${bad.id}: ${describe(e)}`);
          dead.set(bad.id, { event: bad, projection: null, error: describe(e), retriable: true });
          failures = 0;
          continue;
        }
        // A write fails and no fold is to blame: find the event by halves. Give the
        // connection back first: every level of the recursion would otherwise hold one,
        // and a pool smaller than the depth (log2 of the batch) waits on itself forever.
        client?.release();
        client = undefined;
        const half = Math.ceil(events.length / 2);
        const first = events.slice(0, half);
        await apply(lane, first, first[first.length - 1].position, dead);
        await apply(lane, events.slice(half), position, dead);
        return;
      } finally {
        client?.release();
      }
    }
  };
  return apply;
}

async function advanceLane(client: PoolClient, lane: Lane, position: bigint, events: number, ignored: number): Promise<void> {
  // One round trip: the lane's row moves only from where this writer left it, and its members'
  // checkpoints (as this writer knows them: names and versions) with it.
  const { rows } = await client.query<{ moved: number; members: number }>(
    `WITH moved AS (
       UPDATE floe.projection_lanes SET position = $3, updated_at = now() WHERE lane = $1 AND shard = $2 AND position = $4 RETURNING 1),
     members AS (
       UPDATE floe.projection_checkpoints SET position = $3, events = events + $5, ignored = ignored + $6, updated_at = now()
        WHERE lane = $1 AND shard = $2 AND (projection, version) IN (SELECT * FROM unnest($7::text[], $8::int[])) AND EXISTS (SELECT 1 FROM moved)
        RETURNING 1)
     SELECT (SELECT count(*) FROM moved)::int AS moved, (SELECT count(*) FROM members)::int AS members`,
    [lane.lane, lane.shard, String(position), String(lane.position), events, ignored, lane.projections.map((p) => p.name), lane.projections.map((p) => p.version)],
  );
  if (rows[0].moved !== 1) {
    // A rebuild that swapped out every member of the lane retired the lane's row with them.
    const { rowCount } = await client.query('SELECT 1 FROM floe.projection_lanes WHERE lane = $1 AND shard = $2', [lane.lane, lane.shard]);
    throw rowCount ? new LaneMovedError(lane, position) : new LaneChangedError(lane);
  }
  // A rebuild swapped one of the lane's projections out (its checkpoint moved to the rebuilt
  // lane), or swapped in tables of another version that stay in this lane.
  if (rows[0].members !== lane.projections.length) throw new LaneChangedError(lane);
}

/** The write of a folded batch in flight; `undo` takes its entries out of a memory ledger again. */
interface Flight {
  done: Promise<void>;
  plan: BatchPlan;
  events: StoredEvent[];
  to: bigint;
  /** Its COMMIT was sent: if it fails now, whether it took effect is unknown. */
  commitSent: boolean;
  undo?: () => void;
}

/** A memory ledger cannot be had again once a COMMIT's outcome is unknown: the run stops, and the lane is folded again from the start. */
const ledgerInDoubt = (lane: Lane): StopProjecting =>
  new StopProjecting(
    'LEDGER_IN_DOUBT',
    `lane ${lane.lane} (shard ${lane.shard}) kept its email ledger in memory and lost a commit's outcome; run it again (its projections are folded again from the start)`,
    { retriable: true },
  );

export async function runProjector(o: ProjectorOptions): Promise<ProjectorResult> {
  const shard = o.shard ?? { index: 0, count: 1 };
  const key = shardKey(shard);
  const batchSize = o.batchSize ?? BATCH_SIZE;
  const log = o.log ?? (() => undefined);
  const tableName = o.tableName ?? ((_p, t) => t);
  const attempts = o.attempts ?? 3;
  const backoffMs = o.backoffMs ?? 100;
  const lockClient = await o.pool.connect();
  /** The connection holding the locks; undefined while a failed one is being replaced. */
  let locks: HeldLocks | undefined = watchLockConnection(lockClient, 'the projector');
  const result: ProjectorResult = { lanes: [], events: 0, batches: 0 };
  let release: (() => Promise<void>) | undefined;
  let listener: Client | undefined;
  let wake: (() => void) | undefined;
  /** The write of a folded batch, in flight while the next one folds (by lane). */
  const flights = new Map<string, Flight>();
  const keep = Boolean(o.untilCaughtUp && o.keepMemoryLedgers);
  try {
    release = await lockProjections(lockClient, o.projections.map((p) => p.name), key);
    let lanes = await resolveLanes(o.pool, o.projections, shard, log, tableName, { merge: true });
    result.lanes = lanes.map((l) => ({ lane: l.lane, shard: l.shard, position: l.position, projections: l.projections.map((p) => p.name) }));

    /**
     * The next page of the lane's event types after `after`, and how far it reaches: the last
     * event's position, or for a read that came back short, the store's head as it was before
     * the read (every position up to it is committed, appends commit in position order), so a
     * lane whose types are quiet (or a shard whose tenants are) still catches up with the head.
     */
    const read = async (lane: Lane, after: bigint): Promise<{ events: StoredEvent[]; to: bigint }> => {
      if (o.stopAt !== undefined && after >= o.stopAt) return { events: [], to: after };
      const head = shard.count > 1 || o.handledOnly ? await headPosition(o.pool) : undefined;
      const all = await readStored(o.pool, { after, limit: batchSize, shard: shard.count > 1 ? shard : undefined, ...(o.handledOnly ? laneTypes(lane.projections) : {}) }, o.schemas);
      const events = o.stopAt === undefined ? all : all.filter((e) => e.position <= o.stopAt!);
      let to = all.length ? all[all.length - 1].position : after;
      if (head !== undefined && all.length < batchSize && head > to) to = head;
      if (o.stopAt !== undefined && to > o.stopAt) to = o.stopAt;
      return { events, to };
    };
    const loadEvents = (positions: bigint[]) => readStoredAt(o.pool, positions, o.schemas);

    let caches = new Map<string, LaneLedger>();
    let refs = new Map<string, LaneRef>();
    /** A lane's ledger cache: its whole ledger in memory when it starts at 0 and `memoryLedgerLimit` asks for that. */
    const cacheFor = async (l: Lane): Promise<LaneLedger> => {
      if (o.memoryLedgerLimit !== undefined && l.position === 0n && usesLedger(l.projections)) {
        // The lane's row says its saved ledger stays at 0 until saveMemoryLedger runs.
        const marked = await o.pool.query(`UPDATE floe.projection_lanes SET ledger_at = 0 WHERE lane = $1 AND shard = $2 AND position = 0`, [l.lane, l.shard]);
        if (marked.rowCount === 1) {
          const { rows } = await o.pool.query<{ email_id: string }>('SELECT DISTINCT email_id FROM floe.projection_parked WHERE lane = $1 AND shard = $2', [l.lane, l.shard]);
          return new MemoryLedger(rows.map((r) => r.email_id));
        }
      }
      // A mark left at the lane's position by a run that folded nothing is no mark at all.
      await o.pool.query(`UPDATE floe.projection_lanes SET ledger_at = NULL WHERE lane = $1 AND shard = $2 AND ledger_at = position`, [l.lane, l.shard]);
      return newCache();
    };
    const newCache = () => new LedgerCache(o.ledgerCacheSize);
    const adopt = async () => {
      caches = new Map();
      for (const l of lanes) caches.set(l.lane, await cacheFor(l));
      refs = new Map(lanes.map((l) => [l.lane, { lane: l.lane, shard: l.shard, projections: l.projections, table: tableName }]));
    };
    await adopt();

    function committed(lane: Lane, report: BatchReport) {
      result.events += report.events;
      result.batches++;
      o.onBatch?.(report);
      o.afterCommit?.(lane);
    }
    const apply = laneApplier({
      pool: o.pool,
      log,
      attempts,
      backoffMs,
      signal: o.signal,
      prepare: o.prepare,
      loadEvents,
      ref: (lane) => refs.get(lane.lane)!,
      cache: (lane) => caches.get(lane.lane)!,
      resetCache: (lane, inDoubt) => {
        if (!(caches.get(lane.lane) instanceof MemoryLedger)) caches.set(lane.lane, newCache());
        // The careful path changes a memory ledger after its COMMIT only: unless the lane may have
        // moved without it, the ledger is as committed.
        else if (inDoubt) throw ledgerInDoubt(lane);
      },
      committed,
    });

    /** Where each lane's next read starts: past the batch in flight, if any. */
    const folded = new Map<string, bigint>();
    const pipeline = o.pipeline ?? pipelineFromEnv();

    const commitPlan = async (lane: Lane, plan: BatchPlan, events: StoredEvent[], to: bigint, flight: { commitSent: boolean }): Promise<void> => {
      const started = Date.now();
      const client = await o.pool.connect();
      try {
        await client.query(BEGIN_BATCH);
        await writeBatch(client, refs.get(lane.lane)!, plan);
        await advanceLane(client, lane, to, events.length, plan.outcome.ignored);
        const t0 = performance.now();
        flight.commitSent = true;
        await client.query('COMMIT');
        timings.add('commit', performance.now() - t0);
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
      lane.position = to;
      committed(lane, { ...plan.outcome, lane: lane.lane, shard: lane.shard, events: events.length, position: to, ms: Date.now() - started });
    };

    /** Wait for the lane's write in flight; if it failed, redo that batch the careful way. */
    const land = async (lane: Lane): Promise<boolean> => {
      const flight = flights.get(lane.lane);
      if (!flight) return true;
      flights.delete(lane.lane);
      try {
        await flight.done;
        return true;
      } catch (e) {
        // The cache holds the failed batch's entries: take them out.
        if (!flight.undo) caches.set(lane.lane, newCache());
        else if (flight.commitSent) throw ledgerInDoubt(lane);
        else flight.undo();
        if (e instanceof LaneChangedError) throw e;
        await apply(lane, flight.events, flight.to);
        return false;
      }
    };

    /** One page for one lane, folded while the lane's previous page is written. */
    const step = async (lane: Lane, events: StoredEvent[], position: bigint): Promise<void> => {
      if (!pipeline) return apply(lane, events, position);
      let plan: BatchPlan | undefined;
      try {
        await o.prepare?.(lane, events);
        const cache = caches.get(lane.lane)!;
        plan = await foldBatch(o.pool, refs.get(lane.lane)!, {
          events, position, dead: new Map(), loadEvents, cache, pending: flights.get(lane.lane)?.plan,
        });
      } catch {
        plan = undefined; // a fold that fails goes the careful way below, with retries and dead letters
      }
      const t0 = performance.now();
      const landed = await land(lane);
      timings.add('write (waited)', performance.now() - t0);
      if (!landed || !plan) return apply(lane, events, position);
      // What the next fold sees; taken out again if this write fails.
      const cache = caches.get(lane.lane)!;
      const flight: Flight = { done: Promise.resolve(), plan, events, to: position, commitSent: false };
      if (cache instanceof MemoryLedger) flight.undo = cache.commitUndoable(plan.changed, plan.before);
      else cache.commit(plan.changed);
      flight.done = commitPlan(lane, plan, events, position, flight);
      flight.done.catch(() => undefined);
      flights.set(lane.lane, flight);
    };
    /** Move a shard's lane to `to` when nothing up to there is its own: a checkpoint and no rows. */
    const skipTo = async (lane: Lane, to: bigint): Promise<void> => {
      await land(lane);
      await transaction(o.pool, (client) => advanceLane(client, lane, to, 0, 0));
      lane.position = to;
    };
    /**
     * Whether a shard's lane with nothing of its own to fold has events parked: their email may
     * have been sent by another shard's tenant meanwhile, which only a fold finds out (and
     * dead-letters them, as unsharded).
     */
    const waitsOnOtherShards = async (lane: Lane): Promise<boolean> => {
      if (shard.count === 1 || !usesLedger(lane.projections)) return false;
      const { rowCount } = await o.pool.query('SELECT 1 FROM floe.projection_parked WHERE lane = $1 AND shard = $2 LIMIT 1', [lane.lane, lane.shard]);
      return rowCount === 1 || (flights.get(lane.lane)?.plan.parked.size ?? 0) > 0;
    };
    const landAll = async () => {
      for (const lane of lanes) await land(lane);
    };
    /**
     * Save the lane's memory ledger, if it has one, once its writes have landed (a transient
     * failure is retried); the lane then saves its ledger with every batch (a bounded cache).
     */
    const saveMemoryLedgerOf = async (lane: Lane): Promise<void> => {
      const kept = await keptLedgerOf(lane);
      if (!kept) return;
      await saveKeptLedger(o.pool, kept, { backoffMs, log });
      caches.set(lane.lane, newCache());
    };
    /** The lane's memory ledger, if it has one, once its writes have landed: at the lane's position. */
    const keptLedgerOf = async (lane: Lane): Promise<KeptLedger | undefined> => {
      const ledger = caches.get(lane.lane);
      if (!(ledger instanceof MemoryLedger)) return undefined;
      await land(lane);
      return { lane: lane.lane, shard: lane.shard, position: lane.position, ledger };
    };
    const saveMemoryLedgers = async () => {
      for (const lane of lanes) await saveMemoryLedgerOf(lane);
    };

    if (!o.untilCaughtUp) {
      listener = new Client({ connectionString: o.url });
      listener.on('notification', () => wake?.());
      listener.on('error', () => (listener = undefined));
      await listener.connect();
      await listener.query(`LISTEN ${EVENTS_CHANNEL}`);
    }
    /** Whether `e` is a batch given up because the run is stopping (said once, here). */
    const stopping = (e: unknown): boolean => {
      if (!(e instanceof BatchAbandoned)) return false;
      log(`projector: stopping; ${e.message}`);
      return true;
    };
    const ahead = new Map<string, ReturnType<typeof read>>();
    /**
     * A write found that a rebuild swapped one of its lane's projections out (its batch was
     * rolled back): drop what is in flight and read ahead, take up the new lanes, go on.
     */
    const relayout = async (e: unknown): Promise<void> => {
      if (!(e instanceof LaneChangedError)) throw e;
      log(`projector: ${e.message}; taking up the new lane layout`);
      await restart();
    };
    /**
     * Let every write in flight land (one that failed is left to the lanes' next batch, read
     * again from their committed positions), drop what was read ahead, read the lanes again.
     */
    const restart = async (): Promise<void> => {
      let failed = false;
      for (const f of flights.values()) await f.done.catch(() => (failed = true));
      flights.clear();
      folded.clear();
      for (const p of ahead.values()) await p.catch(() => undefined);
      ahead.clear();
      // Memory ledgers are saved (fenced by the lanes' positions) when every write landed; one
      // whose write failed holds that write's entries: it is dropped unsaved, and its lane
      // (ledger_at behind) is folded again from the start.
      if (!failed) await saveMemoryLedgers().catch((e) => log(`projector: could not save an email ledger kept in memory (${describe(e)}); its lane is folded again`));
      lanes = await resolveLanes(o.pool, o.projections, shard, log, tableName, { merge: true });
      await adopt();
    };
    /**
     * Take the locks again on a new connection once the one holding them failed, waiting out
     * a database that is down; then start over from the lanes' committed positions, as after
     * a relayout (positions another writer moved meanwhile included). Another projector that
     * took the locks meanwhile: this one stops (LOCKS_TAKEN).
     */
    const relock = async (failed: HeldLocks, lost: Error): Promise<void> => {
      log(`projector: lost the connection holding its locks (${lost.message}); taking them again`);
      await failed.close();
      locks = undefined;
      for (let attempt = 1; ; attempt++) {
        if (o.signal?.aborted) return;
        let c: PoolClient | undefined;
        try {
          c = await o.pool.connect();
          const held = watchLockConnection(c, 'the projector');
          release = await lockProjections(c, o.projections.map((p) => p.name), key);
          locks = held;
          break;
        } catch (e) {
          c?.release(true);
          if (e instanceof ProjectionBusyError) {
            throw new FloeError('LOCKS_TAKEN', `${e.message} while this projector had lost its connection; stopping (the other one goes on)`);
          }
          if (!isTransient(e) || attempt >= 60) throw e;
          await sleep(Math.min(backoffMs * 2 ** attempt, 5000), o.signal);
        }
      }
      await restart();
      log('projector: locks taken again; going on');
    };
    const layout = (ls: Lane[]) => ls.map((l) => `${l.lane}:${l.projections.map((p) => p.name).sort().join('+')}`).join(' ');
    let mergeTried = '';
    const next = (lane: Lane) => {
      const page = ahead.get(lane.lane) ?? read(lane, folded.get(lane.lane) ?? lane.position);
      ahead.delete(lane.lane);
      return page;
    };
    while (!o.signal?.aborted) {
      const lost = locks?.lost();
      if (locks && lost) await relock(locks, lost);
      let progressed = false;
      for (const lane of lanes) {
        const t0 = performance.now();
        const { events, to: position } = await next(lane);
        timings.add('read + decode (waited)', performance.now() - t0);
        if (position <= (folded.get(lane.lane) ?? lane.position)) continue;
        progressed = true;
        if (events.length === batchSize) {
          const prefetch = read(lane, position);
          prefetch.catch(() => undefined);
          ahead.set(lane.lane, prefetch);
        }
        try {
          folded.set(lane.lane, position);
          await (events.length || (await waitsOnOtherShards(lane)) ? step(lane, events, position) : skipTo(lane, position));
          const ledger = caches.get(lane.lane);
          if (ledger instanceof MemoryLedger && ledger.size > o.memoryLedgerLimit!) await saveMemoryLedgerOf(lane); // outgrown
        } catch (e) {
          if (stopping(e)) break;
          await relayout(e);
          progressed = true;
          break;
        }
        if (o.signal?.aborted) break;
      }
      if (progressed) continue;
      try {
        await landAll();
        if (!keep) await saveMemoryLedgers(); // caught up: memory ledgers are saved before anything else
      } catch (e) {
        if (stopping(e)) break; // what is left is landed below
        await relayout(e); // the last write before going idle found the lane changed
        continue;
      }
      // Caught up: lanes that now stand at one position (a rebuilt projection's lane has
      // caught up with the others) are merged; tried once per layout of lanes.
      const before = layout(lanes);
      // (Not with memory ledgers kept: a merge would find their lanes unsaved, and re-project them.)
      if (!keep && new Set(lanes.map((l) => l.position)).size < lanes.length && before !== mergeTried) {
        mergeTried = before;
        lanes = await resolveLanes(o.pool, o.projections, shard, log, tableName, { merge: true });
        if (layout(lanes) !== before) {
          folded.clear(); // nothing is read ahead here: every lane was caught up
          await adopt();
          continue;
        }
      }
      if (o.untilCaughtUp) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, o.pollMs ?? 1000);
        const onAbort = () => done();
        o.signal?.addEventListener('abort', onAbort, { once: true });
        wake = done;
        function done() {
          clearTimeout(t);
          wake = undefined;
          o.signal?.removeEventListener('abort', onAbort);
          resolve();
        }
      });
    }
    // Stopped: a batch whose lane changed meanwhile was rolled back, and the next run folds it.
    await landAll().catch((e) => {
      if (stopping(e)) return;
      if (!(e instanceof LaneChangedError)) throw e;
      log(`projector: ${e.message}; its last batch is left to the next run`);
    });
    if (keep && !o.signal?.aborted) {
      // Caught up: the caller saves them, or lets them go with their lanes.
      result.memoryLedgers = [];
      for (const lane of lanes) {
        const kept = await keptLedgerOf(lane);
        if (kept) result.memoryLedgers.push(kept);
      }
    } else {
      await saveMemoryLedgers(); // stopped (caught up, or a signal): what is in memory is saved at the lane's position
    }
    for (const p of ahead.values()) await p.catch(() => undefined);
    result.lanes = lanes.map((l) => ({ lane: l.lane, shard: l.shard, position: l.position, projections: l.projections.map((p) => p.name) }));
    return result;
  } finally {
    for (const f of flights.values()) await f.done.catch(() => undefined); // never leave a write behind the locks
    await listener?.end().catch(() => undefined);
    await locks?.close(release);
  }
}
