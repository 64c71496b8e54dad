/**
 * Blue/green rebuilds (DESIGN §6). `rebuild` folds a projection from position 0 into
 * shadow copies of its tables (`<table>__shadow`, private ones too) under its own
 * checkpoint (`<name>__shadow`) and lane, while the live projection keeps serving and
 * advancing. Then, in one short transaction holding the live tables' locks:
 *
 * - whole projection: the live tables are dropped and the shadows (with their
 *   partitions, indexes and policies) renamed into place; the projection's checkpoint
 *   becomes the shadow's, so the live projector, whose next batch finds its lane changed,
 *   takes the projection up from there in the rebuilt lane — or, when the live lane stands
 *   where the shadow does and holds the same email ledger (`handOver`), the projection stays
 *   in its live lane and the shadow's lane goes, its ledger never saved;
 * - one period (`--period YYYY-MM`): the shadow is caught up to exactly the live
 *   checkpoint, and only that month's partition of each partitioned table is exchanged
 *   (DETACH/ATTACH); every other month and the checkpoint stay as they are.
 *
 * Killed at any point before that transaction commits, the live tables are untouched;
 * run again, the rebuild resumes from the shadow's checkpoint once its email ledger was
 * saved (before a swap that hands the shadow's lane over, on a signal, or once it outgrew
 * memory: see REBUILD_LEDGER_IN_MEMORY), and starts afresh otherwise.
 */
import { getHeapStatistics } from 'node:v8';
import type { Pool, PoolClient } from 'pg';
import { FloeError } from '../schemas/errors';
import type { SchemaResolver } from '../streams/postgres/schemaRegistry';
import { parseMonth } from './billing/periods';
import { project } from './pipeline';
import { dropLaneState, dropRetiredLanes, LEDGER_UNSAVED, lockLaneLayout, lockProjections, ProjectionBusyError, watchLockConnection } from './runtime/lanes';
import { describe } from './runtime/batch';
import { encodeState, LEDGER_RULES, loadLedger } from './runtime/ledger';
import { isTransient, saveKeptLedger, type BatchReport, type KeptLedger } from './runtime/runner';
import { transaction } from './runtime/sql';
import type { AnyProjection, EmailState } from './runtime/types';
import { tableDef, TABLES } from './tables/ddl';
import { ensureMonthPartitions, listPartitions, MONTHS_AHEAD } from './tables/partitions';
import { monthStart, utcDay } from './utc';
import { MATERIALIZED_VIEWS } from './tables/views';
import { ident } from './tables/names';

export const SHADOW = '__shadow';

/**
 * Emails whose ledger entries a rebuild keeps in memory, saved once at the end (unless the
 * rebuilt projection stays in its live lane: `handOver`) instead of with every batch (the
 * runner's `memoryLedgerLimit`): saving the ledger batch by batch was most of a rebuild's
 * writes (a rebuild of `campaign_analytics` from 1.06 million events: 15.3 s against
 * 12.7 s). Each entry holds about 0.8 KB of heap (peak RSS 610 MB with 286k
 * emails, 383 MB without), so the bound is some 500 MB, reached by a store of about 2.2
 * million events of the generated workload, or a quarter of the V8 heap limit if that is
 * less; past it the ledger is saved and the rebuild goes on saving it with every batch.
 * Killed before its ledger is saved, a rebuild starts afresh when run again; stopped by a
 * signal, it saves it and resumes.
 */
export const REBUILD_LEDGER_IN_MEMORY = 600_000;
const LEDGER_ENTRY_BYTES = 800;
const rebuildLedgerLimit = (): number =>
  Math.min(REBUILD_LEDGER_IN_MEMORY, Math.floor(getHeapStatistics().heap_size_limit / 4 / LEDGER_ENTRY_BYTES));
export const shadowName = (table: string): string => `${table}${SHADOW}`;

export interface RebuildOptions {
  pool: Pool;
  url: string;
  schemas: SchemaResolver;
  projection: AnyProjection;
  /** `YYYY-MM`: rebuild only that month's partitions. */
  period?: string;
  batchSize?: number;
  log?: (m: string) => void;
  onBatch?: (b: BatchReport) => void;
  signal?: AbortSignal;
  /** How long the swap waits for the live tables' locks before it lets go and tries again (default 10 s). */
  swapLockTimeoutMs?: number;
}

