/**
 * The projector as Floe runs it: the runtime plus what the tables need around it —
 * month partitions created before a batch writes into a new month (so rows rarely wait
 * in a DEFAULT partition), and the materialized view `campaign_performance_summary`
 * refreshed concurrently, at most every `refreshEveryMs`, on its own connection so it
 * never slows folding.
 */
import { isFloeError } from '../schemas/errors';
import type { StoredEvent } from '../streams/envelope';
import { runProjector, type ProjectorOptions, type ProjectorResult } from './runtime/runner';
import { runKafkaProjector, type KafkaProjectorOptions, type KafkaProjectorResult } from './runtime/kafkaSource';
// rebuild.ts imports this module too; its `project` is only called at run time, so the cycle is harmless.
import { rebuild } from './rebuild';
import { staleProjections } from './runtime/lanes';
import type { AnyProjection } from './runtime/types';
import { TABLES } from './tables/ddl';
import { ensureMonthPartitions } from './tables/partitions';
import { monthStart } from './utc';
import { MATERIALIZED_VIEWS } from './tables/views';

export interface ProjectOptions extends Omit<ProjectorOptions, 'prepare' | 'afterCommit'> {
  /** Minimum interval between refreshes of the materialized views; default 10 s. */
  refreshEveryMs?: number;
}

const PARTITION_COLUMN = new Map(TABLES.filter((t) => t.partitionColumn).map((t) => [t.name, t.partitionColumn!]));

/**
 * Project, first rebuilding blue/green (while the others follow live) the projections
 * whose version changed or that fell behind their lane; their old tables serve until
 * their swap.
 */
export async function project(o: ProjectOptions): Promise<ProjectorResult> {
  const unsharded = (o.shard?.count ?? 1) === 1;
  const stale = o.tableName || !unsharded ? [] : await staleProjections(o.pool, o.projections, { index: 0, count: 1 });
  const rebuilt: NonNullable<ProjectorResult['rebuilt']> = [];
  if (stale.length) {
    const others = o.projections.filter((p) => !stale.some((s) => s.projection === p));
    const pause = new AbortController();
    const onAbort = () => pause.abort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const meanwhile = others.length && !o.untilCaughtUp ? projectOnce({ ...o, projections: others, signal: pause.signal }) : undefined;
    try {
      for (const { projection, why } of stale) {
        o.log?.(`projection ${projection.name}: ${why}; rebuilding it blue/green (the old tables serve until the swap)`);
        const r = await rebuild({ pool: o.pool, url: o.url, schemas: o.schemas, projection, batchSize: o.batchSize, log: o.log, signal: o.signal }).catch((e) => {
          // Stopped (Ctrl-C, SIGTERM): a stop like any other; the next run resumes the rebuild.
          if (o.signal?.aborted && isFloeError(e) && e.code === 'ABORTED') {
            o.log?.(e.message);
            return null;
          }
          throw e;
        });
        if (!r) break;
        o.log?.(`rebuilt ${projection.name} at position ${r.position}: swapped ${r.swapped.join(', ')}`);
        rebuilt.push({ projection: projection.name, events: r.events, seconds: r.seconds, position: r.position });
      }
    } finally {
      pause.abort();
      await meanwhile;
      o.signal?.removeEventListener('abort', onAbort);
    }
    if (o.signal?.aborted) return { lanes: [], events: 0, batches: 0, rebuilt };
  }
  return { ...(await projectOnce(o)), rebuilt };
}

export interface TableHooks {
  /** Before a batch's transaction: the month partitions its rows fall in. */
  prepare(lane: { projections: AnyProjection[] }, events: StoredEvent[]): Promise<void>;
  /** After a commit: refresh the materialized views now if the last refresh is old enough, or once it is. */
  afterCommit(): void;
  /** At the end: wait for a refresh in flight, and refresh once more. */
  finish(): Promise<void>;
  /** A run that failed: no more refreshes (waits for one in flight). */
  dispose(): Promise<void>;
}

/**
 * What the projected tables need around the runtime, whatever the source of events:
 * month partitions created before a batch writes into a new month, and the materialized
 * views refreshed concurrently, at most every `refreshEveryMs`, on their own connection.
 */
