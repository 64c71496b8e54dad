import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { writeFileSync } from 'node:fs';
import { benchAppend } from '../../bench/append';
import { benchFreshness } from '../../bench/freshness';
import { benchKafka } from '../../bench/kafka';
import { benchCatchup, benchMemory, dropStore, PreparedStore, prepareStore } from '../../bench/projection';
import { benchReplay } from '../../bench/replay';
import { parseProfile, report, Summary, toMb } from '../../bench/report';
import { dropBenchDatabases, machine, median } from '../../bench/shared';
import { databaseUrl } from '../../db/connect';
import { kafkaBrokers } from '../../kafka/brokers';
import { kafkajsTransport } from '../../../streams/kafka';
import { Command, intOption, stringOption, toJson, UsageError } from '../args';
import { isRequired } from '../../required';

const ROOT = path.join(__dirname, '..', '..', '..');
const BENCHMARKS_MD = path.join(ROOT, 'BENCHMARKS.md');

/** The commit measured, and whether the working tree had changes on top of it. */
function revision(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') ? `${head} with uncommitted changes` : head;
  } catch {
    return 'unknown';
  }
}

const SCENARIOS = ['append', 'catchup', 'freshness', 'memory', 'replay', 'kafka'] as const;
type Scenario = (typeof SCENARIOS)[number];

