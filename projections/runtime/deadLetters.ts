/**
 * Dead letters: events a lane could not apply (a fold threw after retries, a write kept
 * failing for that one event, or the event names another tenant's email). The lane moved
 * on without them: no projection of the lane counted them and the ledger does not hold
 * them. `retryDeadLetters` re-applies them through the same batch path, in one
 * transaction per lane, once the cause is fixed; events that still fail stay dead with
 * the new error and one more attempt.
 */
import type { Pool, PoolClient } from 'pg';
import type { StoredEvent } from '../../streams/envelope';
import { readStoredAt } from '../../streams/postgres/read';
import type { SchemaResolver } from '../../streams/postgres/schemaRegistry';
import { applyBatch, describe, FoldError, type DeadLetter } from './batch';
import { lockLaneLayout, lockProjections, watchLockConnection } from './lanes';
import { isTransient } from './runner';
import type { AnyProjection } from './types';

export interface DeadLetterRow {
  id: number;
  lane: string;
  shard: string;
  projection: string | null;
  eventId: string;
  position: bigint;
  type: string;
  tenantId: string;
  error: string;
  retriable: boolean;
  attempts: number;
  failedAt: Date;
  resolvedAt: Date | null;
}

export async function listDeadLetters(pool: Pool, o: { all?: boolean; projection?: string } = {}): Promise<DeadLetterRow[]> {
  // Only lanes that still exist: a rebuild retires lanes, and their state goes with them.
  const where = [o.all ? 'true' : 'd.resolved_at IS NULL', 'EXISTS (SELECT 1 FROM floe.projection_lanes l WHERE l.lane = d.lane AND l.shard = d.shard)'];
  const values: unknown[] = [];
  if (o.projection) {
    values.push(o.projection);
    where.push(`EXISTS (SELECT 1 FROM floe.projection_checkpoints c WHERE c.lane = d.lane AND c.shard = d.shard AND c.projection = $1)`);
  }
  const { rows } = await pool.query(
    `SELECT id, lane, shard, projection, event_id, position, type, tenant_id, error, retriable, attempts, failed_at, resolved_at
       FROM floe.dead_letters d WHERE ${where.join(' AND ')} ORDER BY position`,
    values,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    lane: r.lane,
    shard: r.shard,
    projection: r.projection,
    eventId: r.event_id,
    position: BigInt(r.position),
    type: r.type,
    tenantId: r.tenant_id,
    error: r.error,
    retriable: r.retriable,
    attempts: r.attempts,
    failedAt: r.failed_at,
    resolvedAt: r.resolved_at,
  }));
}

export interface RetryResult {
  retried: number;
  resolved: number;
  stillFailing: Array<{ eventId: string; error: string }>;
  skipped: Array<{ eventId: string; error: string }>;
}

/**
 * Re-apply open dead letters (all, or those of `eventIds` and of the lane `projection` is in) with the registered
 * projections. Takes the locks of each lane's projections: fails with PROJECTION_BUSY
 * while a projector runs that lane.
 */