/** Swaps tried before a rebuild gives up: each waits for the locks, then catches up again. */
const SWAP_ATTEMPTS = 20;

export interface RebuildResult {
  projection: string;
  period: string | null;
  /** Position the rebuilt tables reflect. */
  position: bigint;
  events: number;
  seconds: number;
  swapped: string[];
  resumed: boolean;
  /**
   * The live lane the rebuilt projection stayed in, going on with that lane's email ledger (the
   * one the rebuild built was the same, and was not saved); null when the rebuild's own lane
   * took over (or for a period, whose swap keeps the live checkpoint).
   */
  liveLane: string | null;
}

const PARTITIONED = new Map(TABLES.filter((t) => t.partitionColumn).map((t) => [t.name, t.partitionColumn!]));
const isPublic = (t: string) => !t.includes('.');

export async function rebuild(o: RebuildOptions): Promise<RebuildResult> {
  const p = o.projection;
  const log = o.log ?? (() => undefined);
  const started = Date.now();
  const period = o.period === undefined ? null : parsePeriod(o.period);
  if (period && !p.tables.some((t) => PARTITIONED.has(t))) {
    throw new FloeError('NOT_PARTITIONED', `projection ${p.name} has no monthly partitions: rebuild it whole (without --period)`);
  }
  const sharded = await o.pool.query(`SELECT shard FROM floe.projection_checkpoints WHERE projection = $1 AND shard <> '0/1'`, [p.name]);
  if (sharded.rowCount) {
    throw new FloeError('SHARDED_REBUILD', `projection ${p.name} is projected in shards (${sharded.rows[0].shard}); rebuilds run unsharded only`);
  }
  // A period swap keeps the live checkpoint, so the live tables must have one: a month
  // swapped into tables that were never projected would be folded again on top.
  const liveAtStart = period ? await livePosition(o.pool, p.name) : null;
  if (period && liveAtStart === null) {
    throw new FloeError('NOT_PROJECTED', `projection ${p.name} has not been projected yet: run floe project (or rebuild it whole) before rebuilding one period`);
  }
  const shadow: AnyProjection = { ...p, name: shadowName(p.name) };
  const table = (_q: AnyProjection, t: string) => shadowName(t);

  const lockClient = await o.pool.connect();
  const locks = watchLockConnection(lockClient, `the rebuild of ${p.name}`);
  let release: (() => Promise<void>) | undefined;
  try {
    // One rebuild of a projection at a time; the live projector keeps its own locks.
    release = await lockProjections(lockClient, [`${p.name}#rebuild`], '0/1');
    // The shadow's own lock too while it is prepared: an earlier rebuild that lost its lock
    // connection may still be folding it, and its tables must not be dropped under it.
    const releaseShadow = await lockProjections(lockClient, [shadow.name], '0/1').catch((e) => {
      if (!(e instanceof ProjectionBusyError)) throw e;
      throw new FloeError('REBUILD_BUSY', `an earlier rebuild of ${p.name} is still folding its shadow; wait for it to stop`, { retriable: true });
    });
    let resumed: boolean;
    try {
      resumed = await prepareShadow(o.pool, p, shadow, log, liveAtStart ?? undefined);
    } finally {
      await releaseShadow();
    }
    let events = 0;
    const shadowLog = (m: string) => log(m.replace(/^projector: /, `rebuild of ${p.name}, shadow `));
    /** The shadow lane's email ledger, in memory and not saved (see `handOver`). */
    let kept: KeptLedger | undefined;
    const saveKept = async () => {
      const k = kept;
      kept = undefined;
      if (k) await saveKeptLedger(o.pool, k, { log: shadowLog });
    };
    const catchUp = async (stopAt?: bigint) => {
      await saveKept(); // a catch-up goes on from the shadow's saved ledger
      const r = await project({
        pool: o.pool,
        url: o.url,
        schemas: o.schemas,
        projections: [shadow],
        tableName: table,
        untilCaughtUp: true,
        stopAt,
        handledOnly: true,
        memoryLedgerLimit: rebuildLedgerLimit(),
        keepMemoryLedgers: true,
        batchSize: o.batchSize,
        // The shadow's lanes are not the live projector's, whatever their names.
        log: shadowLog,
        onBatch: o.onBatch,
        signal: o.signal,
        refreshEveryMs: Infinity,
      });
      events += r.events;
      kept = r.memoryLedgers?.[0];
      return r.lanes[0]?.position ?? 0n;
    };

    for (let attempt = 1; ; attempt++) {
      const live = await livePosition(o.pool, p.name);
      // A period swap keeps the live checkpoint: the shadow must stop exactly there.
      const position = await catchUp(period ? live ?? undefined : undefined);
      if (o.signal?.aborted) throw new FloeError('ABORTED', `rebuild of ${p.name} stopped at position ${position}; run it again to resume`);
      locks.check(); // one rebuild at a time: no swap without the lock (the shadow is kept: it resumes)
      // A whole rebuild whose email ledger is still in memory: the projection stays in its live
      // lane if that lane holds the same ledger; if not, the ledger is saved and the shadow's
      // lane takes over. (A period swap keeps the live checkpoint: the ledger goes with the shadow.)
      let stay: string | undefined;
      if (kept && !period) {
        const h = await handOver(o.pool, p, kept);
        if ('lane' in h) stay = h.lane;
        else {
          log(`the rebuilt ${p.name} takes over the rebuild's lane ${kept.lane}: ${h.why}; saving the email ledger it built`);
          await saveKept();
        }
      }
      const client = await o.pool.connect();
      let commitSent = false;
      try {
        await client.query('BEGIN');
        await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(o.swapLockTimeoutMs ?? 10_000))}`);
        await lockLaneLayout(client, '0/1'); // rebuilds are unsharded; see resolveLanes' merges
        // A whole swap drops the views over the tables first: a concurrent REFRESH locks the
        // view, then reads the table, so taking them in the other order can deadlock with it.
        const views = period ? [] : MATERIALIZED_VIEWS.filter((v) => p.tables.includes(v.source));
        for (const v of views) for (const sql of v.dropSql(v.name)) await client.query(sql);
        await client.query(`LOCK TABLE ${p.tables.join(', ')} IN ACCESS EXCLUSIVE MODE`);
        // Never hand over a lane whose email ledger is not saved (saved above when it was kept).
        if (!period && !stay) {
          const unsaved = await client.query(
            `SELECT 1 FROM floe.projection_checkpoints c JOIN floe.projection_lanes l USING (lane, shard) WHERE c.projection = $1 AND l.ledger_at IS NOT NULL`,
            [shadow.name],
          );
          if (unsaved.rowCount) throw new FloeError('LEDGER_UNSAVED', `the shadow of ${p.name} has not saved its email ledger; run the rebuild again`);
        }
        const now = await livePosition(client, p.name);
        // The live projection moved on meanwhile, or its lane no longer holds the ledger the
        // rebuild built: catch up again (rarely more than once).
        const moved = now !== null && (period ? now !== position : now > position);
        const lost = stay && !moved ? await handOver(client, p, kept!, { lock: true }) : undefined;
        if (moved || (lost && !('lane' in lost && lost.lane === stay))) {
          await client.query('ROLLBACK');
          if (lost && 'why' in lost) log(`the rebuilt ${p.name} cannot stay in lane ${stay} after all: ${lost.why}`);
          await saveKept();
          if (attempt >= SWAP_ATTEMPTS) throw new FloeError('REBUILD_CHASE', `rebuild of ${p.name} could not catch up with the live projection`);
          continue;
        }
        const { swapped, retired } = period ? { swapped: await swapPeriod(client, p, period), retired: [] } : await swapWhole(client, p, shadow, views, stay);
        commitSent = true;
        await client.query('COMMIT');
        if (stay) log(`the rebuilt ${p.name} stays in lane ${stay}, whose email ledger is the one the rebuild built (${kept!.ledger.size} emails): the rebuild's is not saved`);
        kept = undefined; // went with the shadow's lane
        if (period) {
          await dropShadow(o.pool, p, shadow);
          // The month changed under the views over it (a whole swap recreated them instead);
          // the swap is committed: a failed refresh is the projector's next one to make good.
          for (const v of MATERIALIZED_VIEWS.filter((x) => p.tables.includes(x.source))) {
            await o.pool.query(v.refreshSql(v.name)).catch((e) => log(`refresh of ${v.name} after the swap failed: ${(e as Error).message}`));
          }
        }
        await dropRetiredLanes(o.pool, retired);
        return { projection: p.name, period: o.period ?? null, position, events, seconds: (Date.now() - started) / 1000, swapped, resumed, liveLane: stay ?? null };
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        // A reader's long query holding the live tables (lock timeout), or a deadlock with the
        // live projector creating a month's partitions: nothing was swapped; catch up, try again.
        // (A COMMIT whose reply was lost may have swapped: that is not tried again.)
        if (!isTransient(e) || commitSent || attempt >= SWAP_ATTEMPTS || o.signal?.aborted) throw e;
        log(`the swap of ${p.name} did not get through (${describe(e)}); catching up and trying again (${attempt}/${SWAP_ATTEMPTS})`);
        await saveKept();
        continue;
      } finally {
        client.release();
      }
    }
  } finally {
    await locks.close(release);
  }
}