export const bench: Command = {
  usage: 'bench [--only SCENARIO,…] [--events N] [--runs R] [--rate N] [--seconds S] [--quick] [--json] [--no-write]',
  summary: 'Measure append, catch-up projection, freshness, memory, replay and Kafka ingest/publish against baselines and targets; rewrite BENCHMARKS.md',
  options: {
    only: { type: 'string' },
    events: { type: 'string' },
    runs: { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string' },
    quick: { type: 'boolean' },
    json: { type: 'boolean' },
    'no-write': { type: 'boolean' },
  },
  help: `
Scenarios (each on throw-away databases of the server in use; a warm-up, then R measured
runs, medians):
  append     generated NDJSON appended by Floe in batches of 1,000 with durable commits,
             beside Emmett's PostgreSQL event store (first 20,000 events) and the naive
             one-INSERT-per-event approach (first 10,000 events)
  catchup    \`floe project --until-caught-up\` over a store of N events, campaign_analytics
             alone and all projections, beside ONE INSERT … SELECT … GROUP BY over the same
             events in a plain typed table; the two campaign_analytics results must be
             identical (exit 1 otherwise)
  freshness  appends at --rate events/s while \`floe project\` follows live: append commit →
             visible in campaign_analytics, p50/p95/p99 over --seconds per run
  memory     peak RSS of \`floe project --until-caught-up\` over N and 4N events of history
  replay     \`floe rebuild campaign_analytics\`, one --period rebuild, a billing recompute of the
             tenant closest to 200,000 events
  kafka      N generated events produced to a fresh topic, \`floe kafka ingest\` (in process) into
             a fresh store, the same events appended by appendPrepared alone (the store's
             ceiling), then \`floe kafka publish\` of the store; needs a broker (KAFKA_BROKERS,
             or ops/kafka/broker running), else skipped, or failed when FLOE_REQUIRE has kafka

  --only a,b   scenarios to run (default all; a partial run does not rewrite BENCHMARKS.md)
  --events N   catch-up store size (default 1000000; --quick: 100000); memory uses N and 4N,
               append min(N, 200000) (default 200000; --quick: 20000), kafka min(N, 1000000)
               (default 1000000; --quick: 20000)
  --runs R     measured runs after the warm-up (default 3; append 5; --quick: 1)
  --rate N     freshness: events/s appended (default 5000), in batches every 50 ms
  --seconds S  freshness: measured seconds per run (default 30; --quick: 5)
  --quick      a short smoke run; never rewrites BENCHMARKS.md
  --json       print the figures as JSON
  --no-write   do not rewrite BENCHMARKS.md

Exit codes: 0 done (targets are reported, not enforced), 1 a correctness check failed or a
scenario broke, 2 usage.`,
  async run(p, io) {
    const quick = Boolean(p.values.quick);
    const onlyText = stringOption(p, 'only');
    const scenarios: Scenario[] = onlyText
      ? onlyText.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
          if (!(SCENARIOS as readonly string[]).includes(s)) throw new UsageError(`--only: unknown scenario ${JSON.stringify(s)}; known: ${SCENARIOS.join(', ')}`);
          return s as Scenario;
        })
      : [...SCENARIOS];
    const has = (s: Scenario) => scenarios.includes(s);
    const events = intOption(p, 'events', quick ? 100_000 : 1_000_000, 1000);
    const runsGiven = p.values.runs !== undefined;
    const runs = intOption(p, 'runs', quick ? 1 : 3, 1);
    const rate = intOption(p, 'rate', 5000, 20);
    const freshSeconds = intOption(p, 'seconds', quick ? 5 : 30, 1);
    const log = (m: string) => io.err(m);
    const url = await databaseUrl(log);
    // Stopped (Ctrl-C): its child processes get the signal too; drop the run's databases, then go.
    const onSignal = (signal: NodeJS.Signals) => {
      io.err(`floe bench: ${signal}: dropping this run's databases`);
      void dropBenchDatabases().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      return await runScenarios();
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }

    async function runScenarios(): Promise<number> {
      const summary: Summary = {
        date: new Date().toISOString().slice(0, 10),
        machine: machine(),
        revision: revision(),
        quick,
        events,
        runs,
        scenarios,
        ok: true,
      };

      if (has('append')) {
        const appendEvents = p.values.events !== undefined ? Math.min(events, 200_000) : quick ? 20_000 : 200_000;
        const appendRuns = runsGiven || quick ? runs : 5;
        const results = await benchAppend({ url, events: appendEvents, runs: appendRuns, batchSize: 1000, naiveEvents: Math.min(10_000, appendEvents), emmettEvents: Math.min(20_000, appendEvents), log });
        summary.append = {
          events: appendEvents,
          runs: appendRuns,
          floe: Math.round(median(results.map((r) => r.floe))),
          naive: Math.round(median(results.map((r) => r.naive))),
          emmett: Math.round(median(results.map((r) => r.emmett))),
          prepare: Math.round(median(results.map((r) => r.prepare))),
          all: results.map((r) => ({ floe: Math.round(r.floe), naive: Math.round(r.naive), emmett: Math.round(r.emmett) })),
        };
      }

      if (has('freshness')) {
        const f = await benchFreshness({ url, rate, seconds: freshSeconds, warmupSeconds: quick ? 1 : 3, intervalMs: 50, runs, log });
        const last = f.runs[f.runs.length - 1];
        summary.freshness = {
          rate,
          seconds: freshSeconds,
          intervalMs: f.intervalMs,
          warmupSeconds: quick ? 1 : 3,
          ...f.median,
          samples: f.runs.reduce((s, r) => s + r.samples, 0),
          runs: f.runs.map(({ profile: _profile, ...r }) => r),
          profile: parseProfile(last.profile),
          projectorBatches: last.projectorBatches,
          appended: last.appended,
          runSeconds: last.runSeconds,
        };
      }

      let store: PreparedStore | undefined;
      try {
        let allPeak: { rss: number; rate: number; heapLiveMb: number } | undefined;
        if (has('catchup') || has('memory') || has('replay')) {
          store = await prepareStore(url, { events, days: 30 }, { baseline: has('catchup'), log });
        }
        if (has('replay') && store) {
          const r = await benchReplay(store, runs, log);
          summary.replay = r;
        }
        if (has('catchup') && store) {
          const c = await benchCatchup(store, runs, log);
          allPeak = { rss: c.median.allPeakRss, rate: c.median.all, heapLiveMb: c.median.allHeapLiveMb };
          summary.catchup = {
            events: c.events,
            prepareSeconds: store.seconds,
            baseline: c.median.baseline,
            campaign: c.median.campaign,
            all: c.median.all,
            ratio: c.median.campaign / c.median.baseline,
            identical: c.identical,
            rows: c.baselineRows,
            mismatch: c.mismatch && { floeRows: c.mismatch.floeRows, baselineRows: c.mismatch.baselineRows, onlyFloe: c.mismatch.onlyFloe, onlyBaseline: c.mismatch.onlyBaseline },
            runs: c.runs.map((r) => ({ baseline: r.baseline, campaign: r.campaign.rate, all: r.all.rate, identical: r.campaignCheck.identical && r.allCheck.identical })),
            peakRssMb: { campaign: toMb(c.median.campaignPeakRss), all: toMb(c.median.allPeakRss) },
            cpuShare: { campaign: c.median.campaignCpuShare, all: c.median.allCpuShare },
            serverShare: { campaign: c.median.campaignServerShare, all: c.median.allServerShare },
            floor: c.median.floor,
            writeFloor: c.median.writeFloor,
            profile: { campaign: parseProfile(c.warmup.campaign.profile), all: parseProfile(c.warmup.all.profile) },
          };
          if (!c.identical) summary.ok = false;
        }
        if (has('memory') && store) {
          // 1×: the catch-up scenario's all-projection runs measured it already (same command, same store).
          const one = allPeak
            ? { events: store.events, days: 30, peakRssMb: toMb(allPeak.rss), heapLiveMb: allPeak.heapLiveMb, rate: allPeak.rate, source: `catch-up runs (median of ${runs})` }
            : await benchMemory(store, 1, log).then((m) => ({ events: m.events, days: m.days, peakRssMb: toMb(m.peakRss), heapLiveMb: m.heapLiveMb, rate: m.rate, source: '1 run' }));
          await dropStore(store);
          store = undefined;
          store = await prepareStore(url, { events: 4 * events, days: 120 }, { baseline: false, log });
          const m = await benchMemory(store, 1, log);
          const four = { events: m.events, days: m.days, peakRssMb: toMb(m.peakRss), heapLiveMb: m.heapLiveMb, rate: m.rate, source: '1 run' };
          summary.memory = { points: [one, four], growth: (100 * (four.peakRssMb - one.peakRssMb)) / one.peakRssMb };
        }
      } finally {
        if (store) await dropStore(store);
      }

      if (has('kafka')) {
        const brokers = kafkaBrokers();
        const required = isRequired('kafka');
        if (!brokers) {
          const why = 'no Kafka: KAFKA_BROKERS is not set and ops/kafka/broker is not running';
          if (required) {
            io.err(`bench: FLOE_REQUIRE includes kafka, but ${why}`);
            return 1;
          }
          io.err(`bench: kafka scenario SKIPPED (${why})`);
          summary.kafka = { skipped: why };
        } else {
          const kafkaEvents = p.values.events !== undefined ? Math.min(events, 1_000_000) : quick ? 20_000 : 1_000_000;
          const transport = kafkajsTransport({ brokers, clientId: 'floe-bench', log });
          try {
            const k = await benchKafka({ url, transport, events: kafkaEvents, runs, warmupEvents: Math.min(quick ? 2_000 : 20_000, kafkaEvents), log });
            summary.kafka = { events: k.events, runs, brokers: brokers.join(','), ...k.median, all: k.runs };
          } finally {
            await transport.close();
          }
        }
      }

      if (p.values.json) io.out(toJson(summary));
      else printSummary(summary, io.out);
      if (!summary.ok) {
        io.err('bench: correctness check FAILED: Floe campaign_analytics differs from the baseline');
        for (const r of summary.catchup?.mismatch?.onlyFloe ?? []) io.err(`  only in Floe:     ${r}`);
        for (const r of summary.catchup?.mismatch?.onlyBaseline ?? []) io.err(`  only in baseline: ${r}`);
        return 1;
      }
      if (!p.values['no-write'] && !quick) {
        if (scenarios.length === SCENARIOS.length) {
          writeFileSync(BENCHMARKS_MD, report(summary));
          io.err(`wrote ${BENCHMARKS_MD}`);
        } else io.err('partial run (--only): BENCHMARKS.md left as it is');
      }
      return 0;
    }
  },
};

