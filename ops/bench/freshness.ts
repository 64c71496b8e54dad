/**
 * Freshness: how long after an append commits its events are visible in
 * `campaign_analytics`, while `floe project` (every projection, a child process, as users
 * run it) follows the store live.
 *
 * The bench appends generated events at a steady rate in small batches (default 5,000
 * events/s as 250 events every 50 ms), stamping each batch's commit (when the COMMIT
 * reply arrives) with the last position it stored. A second connection polls the
 * campaign_analytics checkpoint every few milliseconds: the runtime commits the checkpoint
 * in the same transaction as the rows, so the moment it reaches a batch's last position
 * is the moment that batch is visible. The latency of a batch is that moment (when the
 * poll's answer arrives: an upper bound, within one poll interval) minus its commit.
 * The first seconds of each run are a warm-up and not counted.
 */
import { Client } from 'pg';
import { defaultCatalog } from '../../schemas';
import { PostgresEventStore } from '../../streams/postgres';
import { prepareEvent, PreparedEvent } from '../../streams/prepare';
import { migrate } from '../db/migrate';
import { floeChild, Log, median, quantile, withDatabase, workloadEvents } from './shared';

export interface FreshnessOptions {
  url: string;
  /** Events per second to append. */
  rate: number;
  /** Measured seconds per run. */
  seconds: number;
  /** Seconds appended before measuring (projector start-up, first partitions). */
  warmupSeconds: number;
  /** Milliseconds between appended batches. */
  intervalMs: number;
  runs: number;
  pollMs?: number;
  log: Log;
}

export interface FreshnessRun {
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Achieved append rate over the measured window (events/s). */
  appendRate: number;
  /** Projector batches committed over the whole run (warm-up included). */
  projectorBatches: number;
  /** Events appended and seconds from the first append to the last batch seen visible (warm-up included). */
  appended: number;
  runSeconds: number;
  /** FLOE_PROFILE lines of the run's projector (whole run, warm-up included). */
  profile: string[];
}

