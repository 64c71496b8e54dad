import { headPosition } from '../../../streams/postgres/read';
import { selectProjections } from '../../../projections';
import { project as runPipeline, projectFromKafka } from '../../../projections/pipeline';
import { DEFAULT_EVENTS_TOPIC } from '../../../streams/kafka/messages';
import { openKafka } from '../../kafka/brokers';
import { timings } from '../../../projections/runtime/timings';
import { eventsToFold, shardKey } from '../../../projections/runtime/lanes';
import { BATCH_SIZE } from '../../../projections/runtime/runner';
import { Command, Io, intOption, Parsed, stringOption, toJson, UsageError } from '../args';
import { openContext } from '../context';
import { Progress } from '../progress';
import { catchStopsDuring, untilStopped } from '../signals';

export const project: Command = {
  usage: 'project [--only a,b] [--until-caught-up] [--shards N --shard I | --source kafka [--group G] [--topic T] [--session-timeout-ms MS] [--concurrency N]] [--batch-size N] [--json]',
  summary: 'Fold the store into the projected tables (catch up, then follow live)',
  options: {
    only: { type: 'string' },
    'until-caught-up': { type: 'boolean' },
    shards: { type: 'string' },
    shard: { type: 'string' },
    'batch-size': { type: 'string' },
    source: { type: 'string' },
    group: { type: 'string' },
    topic: { type: 'string' },
    'session-timeout-ms': { type: 'string' },
    concurrency: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: `
Reads the store from each projection's checkpoint in batches (default ${BATCH_SIZE} events), folds
every batch into all selected projections and commits their rows with the checkpoints in
one transaction, so effects are exactly-once whatever stops the process. Then follows new
events live until Ctrl-C / SIGTERM, which finish the current batch and exit 0.
Projections folded together form a lane, which reads the store once for all of them; a
projection rebuilt whole (floe rebuild, or as below) keeps a lane of its own. Unsharded,
a projection whose version changed or that was left out of an earlier --only run is first
rebuilt blue/green (as floe rebuild does) while the others keep following live (with
--until-caught-up, they are projected after it).

  --only a,b          only these projections (names as in floe status); default all
  --until-caught-up   stop once everything stored has been projected
  --shards N --shard I
                      take only tenants with abs(hashtextextended(tenant_id, 0)) % N = I;
                      run one process per shard (I = 0 … N-1); with N > 1, --shard is
                      required. A projection keeps the shard count it was first projected with.
  --batch-size N      most events per batch (default ${BATCH_SIZE}; following live, a batch is what
                      has been appended since the last, so only a catch-up fills it)
  --json              print one JSON summary line at the end: {"events","batches","seconds","lanes",
                      "rebuilt"} (rebuilt: [{projection, events, seconds, position}] of the
                      projections rebuilt first; events: folded after them, summed over lanes,
                      so an event read by two lanes counts twice;
                      with --source kafka also "skipped": re-sent messages skipped by position,
                      and "assignments": partition assignments received)

From Kafka (--source kafka): this process is one projection worker of consumer group G
(default floe-project) over TOPIC (default ${DEFAULT_EVENTS_TOPIC}, as floe kafka publish writes
it); start as many as the topic has partitions, on any machines. Each partition is a shard
(kafka:TOPIC/P in floe status) with its own checkpoint, and the partition's offset is stored
in the same transaction as the projected rows: a worker given a partition in a rebalance
continues exactly where the last commit left it, so nothing is lost or counted twice, and
re-sent messages of the at-least-once publisher (store position at or below the shard's)
are skipped. A projection is projected either from the store or from Kafka, not both.

  --group G           consumer group (default floe-project)
  --topic T           topic (default ${DEFAULT_EVENTS_TOPIC})
  --until-caught-up   stop once the group has committed every message of the topic
  --session-timeout-ms MS
                      the group drops a worker silent for this long (default 30000; the
                      broker's minimum is 6000); a killed worker's partitions wait that long
  --concurrency N     partitions this worker folds at once (default 2)
  --batch-size N      most events per transaction (default 5000)
Kafka: KAFKA_BROKERS=host:port[,…]; without it, the development broker of ops/kafka/broker.

Exit codes: 0 done or stopped, 1 failure (e.g. another process holds a projection's shard), 2 usage.`,
  async run(p, io) {
    const given = stringOption(p, 'only');
    const only = (given ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    if (given !== undefined && only.length === 0) throw new UsageError(`--only names no projection (${JSON.stringify(given)}): give a comma-separated list, as in floe status`);
    const projections = selectProjections(only);
    const source = stringOption(p, 'source') ?? 'store';
    if (source !== 'store' && source !== 'kafka') throw new UsageError(`--source must be store or kafka, got ${JSON.stringify(source)}`);
    if (source === 'kafka') {
      if (p.values.shards !== undefined || p.values.shard !== undefined) throw new UsageError('--source kafka takes no --shards/--shard: the partitions are the shards');
      return projectKafka(p, io, projections);
    }
    for (const k of ['group', 'topic', 'session-timeout-ms', 'concurrency']) {
      if (p.values[k] !== undefined) throw new UsageError(`--${k} needs --source kafka`);
    }
    const count = intOption(p, 'shards', 1, 1);
    const index = intOption(p, 'shard', 0, 0);
    if (p.values.shard !== undefined && p.values.shards === undefined) throw new UsageError('--shard needs --shards');
    if (count > 1 && p.values.shard === undefined) throw new UsageError(`--shards N needs --shard I (0 to ${count - 1}; one process per shard)`);
    if (index >= count) throw new UsageError(`--shard must be below --shards (${count}), got ${index}`);
    const batchSize = intOption(p, 'batch-size', BATCH_SIZE, 1);
    const untilCaughtUp = p.values['until-caught-up'] === true;
    const [ctx, stops] = await catchStopsDuring(() => openContext((m) => io.err(m)));
    try {
      return await untilStopped(async (signal) => {
        const head = await headPosition(ctx.pool);
        const started = Date.now();
        const progress =
          io.tty && !p.values.json
            ? new Progress('projecting', io.err, await eventsToFold(ctx.pool, projections.map((x) => x.name), shardKey({ index, count }), head))
            : undefined;
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
            if (!caughtUpSaid && b.position >= head) {
              caughtUpSaid = true;
              progress?.done();
              io.err(`caught up at position ${b.position}; following live (Ctrl-C to stop)`);
            }
          },
      });
      if (!caughtUpSaid || untilCaughtUp) progress?.done();
      const seconds = (Date.now() - started) / 1000;
      const rebuilt = (result.rebuilt ?? []).map((r) => ({ ...r, seconds: Number(r.seconds.toFixed(3)) }));
      const summary = { events: result.events, batches: result.batches, seconds: Number(seconds.toFixed(3)), lanes: result.lanes, rebuilt };
      if (timings.enabled) timings.report().forEach((l) => io.err(l));
      if (p.values.json) io.out(toJson(summary));
      else {
        // A run that followed live spent most of its time waiting: a rate would say nothing.
        const rate = seconds > 0 && untilCaughtUp ? ` (${Math.round(result.events / seconds).toLocaleString('en-US')} events/s)` : '';
        for (const r of rebuilt) io.err(`rebuilt ${r.projection} first: ${r.events.toLocaleString('en-US')} events in ${r.seconds.toFixed(1)} s`);
        io.err(`projected ${result.events.toLocaleString('en-US')} events in ${seconds.toFixed(1)} s${rebuilt.length ? ' (rebuilds included)' : rate}`);
        for (const l of result.lanes) io.err(`  lane ${l.lane} shard ${l.shard} at position ${l.position}: ${l.projections.join(', ')}`);
      }
      return 0;
      }, () => io.err('stopping after the current batch…'), stops);
    } finally {
      await ctx.close();
    }
  },
};