function parsePeriod(s: string): Date {
  const { year, month } = parseMonth(s);
  return new Date(utcDay(year, month, 1));
}

async function livePosition(db: Pool | PoolClient, name: string): Promise<bigint | null> {
  const { rows } = await db.query(`SELECT position FROM floe.projection_checkpoints WHERE projection = $1 AND shard = '0/1'`, [name]);
  return rows[0] ? BigInt(rows[0].position) : null;
}

/**
 * Create the shadow tables, or keep them when a previous run of the same version left
 * them with a checkpoint (resume). Returns whether it resumes.
 */
async function prepareShadow(pool: Pool, p: AnyProjection, shadow: AnyProjection, log: (m: string) => void, upTo?: bigint): Promise<boolean> {
  const { rows } = await pool.query(
    `SELECT c.version, c.position, coalesce(${LEDGER_UNSAVED('l')}, false) AS unsaved FROM floe.projection_checkpoints c
       LEFT JOIN floe.projection_lanes l ON l.lane = c.lane AND l.shard = c.shard WHERE c.projection = $1`,
    [shadow.name],
  );
  const exists = await Promise.all(p.tables.map((t) => relationExists(pool, shadowName(t))));
  if (rows[0] && rows[0].version === p.version && exists.every(Boolean)) {
    if (rows[0].unsaved) {
      // Its email ledger was in memory (REBUILD_LEDGER_IN_MEMORY) and went with the process.
      log(`the rebuild of ${p.name} left at position ${rows[0].position} stopped before saving its email ledger: starting it afresh`);
    } else if (upTo === undefined || BigInt(rows[0].position) <= upTo) {
      log(`resuming the rebuild of ${p.name} from position ${rows[0].position}`);
      return true;
    } else {
      // Left by a whole rebuild that got further than the live projection: a period swap needs
      // the shadow exactly at the live checkpoint, which it cannot go back to.
      log(`the shadow of ${p.name} left by an earlier rebuild is at position ${rows[0].position}, past the live projection's ${upTo}: starting it afresh`);
    }
  }
  await dropShadow(pool, p, shadow);
  await transaction(pool, async (client) => {
    for (const t of p.tables) {
      if (isPublic(t) && TABLES.some((d) => d.name === t)) {
        for (const sql of tableDef(t).create(shadowName(t))) await client.query(sql);
        // The months ahead the live table has (the migration's), so a swap does not lose them.
        const column = PARTITIONED.get(t);
        if (column) await ensureMonthPartitions(client, shadowName(t), column, new Date(), monthStart(new Date(), MONTHS_AHEAD), { inTransaction: true });
      } else {
        await client.query(`CREATE TABLE ${shadowName(t)} (LIKE ${t} INCLUDING ALL)`);
      }
    }
  });
  return false;
}