export interface FreshnessResult {
  rate: number;
  seconds: number;
  intervalMs: number;
  runs: FreshnessRun[];
  median: { p50: number; p95: number; p99: number; max: number; appendRate: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

const PROFILE_LINE = /^\S.*\s\d+ ms {2}\(\d+ × [\d.]+ ms\)$/;

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function freshnessRun(db: string, events: PreparedEvent[], o: FreshnessOptions): Promise<FreshnessRun> {
  await migrate(db);
  const store = await PostgresEventStore.open(db);
  const poller = new Client({ connectionString: db });
  await poller.connect();
  const child = floeChild(db, ['project', '--json'], { FLOE_PROFILE: '1' });
  let childExited = false;
  void child.done.then(() => (childExited = true), () => (childExited = true));
  try {
    const checkpoint = async (): Promise<bigint | undefined> => {
      const { rows } = await poller.query<{ position: string }>(
        `SELECT position FROM floe.projection_checkpoints WHERE projection = 'campaign_analytics'`,
      );
      return rows[0] ? BigInt(rows[0].position) : undefined;
    };
    await waitFor('the projector to start', 60_000, async () => {
      if (childExited) throw new Error(`floe project exited early: ${(await child.done).err.trim().split('\n').slice(-3).join(' | ')}`);
      return checkpoint();
    });

    const perBatch = Math.max(1, Math.round((o.rate * o.intervalMs) / 1000));
    const total = Math.round((o.rate * (o.warmupSeconds + o.seconds)) / perBatch);
    const pending: Array<{ position: bigint; committed: number; measured: boolean }> = [];
    const samples: number[] = [];
    let appending = true;
    let measuredEvents = 0;
    let appended = 0;
    let measureStart = 0;
    let measureEnd = 0;

    const observe = (async () => {
      while (appending || pending.length) {
        const position = (await checkpoint()) ?? 0n;
        const now = performance.now();
        while (pending.length && pending[0].position <= position) {
          const b = pending.shift()!;
          if (b.measured) samples.push(now - b.committed);
        }
        if (childExited) throw new Error('floe project exited while following');
        await sleep(o.pollMs ?? 5);
      }
    })();
    observe.catch(() => undefined);

    const t0 = performance.now();
    const warmupBatches = Math.round((o.rate * o.warmupSeconds) / perBatch);
    for (let k = 0; k < total; k++) {
      await sleep(t0 + k * o.intervalMs - performance.now());
      const batch = events.slice(k * perBatch, (k + 1) * perBatch);
      if (!batch.length) throw new Error('freshness: ran out of generated events');
      const measured = k >= warmupBatches;
      if (k === warmupBatches) measureStart = performance.now();
      const r = await store.appendPrepared(batch);
      const committed = performance.now();
      if (measured) measuredEvents += r.appended;
      appended += r.appended;
      if (r.lastPosition !== null) pending.push({ position: r.lastPosition, committed, measured });
    }
    measureEnd = performance.now();
    appending = false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      observe,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`freshness: ${pending.length} batches still not visible 60 s after the last append`)), 60_000);
      }),
    ]).finally(() => clearTimeout(timer));
    const runSeconds = (performance.now() - t0) / 1000;
    child.stop();
    const exit = await child.done;
    if (exit.code !== 0) throw new Error(`floe project exited ${exit.code ?? exit.signal}: ${exit.err.trim().split('\n').slice(-3).join(' | ')}`);
    const summary = JSON.parse(exit.out.trim().split('\n').pop() ?? '{}');
    return {
      samples: samples.length,
      p50: quantile(samples, 0.5),
      p95: quantile(samples, 0.95),
      p99: quantile(samples, 0.99),
      max: samples.length ? Math.max(...samples) : NaN,
      appendRate: measuredEvents / ((measureEnd - measureStart) / 1000),
      projectorBatches: summary.batches ?? 0,
      appended,
      runSeconds,
      profile: exit.err.split('\n').filter((l) => PROFILE_LINE.test(l)),
    };
  } finally {
    if (!childExited) {
      child.stop();
      await child.done.catch(() => undefined);
    }
    await poller.end();
    await store.close();
  }
}

/** `runs` runs, each on a fresh database with its own projector. */
export async function benchFreshness(o: FreshnessOptions): Promise<FreshnessResult> {
  const perBatch = Math.max(1, Math.round((o.rate * o.intervalMs) / 1000));
  const needed = (Math.round((o.rate * (o.warmupSeconds + o.seconds)) / perBatch) + 1) * perBatch;
  o.log(`freshness: generating ${needed.toLocaleString('en-US')} events`);
  const catalog = defaultCatalog();
  const events: PreparedEvent[] = [];
  for (const e of workloadEvents({ events: needed, days: 30, seed: 'bench-live' })) events.push(prepareEvent(catalog, JSON.parse(JSON.stringify(e))));
  const runs: FreshnessRun[] = [];
  for (let i = 1; i <= o.runs; i++) {
    const r = await withDatabase(o.url, (db) => freshnessRun(db, events, o), 'fresh');
    o.log(
      `freshness run ${i}/${o.runs}: ${r.samples} batches, p50 ${r.p50.toFixed(0)} ms, p95 ${r.p95.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, ` +
        `max ${r.max.toFixed(0)} ms at ${Math.round(r.appendRate)} events/s`,
    );
    runs.push(r);
  }
  return {
    rate: o.rate,
    seconds: o.seconds,
    intervalMs: o.intervalMs,
    runs,
    median: {
      p50: median(runs.map((r) => r.p50)),
      p95: median(runs.map((r) => r.p95)),
      p99: median(runs.map((r) => r.p99)),
      max: median(runs.map((r) => r.max)),
      appendRate: median(runs.map((r) => r.appendRate)),
    },
  };
}