export function tableHooks(o: {
  pool: ProjectOptions['pool'];
  projections: AnyProjection[];
  log?: (m: string) => void;
  tableName?: ProjectOptions['tableName'];
  refreshEveryMs?: number;
}): TableHooks {
  const log = o.log ?? (() => undefined);
  const ready = new Set<string>(); // `${table}@${month}` known to have its partition
  const prepare = async (lane: { projections: AnyProjection[] }, events: StoredEvent[]) => {
    // Rows of a batch fall in its events' months or (cohort days, billing periods) up to a month before.
    const months = new Set<number>();
    // Events come mostly in time order: the month of the last one answers most of them.
    let from = Infinity;
    let to = -Infinity;
    for (const e of events) {
      const t = e.occurredAt.getTime();
      if (t >= from && t < to) continue;
      from = monthStart(t).getTime();
      to = monthStart(t, 1).getTime();
      months.add(from);
      months.add(monthStart(t, -1).getTime());
    }
    for (const p of lane.projections) {
      for (const table of p.tables) {
        const column = PARTITION_COLUMN.get(table);
        if (!column) continue;
        const physical = o.tableName ? o.tableName(p, table) : table;
        const missing = [...months].filter((m) => !ready.has(`${physical}@${m}`)).sort((a, b) => a - b);
        if (!missing.length) continue;
        const client = await o.pool.connect();
        try {
          // Contiguous ranges only would over-create across gaps; one call per month is cheap and rare.
          for (const m of missing) {
            const made = await ensureMonthPartitions(client, physical, column, new Date(m), new Date(m));
            if (made.length) log(`created partition ${made.join(', ')}`);
            ready.add(`${physical}@${m}`);
          }
        } finally {
          client.release();
        }
      }
    }
  };

  // A rebuild (shadow tables) leaves the live views alone: the swap recreates them.
  const views = o.tableName ? [] : MATERIALIZED_VIEWS.filter((v) => o.projections.some((p) => p.tables.includes(v.source)));
  const refreshEvery = o.refreshEveryMs ?? 10_000;
  let lastRefresh = 0;
  let refreshing: Promise<void> | undefined;
  let dirty = false; // a commit since the refresh in flight (or the last one) began
  let timer: NodeJS.Timeout | undefined;
  let ended = false; // the run is over: no refresh may be scheduled past it
  // At most one refresh every `refreshEvery`, and one after the last commit of a burst: a view
  // must not stay behind its tables because no commit came after the throttle let it refresh.
  const schedule = () => {
    if (ended || timer || refreshing || !Number.isFinite(refreshEvery)) return;
    timer = setTimeout(refresh, Math.max(0, lastRefresh + refreshEvery - Date.now()));
    timer.unref();
  };
  const refresh = () => {
    clearTimeout(timer);
    timer = undefined;
    if (!views.length || refreshing) return;
    dirty = false;
    lastRefresh = Date.now();
    refreshing = (async () => {
      for (const v of views) await o.pool.query(v.refreshSql(v.name));
    })()
      .catch((e) => log(`refresh of ${views.map((v) => v.name).join(', ')} failed: ${(e as Error).message}`))
      .finally(() => {
        refreshing = undefined;
        if (dirty) schedule();
      });
  };

  const dispose = async () => {
    ended = true;
    clearTimeout(timer);
    timer = undefined;
    await refreshing;
  };

  return {
    prepare,
    afterCommit: () => {
      if (!views.length) return;
      dirty = true;
      schedule();
    },
    async finish() {
      await dispose();
      // Always once more: the run may have projected nothing after an earlier one was killed
      // before its refresh, and the views would stay behind their tables until the next event.
      refresh();
      await refreshing;
    },
    dispose,
  };
}

/** A projector run with the tables' hooks around it: the views' last refresh when it ends, none after it. */
async function withTableHooks<R>(o: Parameters<typeof tableHooks>[0], run: (hooks: TableHooks) => Promise<R>): Promise<R> {
  const hooks = tableHooks(o);
  try {
    const result = await run(hooks);
    await hooks.finish();
    return result;
  } finally {
    await hooks.dispose();
  }
}

function projectOnce(o: ProjectOptions): Promise<ProjectorResult> {
  return withTableHooks(o, (h) => runProjector({ ...o, prepare: h.prepare, afterCommit: h.afterCommit }));
}

export interface KafkaProjectOptions extends Omit<KafkaProjectorOptions, 'prepare' | 'afterCommit'> {
  /** Minimum interval between refreshes of the materialized views; default 10 s. */
  refreshEveryMs?: number;
}

/**
 * Project from Kafka (`floe project --source kafka`): this process is one worker of the
 * consumer group `groupId` over `topic`; each partition it is given is a shard
 * (runtime/kafkaSource.ts).
 */
export function projectFromKafka(o: KafkaProjectOptions): Promise<KafkaProjectorResult> {
  return withTableHooks(o, (h) => runKafkaProjector({ ...o, prepare: h.prepare, afterCommit: h.afterCommit }));
}