async function dropShadow(pool: Pool, p: AnyProjection, shadow: AnyProjection): Promise<void> {
  await transaction(pool, async (client) => {
    for (const t of p.tables) await client.query(`DROP TABLE IF EXISTS ${shadowName(t)} CASCADE`);
    const { rows } = await client.query(`DELETE FROM floe.projection_checkpoints WHERE projection = $1 RETURNING lane, shard`, [shadow.name]);
    for (const r of rows) {
      const others = await client.query(`SELECT 1 FROM floe.projection_checkpoints WHERE lane = $1 AND shard = $2`, [r.lane, r.shard]);
      if (others.rowCount) continue;
      await dropLaneState(client, r.lane, r.shard);
      await client.query('DELETE FROM floe.projection_lanes WHERE lane = $1 AND shard = $2', [r.lane, r.shard]);
    }
  });
}

async function relationExists(db: Pool | PoolClient, name: string): Promise<boolean> {
  const { rows } = await db.query('SELECT to_regclass($1) IS NOT NULL AS ok', [name]);
  return rows[0].ok;
}

/**
 * Whole projection: drop the live tables, rename the shadows into place, recreate the views
 * over them (dropped by the caller before it locked the tables), move the checkpoint.
 */
async function swapWhole(
  client: PoolClient,
  p: AnyProjection,
  shadow: AnyProjection,
  views: typeof MATERIALIZED_VIEWS,
  stay?: string,
): Promise<{ swapped: string[]; retired: Array<{ lane: string; shard: string }> }> {
  for (const t of p.tables) {
    await client.query(`DROP TABLE ${t} CASCADE`);
    await renameTree(client, shadowName(t), t);
  }
  for (const v of views) for (const sql of v.create(v.name, v.source)) await client.query(sql);
  if (stay) {
    // The projection stays in its live lane (`handOver`): its checkpoint takes the rebuild's
    // version and counts, and the shadow's lane goes.
    await client.query(
      `UPDATE floe.projection_checkpoints c SET version = s.version, events = s.events, ignored = s.ignored, updated_at = now()
         FROM floe.projection_checkpoints s WHERE c.projection = $1 AND s.projection = $2 AND s.shard = c.shard`,
      [p.name, shadow.name],
    );
    await client.query(`DELETE FROM floe.projection_checkpoints WHERE projection = $1`, [shadow.name]);
  } else {
    await client.query(`DELETE FROM floe.projection_checkpoints WHERE projection = $1`, [p.name]);
    await client.query(`UPDATE floe.projection_checkpoints SET projection = $1 WHERE projection = $2`, [p.name, shadow.name]);
  }
  const { rows: retired } = await client.query<{ lane: string; shard: string }>(`DELETE FROM floe.projection_lanes l WHERE NOT EXISTS
    (SELECT 1 FROM floe.projection_checkpoints c WHERE c.lane = l.lane AND c.shard = l.shard) RETURNING lane, shard`);
  return { swapped: p.tables, retired };
}