const writtenBack = (w: NonNullable<Summary['catchup']>['writeFloor']): string =>
  w?.bulk ? `, the projected rows written back alone ${w.seconds.toFixed(1)} s (in bulk ${w.bulk.seconds.toFixed(1)} s)` : '';

function printSummary(s: Summary, out: (l: string) => void): void {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  if (s.append) out(`append: floe ${n(s.append.floe)} events/s (median of ${s.append.runs}), emmett ${n(s.append.emmett)} events/s, naive ${n(s.append.naive)} events/s, ratio ${(s.append.floe / s.append.naive).toFixed(1)}x naive, ${(s.append.floe / s.append.emmett).toFixed(1)}x emmett`);
  if (s.catchup) {
    const c = s.catchup;
    out(`catch-up (${n(c.events)} events): baseline ${n(c.baseline)} events/s, floe campaign_analytics ${n(c.campaign)} events/s (${c.ratio.toFixed(2)}x the baseline), all projections ${n(c.all)} events/s, reading alone ${n(c.floor.read)} events/s (${n(c.floor.decode)} decoded)${writtenBack(c.writeFloor)}; results ${c.identical ? 'IDENTICAL' : 'DIFFERENT'} (${n(c.rows)} rows)`);
  }
  if (s.freshness) {
    const f = s.freshness;
    out(`freshness (${n(f.rate)} events/s): p50 ${n(f.p50)} ms, p95 ${n(f.p95)} ms, p99 ${n(f.p99)} ms, max ${n(f.max)} ms`);
  }
  if (s.replay) {
    const r = s.replay;
    out(`replay (${n(r.events)} events): rebuild campaign_analytics ${r.rebuild.median.toFixed(1)} s (${n(r.rebuild.rate)} events/s), --period ${r.periodRebuild.period} ${r.periodRebuild.median.toFixed(1)} s, billing recompute (${n(r.recompute.tenantEvents)} tenant events) ${r.recompute.median.toFixed(2)} s`);
  }
  if (s.kafka && 'skipped' in s.kafka) out(`kafka: skipped (${s.kafka.skipped})`);
  else if (s.kafka) {
    const k = s.kafka;
    out(`kafka (${n(k.events)} events): ingest ${n(k.ingest)} events/s (steady ${n(k.ingestSteady)}, appendPrepared alone ${n(k.appendAlone)}), publish ${n(k.publish)} events/s, produce ${n(k.produce)} events/s`);
  }
  if (s.memory) out(`memory: peak RSS ${s.memory.points.map((p) => `${n(p.peakRssMb)} MB at ${n(p.events)} events`).join(', ')}`);
}
