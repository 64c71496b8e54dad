import { selectProjections } from '../../../projections';
import { project as runPipeline } from '../../../projections/pipeline';
import { timings } from '../../../projections/runtime/timings';
import { Command, intOption, stringOption, toJson, UsageError } from '../args';
import { openContext } from '../context';
import { Progress } from '../progress';
import { untilStopped } from '../signals';

export const project: Command = {
  usage: 'project [--only a,b] [--until-caught-up] [--shards N --shard I] [--batch-size N] [--json]',
  summary: 'Fold the store into the projected tables (catch up, then follow live)',
  options: {
    only: { type: 'string' },
    'until-caught-up': { type: 'boolean' },
    shards: { type: 'string' },
    shard: { type: 'string' },
    'batch-size': { type: 'string' },
    json: { type: 'boolean' },
  },
  help: `
Reads the store from each projection's checkpoint in batches (default 5000 events), folds
every batch into all selected projections and commits their rows with the checkpoints in
one transaction, so effects are exactly-once whatever stops the process. Then follows new
events live until Ctrl-C / SIGTERM, which finish the current batch and exit 0.

  --only a,b          only these projections (names as in floe status); default all
  --until-caught-up   stop once everything stored has been projected
  --shards N --shard I
                      take only tenants with hash(tenant) % N = I; run one process per shard.
                      A projection keeps the shard count it was first projected with.
  --batch-size N      events per batch (default 5000)
  --json              print one JSON summary line at the end: {"events","batches","seconds","lanes"}

Exit codes: 0 done or stopped, 1 failure (e.g. another process holds a projection's shard), 2 usage.`,
  async run(p, io) {
    const only = (stringOption(p, 'only') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const projections = selectProjections(only);
    const count = intOption(p, 'shards', 1, 1);
    const index = intOption(p, 'shard', 0, 0);
    if (index >= count) throw new UsageError(`--shard must be below --shards (${count}), got ${index}`);
    if (p.values.shard !== undefined && p.values.shards === undefined) throw new UsageError('--shard needs --shards N');
    const batchSize = intOption(p, 'batch-size', 5000, 1);
    const untilCaughtUp = p.values['until-caught-up'] === true;
    const ctx = await openContext((m) => io.err(m));
    try {
      return await untilStopped(async (signal) => {
        const head = await ctx.store.head();
        const started = Date.now();
        const progress = io.tty && !p.values.json ? new Progress('projecting', io.err, Number(head.position)) : undefined;
        let caughtUpSaid = untilCaughtUp;
        const result = await runPipeline({
          pool: ctx.pool,
          url: ctx.url,
          schemas: ctx.store.schemas,
          projections,
          shard: { index, count },
          batchSize,
          untilCaughtUp,
          signal,
          log: (m) => io.err(m),
          onBatch: (b) => {
            progress?.tick(b.events);
            if (!caughtUpSaid && b.position >= head.position) {
              caughtUpSaid = true;
              progress?.done();
              io.err(`caught up at position ${b.position}; following live (Ctrl-C to stop)`);
            }
          },
      });
      if (!caughtUpSaid || untilCaughtUp) progress?.done();
      const seconds = (Date.now() - started) / 1000;
      const summary = { events: result.events, batches: result.batches, seconds: Number(seconds.toFixed(3)), lanes: result.lanes };
      if (timings.enabled) timings.report().forEach((l) => io.err(l));
      if (p.values.json) io.out(toJson(summary));
      else {
        const rate = seconds > 0 ? Math.round(result.events / seconds) : 0;
        io.err(`projected ${result.events.toLocaleString('en-US')} events in ${seconds.toFixed(1)} s (${rate.toLocaleString('en-US')} events/s)`);
        for (const l of result.lanes) io.err(`  lane ${l.lane} shard ${l.shard} at position ${l.position}: ${l.projections.join(', ')}`);
      }
      return 0;
      }, () => io.err('stopping after the current batch…'));
    } finally {
      await ctx.close();
    }
  },
};