/** Entries of a kept ledger compared with the live lane's saved ones (all of them, in a smaller ledger). */
const HANDOVER_SAMPLE = 2000;

/**
 * Whether the rebuilt projection can stay in its live lane instead of moving to the shadow's,
 * and so spare saving the email ledger the rebuild built (the serial tail of a rebuild: 7 s for
 * 540k emails): the ledger of a lane is a function of the events it folded and of the ledger's
 * rules alone, whatever its projections. So it can when the projection's live checkpoint and its
 * lane stand where the shadow does, the lane's saved ledger is in step (not one kept in memory)
 * and was built by these rules from position 0 (`LEDGER_RULES`), neither lane dead-lettered an
 * event for a projection's error (which one lane skipped and the other did not), and the two
 * ledgers agree: as many entries, and equal ones for a sample spread over the kept ledger.
 * `lock`: inside the swap's transaction, after a check without it, the live lane's row and the
 * checkpoint are locked, so that the lane cannot move before the commit; the ledgers are not
 * compared again (a lane's ledger changes only as the lane moves). Otherwise why not.
 */
async function handOver(db: Pool | PoolClient, p: AnyProjection, kept: KeptLedger, o: { lock?: boolean } = {}): Promise<{ lane: string } | { why: string }> {
  const cp = await db.query<{ lane: string }>(`SELECT lane FROM floe.projection_checkpoints WHERE projection = $1 AND shard = $2`, [p.name, kept.shard]);
  if (!cp.rows[0]) return { why: `${p.name} has no live checkpoint` };
  const { lane } = cp.rows[0];
  // The lane's row first, as a batch's write takes it before the checkpoints: no deadlock with it.
  const l = await db.query<{ position: string; ledger_at: string | null; ledger_rules: number | null }>(
    `SELECT position, ledger_at, ledger_rules FROM floe.projection_lanes WHERE lane = $1 AND shard = $2${o.lock ? ' FOR UPDATE' : ''}`,
    [lane, kept.shard],
  );
  const c = await db.query<{ position: string }>(
    `SELECT position FROM floe.projection_checkpoints WHERE projection = $1 AND shard = $2 AND lane = $3${o.lock ? ' FOR UPDATE' : ''}`,
    [p.name, kept.shard, lane],
  );
  const at = String(kept.position);
  if (!l.rows[0] || l.rows[0].position !== at) return { why: `the live lane ${lane} is at ${l.rows[0]?.position ?? 'no position'}, not at the rebuild's position ${at}` };
  if (!c.rows[0] || c.rows[0].position !== at) {
    return { why: `${p.name}'s live checkpoint (lane ${lane}) is at ${c.rows[0]?.position ?? 'no position'}, not at the rebuild's position ${at}` };
  }
  if (l.rows[0].ledger_at !== null) return { why: `the live lane ${lane} keeps its email ledger in memory` };
  if (l.rows[0].ledger_rules !== LEDGER_RULES) return { why: `the live lane ${lane}'s email ledger was built by other ledger rules (${l.rows[0].ledger_rules ?? 'unknown'}, not ${LEDGER_RULES})` };
  const dead = await db.query(`SELECT 1 FROM floe.dead_letters WHERE shard = $1 AND lane = ANY($2::text[]) AND retriable LIMIT 1`, [kept.shard, [lane, kept.lane]]);
  if (dead.rowCount) return { why: `events were dead-lettered in lane ${lane} or the rebuild's` };
  // Locked, the lane stands where it stood when its ledger was compared: the ledger is the same.
  if (o.lock) return { lane };
  const n = await db.query<{ n: string }>('SELECT count(*) AS n FROM floe.projection_email_ledger WHERE lane = $1 AND shard = $2', [lane, kept.shard]);
  if (Number(n.rows[0].n) !== kept.ledger.size) return { why: `the live lane ${lane}'s email ledger holds ${n.rows[0].n} emails, the rebuild's ${kept.ledger.size}` };
  const every = Math.max(1, Math.floor(kept.ledger.size / HANDOVER_SAMPLE));
  const sample: EmailState[] = [];
  let i = 0;
  for (const s of kept.ledger.values()) if (i++ % every === 0) sample.push(s);
  const saved = await loadLedger(db, lane, kept.shard, sample.map((s) => s.emailId));
  const differs = sample.find((s) => !saved.has(s.emailId) || encodeState(saved.get(s.emailId)!) !== encodeState(s));
  if (differs) return { why: `the live lane ${lane}'s email ledger differs from the rebuild's (email ${differs.emailId})` };
  return { lane };
}

