import { headPosition } from '../../../streams/postgres/read';
import { selectProjections } from '../../../projections';
import { REBUILD_LEDGER_IN_MEMORY, rebuild as runRebuild, shadowName, type RebuildResult } from '../../../projections/rebuild';
import { PostgresEventStore } from '../../../streams/postgres';
import { openPool } from '../../db/connect';
import { eventsToFold } from '../../../projections/runtime/lanes';
import { timings } from '../../../projections/runtime/timings';
import { Command, intOption, stringOption, toJson, UsageError } from '../args';
import { openContext } from '../context';
import { Progress } from '../progress';
import { catchStopsDuring, untilStopped } from '../signals';
import { startWorker, type WorkerJob } from '../worker';

export const rebuild: Command = {
  usage: 'rebuild NAME [--period YYYY-MM] [--batch-size N] [--json]',
  positionals: 1,
  summary: 'Rebuild a projection from history, blue/green, while the live one keeps serving',
  options: { period: { type: 'string' }, json: { type: 'boolean' }, 'batch-size': { type: 'string' } },
  help: `
Folds projection NAME (see floe status) from position 0 into shadow tables (<table>__shadow)
with their own checkpoint, while the live tables keep serving and the live projector keeps
advancing. When the shadow has caught up, one short transaction locks the live tables and
swaps the shadows in (readers wait a moment, never see a half-built or empty table), drops
the old tables, and hands the projection's checkpoint over; a running floe project picks
the projection up from there by itself. When the shadow ends where the live projection
stands (the live projector idle or stopped), the rebuilt projection stays in its live lane,
whose email ledger is the one the rebuild built; otherwise it keeps a lane of its own
(floe project then reads the store once per lane until the lanes meet). A reader's long
transaction on the live tables holds the swap back: after 10 s waiting for their locks it
lets go, catches up and tries again (up to 20 times, each said on stderr).

  --period YYYY-MM   rebuild only that month: the shadow stops exactly at the live
                     checkpoint and only that month's partition of each partitioned table
                     is exchanged (DETACH/ATTACH in one transaction); other months untouched
  --batch-size N     events per batch (default 5000)
  --json             one JSON line: {"projection","period","position","events","seconds","swapped","resumed",
                     "liveLane"} (liveLane: the live lane the projection stayed in, or null)

It reads only the events of the projection's types. The shadow's email ledger is kept in
memory (up to ${REBUILD_LEDGER_IN_MEMORY.toLocaleString('en-US')} emails) and saved once caught up, unless the projection stays
in its live lane (or only a period is swapped). Stopped with Ctrl-C or SIGTERM, it saves it
and exits 1 (ABORTED); run it again and it resumes from the shadow's checkpoint.
Killed part-way (SIGKILL, a crash), the live tables are untouched; run it again and it
completes, starting afresh if the ledger was not saved yet. A progress bar (events/s, ETA)
is shown on a terminal.`,
  async run(p, io) {
    const name = p.positionals[0];
    if (!name) throw new UsageError('rebuild needs a projection name (floe status lists them)');
    const [projection] = selectProjections([name]);
    // The fold's thread loads its code while this one connects and checks the database.
    const worker = startWorker({ module: __filename, export: 'rebuildJob' });
    const [ctx, stops] = await catchStopsDuring(() => openContext((m) => io.err(m))).catch(async (e) => {
      await worker.cancel();
      throw e;
    });
    try {
      return await untilStopped(async (signal) => {
        const head = await headPosition(ctx.pool);
        const toFold = io.tty ? await eventsToFold(ctx.pool, [shadowName(projection.name)], '0/1', head) : 0;
        const progress = io.tty ? new Progress(`rebuilding ${name}`, io.err, toFold) : undefined;
        let reached = head - BigInt(toFold);
        const args: RebuildArgs = { url: ctx.url, projection: projection.name, period: stringOption(p, 'period'), batchSize: intOption(p, 'batch-size', 5000, 1) };
        const r = await worker.run<RebuildResult>(args, {
          signal,
          onEvent: (e) => {
            const event = e as RebuildEvent;
            if ('log' in event) io.err(event.log);
            else if ('timings' in event) event.timings.forEach((l) => io.err(l));
            else {
              // It reads only the events of its types: progress goes by the positions covered.
              const position = BigInt(event.position);
              progress?.tick(Number(position > reached ? position - reached : 0n));
              if (position > reached) reached = position;
            }
          },
        });
        progress?.done();
        if (r.period) {
          // A month without rows (one in the future, say): nothing to swap, or empty partitions.
          let rows = 0;
          for (const t of r.swapped) rows += Number((await ctx.pool.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
          if (rows === 0) io.err(`warning: no rows fall in ${r.period}: ${r.swapped.length ? `its partitions (${r.swapped.join(', ')}) are empty` : 'no partition of it on either side, nothing was swapped'}`);
        }
        if (p.values.json) io.out(toJson(r));
        else io.out(`rebuilt ${r.projection}${r.period ? ` for ${r.period}` : ''}: ${r.events.toLocaleString('en-US')} events in ${r.seconds.toFixed(1)} s, at position ${r.position}; swapped ${r.swapped.join(', ') || 'nothing'}`);
        return 0;
      }, undefined, stops);
    } finally {
      await worker.cancel(); // never ran (the command failed before): let its thread go
      await ctx.close();
    }
  },
};

interface RebuildArgs {
  url: string;
  projection: string;
  period?: string;
  batchSize: number;
}

type RebuildEvent = { log: string } | { position: string } | { timings: string[] };

/** The rebuild itself, on a worker thread (`runInWorker`): its own pool, the same database. */
export const rebuildJob: WorkerJob<RebuildArgs, RebuildResult> = async (a, { emit, signal }) => {
  const pool = await openPool(a.url);
  const store = await PostgresEventStore.open(a.url, { pool });
  try {
    const [projection] = selectProjections([a.projection]);
    const emitEvent = (e: RebuildEvent) => emit(e);
    const r = await runRebuild({
      pool,
      url: a.url,
      schemas: store.schemas,
      projection,
      period: a.period,
      batchSize: a.batchSize,
      signal,
      log: (m) => emitEvent({ log: m }),
      onBatch: (b) => emitEvent({ position: String(b.position) }),
    });
    if (timings.enabled) emitEvent({ timings: timings.report() });
    return r;
  } finally {
    await store.close();
    await pool.end();
  }
};