/**
 * Fault tests only (FLOE_TEST=1): FLOE_KAFKA_TEST_KILL_AFTER_PG_COMMIT=N SIGKILLs the worker
 * after its N-th batch committed in PostgreSQL and before the group offset is committed.
 */
function testKillHook(): ((s: { batches: number }) => void) | undefined {
  const n = Number(process.env.FLOE_KAFKA_TEST_KILL_AFTER_PG_COMMIT ?? 0);
  if (process.env.FLOE_TEST !== '1' || !(n > 0)) return undefined;
  return (s) => {
    if (s.batches >= n) process.kill(process.pid, 'SIGKILL');
  };
}

async function projectKafka(p: Parsed, io: Io, projections: ReturnType<typeof selectProjections>): Promise<number> {
  const topic = stringOption(p, 'topic') ?? DEFAULT_EVENTS_TOPIC;
  const groupId = stringOption(p, 'group') ?? 'floe-project';
  const batchSize = intOption(p, 'batch-size', 5000, 1);
  const sessionTimeoutMs = intOption(p, 'session-timeout-ms', 30_000, 6000);
  const concurrency = intOption(p, 'concurrency', 2, 1);
  const untilCaughtUp = p.values['until-caught-up'] === true;
  const kafka = openKafka((l) => io.err(l), 'floe-project');
  const [ctx, stops] = await catchStopsDuring(() => openContext((m) => io.err(m), { poolSize: concurrency + 4 }));
  try {
    return await untilStopped(async (signal) => {
      const started = Date.now();
      const progress = io.tty && !p.values.json ? new Progress('projecting', io.err) : undefined;
      io.err(`projecting ${topic} as group ${groupId} from ${kafka.brokers.join(',')}`);
      const result = await projectFromKafka({
        pool: ctx.pool,
        schemas: ctx.store.schemas,
        projections,
        transport: kafka,
        topic,
        groupId,
        batchSize,
        sessionTimeoutMs,
        concurrency,
        untilCaughtUp,
        signal,
        log: (m) => io.err(m),
        onBatch: (b) => progress?.tick(b.events),
        afterPgCommit: testKillHook(),
      });
      progress?.done();
      const seconds = (Date.now() - started) / 1000;
      const summary = {
        events: result.events,
        batches: result.batches,
        skipped: result.skipped,
        assignments: result.assignments,
        seconds: Number(seconds.toFixed(3)),
        lanes: result.lanes,
      };
      if (timings.enabled) timings.report().forEach((l) => io.err(l));
      if (p.values.json) io.out(toJson(summary));
      else {
        const rate = seconds > 0 ? Math.round(result.events / seconds) : 0;
        io.err(
          `projected ${result.events.toLocaleString('en-US')} events from ${topic} in ${seconds.toFixed(1)} s (${rate.toLocaleString('en-US')} events/s), ` +
            `${result.skipped} re-sent or already taken messages skipped`,
        );
        for (const l of result.lanes) io.err(`  lane ${l.lane} shard ${l.shard} at position ${l.position}: ${l.projections.join(', ')}`);
      }
      return 0;
    }, () => io.err('stopping after the current batch…'), stops);
  } finally {
    await kafka.close();
    await ctx.close();
  }
}