/** One month: exchange that month's partition of every partitioned public table. */
async function swapPeriod(client: PoolClient, p: AnyProjection, month: Date): Promise<string[]> {
  const swapped: string[] = [];
  const from = month.toISOString().slice(0, 10);
  const to = monthStart(month, 1).toISOString().slice(0, 10);
  const suffix = `_p${from.slice(0, 7).replace('-', '')}`;
  for (const t of p.tables.filter((x) => PARTITIONED.has(x))) {
    const column = PARTITIONED.get(t)!;
    const bounds = column === 'hour' || column === 'occurred_at' ? [`'${from} 00:00:00+00'`, `'${to} 00:00:00+00'`] : [`'${from}'`, `'${to}'`];
    // Rows of the month may wait in a DEFAULT partition (no event of theirs fell in it, e.g.
    // billing periods of warm-ups alone): then give the month its partition on both sides first.
    const sides = [t, shadowName(t)];
    let waiting = false;
    for (const side of sides) waiting ||= await defaultHolds(client, side, column, bounds);
    if (waiting) for (const side of sides) await ensureMonthPartitions(client, side, column, month, month, { inTransaction: true });
    const live = await partitionFor(client, t, bounds[0]);
    // A live partition with none on the shadow's side (the rebuild folded no event of that
    // month): it is exchanged for an empty one, not dropped, so the month keeps its partition.
    if (live && !(await partitionFor(client, shadowName(t), bounds[0]))) await ensureMonthPartitions(client, shadowName(t), column, month, month, { inTransaction: true });
    const fresh = await partitionFor(client, shadowName(t), bounds[0]);
    if (fresh) {
      await client.query(`ALTER TABLE ${shadowName(t)} DETACH PARTITION ${fresh}`);
      await renameParentChecks(client, fresh, t);
    }
    if (live) {
      await client.query(`ALTER TABLE ${t} DETACH PARTITION ${live}`);
      await client.query(`DROP TABLE ${live}`);
    }
    if (fresh) {
      await client.query(`ALTER TABLE ${t} ATTACH PARTITION ${fresh} FOR VALUES FROM (${bounds[0]}) TO (${bounds[1]})`);
      await renameTree(client, fresh, `${t}${suffix}`);
    }
    if (fresh || live) swapped.push(`${t}${suffix}`); // neither: the month has no partition on either side
  }
  return swapped;
}

