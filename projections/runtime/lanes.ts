/**
 * Which lane each projection folds in, and the locks that keep a (projection, shard)
 * single-writer.
 *
 * A projection whose checkpoint sits at its lane's position joins that lane. A new one
 * joins a lane at position 0 or opens one. A projection that fell behind its lane (it
 * was left out of a `--only` run while the lane moved on) or whose version changed is
 * re-projected from the start in a fresh lane: its tables are emptied (of the shard's
 * tenants' rows, when sharded) in the same transaction that resets its checkpoint.
 *
 * Lanes that have reached the same position are merged (`merge`): a rebuilt projection
 * comes back in its own lane, and every lane reads the store and keeps an email ledger
 * of its own, so two lanes at one position do the same work twice.
 */
import type { Pool, PoolClient } from 'pg';
import { FloeError } from '../../schemas/errors';
import { TENANT_SHARD_SQL } from '../../streams/postgres/read';
import { LEDGER_RULES, usesLedger } from './ledger';
import { transaction } from './sql';
import type { AnyProjection } from './types';

/**
 * SQL: whether the lane row `alias` has moved on from a saved email ledger that is behind it:
 * its run kept the ledger in memory (the runner's memoryLedgerLimit) and stopped before saving
 * it, so the saved one lacks entries and the lane's projections must be folded from the start.
 */
export const LEDGER_UNSAVED = (alias: string): string => `(${alias}.ledger_at IS NOT NULL AND ${alias}.ledger_at <> ${alias}.position)`;

export interface ShardSpec {
  index: number;
  count: number;
}

export const shardKey = (s: ShardSpec): string => `${s.index}/${s.count}`;

/**
 * The way a shard key splits the work: `N` for `I/N` (tenant hash), `kafka:TOPIC` for
 * `kafka:TOPIC/P` (partition P of a Kafka topic, `floe project --source kafka`). A
 * projection's shards all belong to one family: mixing two would count events twice.
 */
export const shardFamily = (key: string): string => (key.startsWith('kafka:') ? key.slice(0, key.lastIndexOf('/')) : key.split('/')[1]);

const howProjected = (family: string): string =>
  family.startsWith('kafka:')
    ? `from Kafka topic ${family.slice('kafka:'.length)} (floe project --source kafka)`
    : family === '1'
      ? 'from the store, unsharded (floe project)'
      : `from the store with --shards ${family}`;

export interface Lane {
  lane: string;
  shard: string;
  position: bigint;
  projections: AnyProjection[];
}

export class ProjectionBusyError extends FloeError {
  constructor(projection: string, shard: string) {
    super('PROJECTION_BUSY', `projection ${projection} (shard ${shard}) is being projected by another process`, {
      retriable: true,
      context: { projection, shard },
    });
  }
}

/** Session advisory locks held on one connection, watched for its failure. */
export interface HeldLocks {
  /** The connection's failure, if it failed: the locks went with it. */
  lost(): Error | undefined;
  /** Throw LOCK_LOST once the connection failed: for work that must not go on without the locks. */
  check(): void;
  /** Unlock (`unlock`, from lockProjections) and give the connection back; a failed one is discarded. */
  close(unlock?: () => Promise<void>): Promise<void>;
}

/**
 * Watch the connection holding session advisory locks: when it fails (the server restarted,
 * the backend was terminated), the locks are gone with it.
 */
export function watchLockConnection(client: PoolClient, what: string): HeldLocks {
  let lost: Error | undefined;
  const onError = (e: Error) => (lost ??= e);
  client.on('error', onError);
  return {
    lost: () => lost,
    check: () => {
      if (lost) throw new FloeError('LOCK_LOST', `lost the connection holding the locks of ${what} (${lost.message}); run it again`);
    },
    async close(unlock) {
      if (lost) return client.release(lost); // destroyed by the pool, still watched until then
      // A connection whose unlock failed would go back to the pool holding the locks: its end releases them.
      await unlock?.().catch((e: Error) => (lost ??= e));
      if (lost) return client.release(lost);
      client.off('error', onError); // back to the pool (which watches idle connections): the next holder watches it afresh
      client.release();
    },
  };
}