export async function retryDeadLetters(
  pool: Pool,
  schemas: SchemaResolver,
  projections: readonly AnyProjection[],
  o: { eventIds?: string[]; projection?: string } = {},
): Promise<RetryResult> {
  const result: RetryResult = { retried: 0, resolved: 0, stillFailing: [], skipped: [] };
  const open = (await listDeadLetters(pool, { projection: o.projection })).filter((d) => !o.eventIds || o.eventIds.includes(d.eventId));
  for (const d of open.filter((x) => !x.retriable)) result.skipped.push({ eventId: d.eventId, error: d.error });
  const byLane = new Map<string, DeadLetterRow[]>();
  for (const d of open.filter((x) => x.retriable)) {
    const k = `${d.lane}\u0000${d.shard}`;
    byLane.set(k, [...(byLane.get(k) ?? []), d]);
  }
  for (const letters of byLane.values()) {
    const { lane, shard } = letters[0];
    const skip = (why: string) => {
      for (const d of letters) result.skipped.push({ eventId: d.eventId, error: `not retried: ${why}; ${d.error}` });
    };
    const state = await laneState(pool, lane, shard, projections);
    if (state.refused) {
      skip(state.refused);
      continue;
    }
    const members = state.members;
    const lockClient = await pool.connect();
    const locks = watchLockConnection(lockClient, `lane ${lane} (shard ${shard})`);
    let release: (() => Promise<void>) | undefined;
    try {
      release = await lockProjections(lockClient, members.map((p) => p.name), shard);
      const events = await loadEvents(pool, schemas, letters.map((l) => l.position));
      const dead = new Map<string, DeadLetter>();
      const ref = { lane, shard, projections: members, table: (_p: AnyProjection, t: string) => t };
      /**
       * Apply in one transaction; a fold that throws leaves its event dead and the rest is tried
       * again. The transaction holds the shard's lane layout, so a rebuild's swap cannot move a
       * member to another lane under it: one that did before it got the lock is found here, and
       * the lane is left (LaneChangedMeanwhile).
       */
      const apply = async (batch: StoredEvent[]): Promise<void> => {
        for (;;) {
          const client: PoolClient = await pool.connect();
          try {
            await client.query('BEGIN');
            await lockLaneLayout(client, shard);
            const now = await laneState(client, lane, shard, projections);
            const moved = now.refused ?? (sameNames(now.members, members) ? undefined : `its projections are now ${names(now.members)}, not ${names(members)} (a rebuild swapped meanwhile): run it again`);
            if (moved) throw new LaneChangedMeanwhile(moved);
            await client.query(
              'UPDATE floe.dead_letters SET resolved_at = now() WHERE lane = $1 AND shard = $2 AND event_id = ANY($3::uuid[])',
              [lane, shard, batch.map((e) => e.id)],
            );
            await applyBatch(client, ref, { events: batch, position: 0n, dead, loadEvents: (ps) => loadEvents(pool, schemas, ps) });
            locks.check(); // the lane's projector may be writing again
            await client.query('COMMIT');
            return;
          } catch (e) {
            await client.query('ROLLBACK').catch(() => undefined);
            if (!(e instanceof FoldError)) throw e;
            dead.set(e.event.id, { event: e.event, projection: e.projection, error: describe(e.cause), retriable: true });
          } finally {
            client.release();
          }
        }
      };
      try {
        await apply(events);
      } catch (e) {
        if (e instanceof LaneChangedMeanwhile) {
          skip(e.message);
          continue;
        }
        if (isTransient(e) || locks.lost()) throw e; // the database, not the events: retry later
        // A write failed and no fold is to blame: one event at a time, in order; the one that
        // fails again stays dead with the new error (and one more attempt).
        for (const event of events) {
          try {
            await apply([event]);
          } catch (again) {
            if (isTransient(again) || locks.lost() || again instanceof LaneChangedMeanwhile) throw again;
            dead.set(event.id, { event, projection: null, error: describe(again), retriable: true });
            await apply([event]);
          }
        }
      }
      result.retried += letters.length;
      result.resolved += letters.length - dead.size;
      for (const d of dead.values()) result.stillFailing.push({ eventId: d.event.id, error: d.error });
    } finally {
      await locks.close(release);
    }
  }
  return result;
}

class LaneChangedMeanwhile extends Error {}

const names = (ps: readonly AnyProjection[]) => ps.map((p) => p.name).sort().join(', ') || 'none';
const sameNames = (a: readonly AnyProjection[], b: readonly AnyProjection[]) => names(a) === names(b);

/**
 * The registered projections a lane folds, or why its dead letters are not this process's to
 * retry: a lane holding a projection it does not fold (a rebuild's shadow), or whose email
 * ledger is kept in memory by its run (not saved yet); its own run is the one to apply
 * anything to it.
 */
async function laneState(
  db: Pool | PoolClient,
  lane: string,
  shard: string,
  projections: readonly AnyProjection[],
): Promise<{ members: AnyProjection[]; refused?: string }> {
  const { rows } = await db.query<{ projection: string }>('SELECT projection FROM floe.projection_checkpoints WHERE lane = $1 AND shard = $2', [lane, shard]);
  const members = projections.filter((p) => rows.some((r) => r.projection === p.name));
  const foreign = rows.filter((r) => !members.some((p) => p.name === r.projection)).map((r) => r.projection);
  if (foreign.length) return { members, refused: `its lane folds ${foreign.join(', ')} (a rebuild)` };
  const { rows: laneRow } = await db.query<{ ledger_at: string | null }>('SELECT ledger_at FROM floe.projection_lanes WHERE lane = $1 AND shard = $2', [lane, shard]);
  if (laneRow[0]?.ledger_at != null) return { members, refused: 'its lane keeps its email ledger in memory (a rebuild running, or stopped before saving it)' };
  return { members };
}

const loadEvents = async (pool: Pool, schemas: SchemaResolver, positions: bigint[]): Promise<StoredEvent[]> =>
  readStoredAt(pool, positions, schemas);