/**
 * A partition attaches only with its parent's CHECK constraints under their names: those it
 * took from the shadow (`email_bounces__shadow_bounce_type_check`) take the names the live
 * table gives the same checks (`email_bounces_bounce_type_check`, or whatever an older swap
 * left there), matched by definition.
 */
async function renameParentChecks(client: PoolClient, partition: string, parent: string): Promise<void> {
  const { rows } = await client.query<{ have: string; want: string }>(
    `SELECT c.conname AS have, p.conname AS want
       FROM pg_constraint c
       JOIN pg_constraint p ON p.conrelid = $2::regclass AND p.contype = 'c' AND pg_get_constraintdef(p.oid) = pg_get_constraintdef(c.oid)
      WHERE c.conrelid = $1::regclass AND c.contype = 'c' AND c.conname <> p.conname`,
    [partition, parent],
  );
  for (const { have, want } of rows) await client.query(`ALTER TABLE ${partition} RENAME CONSTRAINT ${ident(have)} TO ${ident(want)}`);
}

/** Whether the DEFAULT partition of `table` holds rows in [bounds[0], bounds[1]). */
async function defaultHolds(client: PoolClient, table: string, column: string, bounds: string[]): Promise<boolean> {
  const fallback = (await listPartitions(client, table)).find((x) => x.isDefault);
  if (!fallback) return false;
  const schema = table.includes('.') ? `${table.split('.')[0]}.` : '';
  const { rowCount } = await client.query(`SELECT 1 FROM ${schema}${fallback.name} WHERE ${column} >= ${bounds[0]} AND ${column} < ${bounds[1]} LIMIT 1`);
  return (rowCount ?? 0) > 0;
}

/** The (non-default) partition of `table` whose range starts at `lower`, if any. */
async function partitionFor(client: PoolClient, table: string, lower: string): Promise<string | null> {
  const { rows } = await client.query(
    `SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = $1::regclass`,
    [table],
  );
  const want = lower.replace(/'/g, '');
  const hit = rows.find((r) => {
    const m = /FROM \('([^']+)'\)/.exec(r.bound);
    return m && (m[1] === want || new Date(m[1]).getTime() === new Date(want.replace(' ', 'T').replace('+00', 'Z')).getTime());
  });
  return hit ? hit.relname : null;
}

/** Rename a table and everything named after it (partitions, indexes, constraints, policies). */
async function renameTree(client: PoolClient, from: string, to: string): Promise<void> {
  const [schema, fromName] = from.includes('.') ? from.split('.') : ['public', from];
  const toName = to.includes('.') ? to.split('.')[1] : to;
  const renamed = (n: string) => (n.startsWith(fromName) ? toName + n.slice(fromName.length) : n);
  const { rows: parts } = await client.query(
    `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass`,
    [from],
  );
  for (const r of parts) await renameTree(client, `${schema}.${r.relname}`, `${schema}.${renamed(r.relname)}`);
  const { rows: indexes } = await client.query(
    `SELECT ci.relname FROM pg_index x JOIN pg_class ci ON ci.oid = x.indexrelid WHERE x.indrelid = $1::regclass`,
    [from],
  );
  for (const r of indexes) {
    if (renamed(r.relname) !== r.relname) await client.query(`ALTER INDEX ${schema}.${r.relname} RENAME TO ${renamed(r.relname)}`);
  }
  // A parent's CHECK constraints (its partitions' inherited copies follow it).
  const { rows: checks } = await client.query(`SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c' AND coninhcount = 0`, [from]);
  for (const r of checks) {
    if (renamed(r.conname) !== r.conname) await client.query(`ALTER TABLE ${from} RENAME CONSTRAINT ${ident(r.conname)} TO ${ident(renamed(r.conname))}`);
  }
  const { rows: policies } = await client.query(`SELECT polname FROM pg_policy WHERE polrelid = $1::regclass`, [from]);
  for (const r of policies) {
    if (renamed(r.polname) !== r.polname) await client.query(`ALTER POLICY ${r.polname} ON ${from} RENAME TO ${renamed(r.polname)}`);
  }
  await client.query(`ALTER TABLE ${from} RENAME TO ${toName}`);
}