/** Session-level advisory locks, one per (projection, shard), held on `client` until released. */
export async function lockProjections(client: PoolClient, names: string[], shard: string): Promise<() => Promise<void>> {
  const taken: string[] = [];
  const release = async () => {
    for (const name of taken.splice(0)) {
      await client.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [`floe.projection:${name}@${shard}`]);
    }
  };
  for (const name of [...names].sort()) {
    const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok`, [
      `floe.projection:${name}@${shard}`,
    ]);
    if (!rows[0].ok) {
      await release();
      throw new ProjectionBusyError(name, shard);
    }
    taken.push(name);
  }
  return release;
}

interface CheckpointRow {
  projection: string;
  shard: string;
  lane: string;
  version: number;
  position: string;
}

/**
 * Assign each projection to a lane for this shard, resetting stale ones. Call with the
 * projections' locks held.
 */
export async function resolveLanes(
  pool: Pool,
  projections: AnyProjection[],
  shard: ShardSpec | string,
  log: (m: string) => void,
  tableName: (p: AnyProjection, t: string) => string,
  options: { refuseStale?: boolean; merge?: boolean } = {},
): Promise<Lane[]> {
  const key = typeof shard === 'string' ? shard : shardKey(shard);
  const family = shardFamily(key);
  const names = projections.map((p) => p.name);
  const client = await pool.connect();
  let merged: Array<{ lane: string; shard: string }> = [];
  let resolved: Lane[];
  try {
    await client.query('BEGIN');
    await lockLaneLayout(client, key);
    const { rows: cps } = await client.query<CheckpointRow>(
      'SELECT projection, shard, lane, version, position FROM floe.projection_checkpoints WHERE projection = ANY($1::text[])',
      [names],
    );
    const other = cps.find((c) => shardFamily(c.shard) !== family && BigInt(c.position) > 0n);
    if (other) {
      const theirs = shardFamily(other.shard);
      throw new FloeError(
        'SHARD_MISMATCH',
        `projection ${other.projection} was projected ${howProjected(theirs)}; ` +
          (theirs.startsWith('kafka:') || family.startsWith('kafka:')
            ? 'keep projecting it that way (a projection is projected from the store or from one Kafka topic, never both)'
            : 'keep that shard count (a projection keeps the one it was first projected with)'),
        { context: { projection: other.projection, shard: other.shard } },
      );
    }
    const { rows: laneRows } = await client.query<{ lane: string; position: string; unsaved: boolean }>(
      `SELECT lane, position, coalesce(${LEDGER_UNSAVED('l')}, false) AS unsaved FROM floe.projection_lanes l WHERE shard = $1`,
      [key],
    );
    const lanePos = new Map(laneRows.map((r) => [r.lane, BigInt(r.position)]));
    const unsaved = new Set(laneRows.filter((r) => r.unsaved).map((r) => r.lane));
    const mine = new Map(cps.filter((c) => c.shard === key).map((c) => [c.projection, c]));
    const lanes = new Map<string, Lane>();
    const fresh: AnyProjection[] = [];
    for (const p of projections) {
      const cp = mine.get(p.name);
      if (cp && cp.version === p.version && lanePos.get(cp.lane) === BigInt(cp.position) && !unsaved.has(cp.lane)) {
        const lane = lanes.get(cp.lane) ?? { lane: cp.lane, shard: key, position: BigInt(cp.position), projections: [] };
        lane.projections.push(p);
        lanes.set(cp.lane, lane);
        continue;
      }
      if (cp) {
        const why =
          cp.version !== p.version
            ? `version ${cp.version} → ${p.version}`
            : unsaved.has(cp.lane)
              ? `its lane ${cp.lane} kept its email ledger in memory and stopped before saving it`
              : `behind its lane ${cp.lane}`;
        // Emptying its tables is only right when this shard is the only one writing them.
        if (options.refuseStale) {
          throw new FloeError('PROJECTION_STALE', `projection ${p.name} (shard ${key}): ${why}; it cannot be re-projected partition by partition (not supported yet)`, {
            context: { projection: p.name, shard: key },
          });
        }
        log(`projection ${p.name} (shard ${key}): ${why}; re-projecting it from the start`);
        // Only this shard's rows: the other shards' tenants are theirs to re-project.
        const ofShard = typeof shard !== 'string' && shard.count > 1 ? `${TENANT_SHARD_SQL('tenant_id', String(shard.count))} = ${shard.index}` : null;
        for (const t of p.tables) await client.query(ofShard ? `DELETE FROM ${tableName(p, t)} WHERE ${ofShard}` : `TRUNCATE ${tableName(p, t)}`);
        await client.query('DELETE FROM floe.projection_checkpoints WHERE projection = $1 AND shard = $2', [p.name, key]);
      }
      fresh.push(p);
    }
    if (options.merge) merged = await mergeLanes(client, lanes, key, names, log);
    if (fresh.length) {
      let lane = [...lanes.values()].find((l) => l.position === 0n);
      if (!lane) {
        const id = lanePos.has('main') ? `lane-${Date.now().toString(36)}` : 'main';
        lane = { lane: id, shard: key, position: 0n, projections: [] };
        lanes.set(id, lane);
        await client.query(
          `INSERT INTO floe.projection_lanes (lane, shard, position, ledger_rules) VALUES ($1, $2, 0, $3)
           ON CONFLICT (lane, shard) DO UPDATE SET position = 0, ledger_at = NULL, ledger_rules = EXCLUDED.ledger_rules, updated_at = now()`,
          [id, key, LEDGER_RULES],
        );
        await dropLaneState(client, id, key);
      }
      for (const p of fresh) {
        lane.projections.push(p);
        await client.query(
          `INSERT INTO floe.projection_checkpoints (projection, shard, lane, version, position) VALUES ($1, $2, $3, $4, 0)`,
          [p.name, key, lane.lane, p.version],
        );
      }
    }
    // This run folds these lanes by its own ledger rules: a lane whose ledger other rules began
    // holds a mix from here on (at position 0 it holds nothing yet, and is this run's).
    await client.query(
      `UPDATE floe.projection_lanes SET ledger_rules = CASE WHEN position = 0 THEN $3::int END
        WHERE shard = $1 AND lane = ANY($2::text[]) AND ledger_rules IS DISTINCT FROM $3::int`,
      [key, [...lanes.keys()], LEDGER_RULES],
    );
    // Lanes nobody belongs to any more: their ledger and parking are garbage.
    const { rows: orphans } = await client.query<{ lane: string }>(
      `SELECT l.lane FROM floe.projection_lanes l WHERE l.shard = $1
         AND NOT EXISTS (SELECT 1 FROM floe.projection_checkpoints c WHERE c.lane = l.lane AND c.shard = l.shard)`,
      [key],
    );
    for (const o of orphans) {
      await dropLaneState(client, o.lane, key);
      await client.query('DELETE FROM floe.projection_lanes WHERE lane = $1 AND shard = $2', [o.lane, key]);
    }
    await client.query('COMMIT');
    resolved = [...lanes.values()];
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
  await dropRetiredLanes(pool, merged);
  return resolved;
}

/**
 * The ledger, parked events and dead letters of lanes whose row is gone (a swap left them
 * without projections, or a merge emptied them): deleted after that commit, outside its
 * locks, as a lane's ledger may be large. Until then, and if the process dies first, nothing
 * reads them: every reader goes through projection_lanes.
 */
export async function dropRetiredLanes(pool: Pool, lanes: Array<{ lane: string; shard: string }>): Promise<void> {
  for (const { lane, shard } of lanes) await transaction(pool, (client) => dropLaneState(client, lane, shard));
}

/**
 * Serialise changes to a shard's lane layout (which lanes exist, which projection is in
 * which): `resolveLanes` and a rebuild's swap take it first in their transactions, so a merge
 * and a swap never decide on each other's uncommitted moves. Transaction-scoped.
 */
export async function lockLaneLayout(client: PoolClient, shard: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`floe.lanes@${shard}`]);
}

/**
 * Merge the lanes of `lanes` that stand at one position into one, in the caller's
 * transaction: their checkpoints move to the kept lane and the others' rows are deleted
 * (returned, for `dropRetiredLanes` after the commit). Two lanes at one position have folded the same
 * events, so the kept lane's email ledger and parked events are those the others would
 * have (the kept lane is one that keeps a ledger, if any does). Left apart, with a log
 * line: lanes with a member outside this run (another process may be folding it), lanes
 * that ever dead-lettered an event for a projection error (they skipped it, the others
 * did not), and ledger lanes whose ledgers differ in size.
 */
async function mergeLanes(
  client: PoolClient,
  lanes: Map<string, Lane>,
  key: string,
  names: string[],
  log: (m: string) => void,
): Promise<Array<{ lane: string; shard: string }>> {
  const merged: Array<{ lane: string; shard: string }> = [];
  if (lanes.size < 2) return merged;
  const byPosition = new Map<bigint, Lane[]>();
  for (const l of lanes.values()) byPosition.set(l.position, [...(byPosition.get(l.position) ?? []), l]);
  const groups = [...byPosition.values()].filter((g) => g.length > 1);
  if (groups.length === 0) return merged;
  const ids = groups.flat().map((l) => l.lane);
  const { rows: foreign } = await client.query<{ lane: string }>(
    'SELECT DISTINCT lane FROM floe.projection_checkpoints WHERE shard = $1 AND lane = ANY($2::text[]) AND NOT (projection = ANY($3::text[]))',
    [key, ids, names],
  );
  const { rows: failed } = await client.query<{ lane: string }>(
    'SELECT DISTINCT lane FROM floe.dead_letters WHERE shard = $1 AND lane = ANY($2::text[]) AND retriable',
    [key, ids],
  );
  const apart = new Map<string, string>([
    ...foreign.map((r): [string, string] => [r.lane, 'it has members outside this run']),
    ...failed.map((r): [string, string] => [r.lane, 'it dead-lettered events']),
  ]);
  for (const l of groups.flat()) {
    const why = apart.get(l.lane);
    if (why) log(`lane ${l.lane} (shard ${key}) stays apart from the lanes at its position ${l.position}: ${why}`);
  }
  const mergeable = groups.map((g) => g.filter((l) => !apart.has(l.lane))).filter((g) => g.length > 1);
  if (mergeable.length === 0) return merged;
  const { rows: sizes } = await client.query<{ lane: string; n: string }>(
    'SELECT lane, count(*) AS n FROM floe.projection_email_ledger WHERE shard = $1 AND lane = ANY($2::text[]) GROUP BY lane',
    [key, mergeable.flat().map((l) => l.lane)],
  );
  const ledgerSize = new Map(sizes.map((r) => [r.lane, r.n]));
  for (const candidates of mergeable) {
    // Keep a lane that keeps a ledger, so that the merged lane has one whenever it needs it;
    // of those the newest, whose ledger was folded from the start by the code running now.
    const [kept, ...others] = [...candidates].sort((a, b) => Number(usesLedger(b.projections)) - Number(usesLedger(a.projections)) || laneCreated(b.lane) - laneCreated(a.lane));
    for (const l of others) {
      const a = ledgerSize.get(kept.lane) ?? '0';
      const b = ledgerSize.get(l.lane) ?? '0';
      if (usesLedger(l.projections) && a !== b) {
        log(`lane ${l.lane} (shard ${key}) stays apart from lane ${kept.lane}: their email ledgers differ (${b} and ${a} emails)`);
        continue;
      }
      await client.query('UPDATE floe.projection_checkpoints SET lane = $1 WHERE shard = $2 AND lane = $3', [kept.lane, key, l.lane]);
      await client.query('DELETE FROM floe.projection_lanes WHERE lane = $1 AND shard = $2', [l.lane, key]);
      merged.push({ lane: l.lane, shard: key });
      kept.projections.push(...l.projections);
      lanes.delete(l.lane);
      log(`lane ${l.lane} (shard ${key}) merged into lane ${kept.lane} at position ${kept.position}: ${l.projections.map((p) => p.name).join(', ')}`);
    }
  }
  return merged;
}

/** When a lane was opened, from its id (`main` first, then `lane-<base-36 milliseconds>`), for ordering only. */
const laneCreated = (lane: string): number => {
  const t = lane.startsWith('lane-') ? parseInt(lane.slice('lane-'.length), 36) : 0;
  return Number.isFinite(t) ? t : 0;
};

/** A lane's ledger, parked events and dead letters (its row in projection_lanes stays). */
export async function dropLaneState(client: PoolClient, lane: string, shard: string): Promise<void> {
  for (const t of ['projection_email_ledger', 'projection_parked', 'dead_letters']) {
    await client.query(`DELETE FROM floe.${t} WHERE lane = $1 AND shard = $2`, [lane, shard]);
  }
}

/**
 * Projections whose tables cannot simply be continued: their checkpoint was written by
 * another version, or their lane moved on without them (left out of a `--only` run).
 */
export async function staleProjections(pool: Pool, projections: AnyProjection[], shard: ShardSpec): Promise<Array<{ projection: AnyProjection; why: string }>> {
  const key = shardKey(shard);
  const { rows } = await pool.query<CheckpointRow & { lane_position: string | null; unsaved: boolean }>(
    `SELECT c.projection, c.shard, c.lane, c.version, c.position, l.position AS lane_position, coalesce(${LEDGER_UNSAVED('l')}, false) AS unsaved
       FROM floe.projection_checkpoints c LEFT JOIN floe.projection_lanes l ON l.lane = c.lane AND l.shard = c.shard
      WHERE c.shard = $1 AND c.projection = ANY($2::text[])`,
    [key, projections.map((p) => p.name)],
  );
  const out: Array<{ projection: AnyProjection; why: string }> = [];
  for (const r of rows) {
    const p = projections.find((x) => x.name === r.projection)!;
    if (r.version !== p.version) out.push({ projection: p, why: `version ${r.version} → ${p.version}` });
    else if (r.lane_position === null || r.lane_position !== r.position) out.push({ projection: p, why: `behind its lane ${r.lane}` });
    else if (r.unsaved) out.push({ projection: p, why: `its lane ${r.lane} stopped before saving the email ledger it kept in memory` });
  }
  return out;
}

/**
 * About how many events a projector of these projections has left to fold up to `head`:
 * per lane, from its position (a projection with no checkpoint in this shard starts a lane
 * at 0). For progress displays; re-projections of stale projections are not counted.
 */
export async function eventsToFold(pool: Pool, names: string[], shard: string, head: bigint): Promise<number> {
  const { rows } = await pool.query<{ projection: string; lane: string; position: string }>(
    `SELECT c.projection, l.lane, l.position FROM floe.projection_checkpoints c
       JOIN floe.projection_lanes l ON l.lane = c.lane AND l.shard = c.shard
      WHERE c.shard = $1 AND c.projection = ANY($2::text[])`,
    [shard, names],
  );
  const lanes = new Map(rows.map((r) => [r.lane, BigInt(r.position)]));
  let total = 0n;
  for (const position of lanes.values()) if (head > position) total += head - position;
  if (new Set(rows.map((r) => r.projection)).size < names.length) total += head;
  return Number(total);
}
