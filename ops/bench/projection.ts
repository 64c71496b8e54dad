/**
 * Catch-up and memory benchmarks of the projector.
 *
 * The store is prepared once per bench run: N generated events appended by Floe into a
 * template database (then VACUUM ANALYZE, as autovacuum would leave it), and the same
 * events, at the same positions, COPYed into a plain typed table of a separate baseline
 * database. Every repetition projects into a fresh file-level copy of the template
 * (`CREATE DATABASE … TEMPLATE`), so each one starts from "store loaded, nothing
 * projected" and nothing of a previous run (partitions, ledger, caches in tables) leaks.
 *
 * The projector runs as users run it, a child process `floe project --until-caught-up
 * --json` (all projections, or `--only campaign_analytics`); its rate is the events it
 * folded over the seconds it reports (from after start-up and migration to its last
 * commit and final view refresh). Its peak RSS (VmHWM) is sampled from /proc.
 */
import { Client, Pool } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { PROJECTIONS } from '../../projections';
import { defaultCatalog } from '../../schemas';
import { PostgresEventStore } from '../../streams/postgres';
import { copyIn } from '../../streams/postgres/binary';
import { readStored, readStoredRecords } from '../../streams/postgres/read';
import { BATCH_SIZE } from '../../projections/runtime/runner';
import { foldBatch, LaneRef } from '../../projections/runtime/batch';
import { MemoryLedger } from '../../projections/runtime/ledger';
import type { StoredEvent } from '../../streams/envelope';
import { SchemaResolver } from '../../streams/postgres/schemaRegistry';
import { prepareEvent, PreparedEvent } from '../../streams/prepare';
import { dropDatabase, ensureDatabase } from '../db/connect';
import { migrate } from '../db/migrate';
import { BaselineLoader, baselineLine, campaignRows, compareRows, Comparison, runBaseline } from './baseline';
import {
  benchDatabaseUrl,
  floeChild,
  FloeRun,
  heapAfterFullGc,
  Log,
  median,
  projectSummary,
  seconds,
  serverCpuSeconds,
  withCopy,
  workloadEvents,
  WorkloadSpec,
} from './shared';

export interface PreparedStore {
  /** The template database holding the store (nobody connected between runs). */
  url: string;
  /** The baseline database (`bench_events`), when asked for. */
  baselineUrl?: string;
  spec: WorkloadSpec;
  /** Events stored (generated lines minus the generator's retried duplicates). */
  events: number;
  generated: number;
  seconds: number;
}

/** Generate, append (batches of 1,000, one in flight while the next is prepared) and optionally load the baseline table. */
export async function prepareStore(serverUrl: string, spec: WorkloadSpec, o: { baseline: boolean; log: Log }): Promise<PreparedStore> {
  const t0 = process.hrtime.bigint();
  const url = benchDatabaseUrl(serverUrl, 'store');
  const baselineUrl = o.baseline ? benchDatabaseUrl(serverUrl, 'baseline') : undefined;
  o.log(`preparing a store of ${spec.events.toLocaleString('en-US')} events over ${spec.days} days${o.baseline ? ' and its baseline table' : ''}`);
  await ensureDatabase(url);
  if (baselineUrl) await ensureDatabase(baselineUrl);
  try {
    await migrate(url);
    const store = await PostgresEventStore.open(url);
    const loader = baselineUrl ? await BaselineLoader.open(baselineUrl) : undefined;
    const catalog = defaultCatalog();
    let generated = 0;
    let stored = 0;
    try {
      let inflight: Promise<unknown> = Promise.resolve();
      const flush = (events: PreparedEvent[], inputs: Record<string, unknown>[]) =>
        store.appendPrepared(events).then(async (r) => {
          stored += r.appended;
          if (!loader) return;
          const lines: string[] = [];
          r.results.forEach((res, i) => {
            if (res.position !== 'duplicate') lines.push(baselineLine(res.position, inputs[i]));
          });
          await loader.write(lines);
        });
      let batch: PreparedEvent[] = [];
      let inputs: Record<string, unknown>[] = [];
      for (const generatedEvent of workloadEvents(spec)) {
        const input = JSON.parse(JSON.stringify(generatedEvent)); // as a producer's NDJSON line arrives
        batch.push(prepareEvent(catalog, input));
        inputs.push(input);
        generated++;
        if (batch.length === 1000) {
          await inflight;
          inflight = flush(batch, inputs);
          batch = [];
          inputs = [];
          if (generated % 200_000 === 0) o.log(`  ${generated.toLocaleString('en-US')} events appended`);
        }
      }
      await inflight;
      await flush(batch, inputs);
    } finally {
      await store.close();
      const rows = await loader?.close();
      if (loader && rows !== stored) throw new Error(`baseline table got ${rows} rows, the store ${stored} events`);
    }
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('VACUUM (ANALYZE) floe.events');
    } finally {
      await c.end();
    }
    const secs = seconds(t0);
    o.log(`  store ready: ${stored.toLocaleString('en-US')} events stored (${generated - stored} retried duplicates) in ${secs.toFixed(0)} s`);
    return { url, baselineUrl, spec, events: stored, generated, seconds: secs };
  } catch (e) {
    await dropStore({ url, baselineUrl });
    throw e;
  }
}

export async function dropStore(s: { url: string; baselineUrl?: string }): Promise<void> {
  await dropDatabase(s.url).catch(() => undefined);
  if (s.baselineUrl) await dropDatabase(s.baselineUrl).catch(() => undefined);
}

export interface ProjectRun {
  events: number;
  seconds: number;
  rate: number;
  peakRss: number;
  wallSeconds: number;
  /** CPU seconds of the projector process (start-up included). */
  cpuSeconds: number;
  /** CPU seconds the PostgreSQL processes used while it ran (0 if they cannot be seen). */
  serverCpuSeconds: number;
  /** FLOE_PROFILE lines (`timings.report()`), when profiled. */
  profile?: string[];
  /** Largest live V8 heap after a full GC and the heap V8 had reserved then (node --trace-gc), MB. */
  heap: { liveMb: number; heapMb: number } | null;
}

const PROFILE_LINE = /^\S.*\s\d+ ms {2}\(\d+ × [\d.]+ ms\)$/;

/** One `floe project --until-caught-up --json` child on `url`. */
export async function projectOnce(url: string, only: string[], o: { profile?: boolean } = {}): Promise<ProjectRun & { run: FloeRun }> {
  const args = ['project', '--until-caught-up', '--json', ...(only.length ? ['--only', only.join(',')] : [])];
  // --trace-gc: one short line per collection on stdout, no measurable cost; it says how much of the RSS is live data.
  const server0 = serverCpuSeconds();
  const run = await floeChild(url, args, o.profile ? { FLOE_PROFILE: '1' } : {}, ['--trace-gc']).done;
  const serverCpu = serverCpuSeconds() - server0;
  const s = projectSummary(run);
  const profile = o.profile ? run.err.split('\n').filter((l) => PROFILE_LINE.test(l)) : undefined;
  return {
    events: s.events,
    seconds: s.seconds,
    rate: s.events / s.seconds,
    peakRss: run.peakRss,
    wallSeconds: run.wallSeconds,
    cpuSeconds: run.cpuSeconds,
    serverCpuSeconds: serverCpu,
    profile,
    heap: heapAfterFullGc(run.out),
    run,
  };
}

/**
 * The floor under any projector of this store: its pages read as the projector reads them
 * (`readStored`, 5,000 events per query, one after the other), first the rows alone
 * (`readStoredRecords`), then with the Avro decoding, with nothing folded or written; in this process.
 */
export interface ReadFloor {
  /** Events/s of reading the rows alone. */
  read: number;
  /** Events/s of reading and decoding. */
  decode: number;
  /** Node.js CPU per event, µs: reading alone, and reading with decoding. */
  readCpuUs: number;
  decodeCpuUs: number;
  /** PostgreSQL's CPU per event while it served the decoded pass, µs (0: not visible). */
  serverCpuUs: number;
  /**
   * Node.js CPU per event, µs, of folding every projection on top of reading and decoding
   * (a third pass, minus the decoded one): the runtime's fold of each page (the email ledger
   * in memory, parked events held in memory), nothing written or encoded for writing.
   */
  foldCpuUs: number;
}

/** Every projection folded over the store, page by page, in memory (see `ReadFloor.foldCpuUs`); the facts folded. */
async function foldAll(pool: Pool, schemas: SchemaResolver, limit: number): Promise<{ events: number; facts: number }> {
  const lane: LaneRef = { lane: 'bench-fold-floor', shard: '0/1', projections: [...PROJECTIONS], table: (_p, name) => name };
  const ledger = new MemoryLedger();
  const parked = new Map<string, StoredEvent[]>(); // held here, as the store would hold them
  let after = 0n;
  let events = 0;
  let facts = 0;
  while (events < limit) {
    const page = await readStored(pool, { after, limit: BATCH_SIZE }, schemas);
    if (page.length === 0) break;
    after = page[page.length - 1].position;
    const plan = await foldBatch(pool, lane, {
      events: page,
      position: after,
      dead: new Map(),
      loadEvents: async () => [], // nothing of this lane is stored: a lookup that finds some fails the pass
      cache: ledger,
      pending: { changed: new Map(), parked },
    });
    ledger.commit(plan.changed);
    for (const id of plan.changed.keys()) parked.delete(id);
    for (const [id, list] of plan.parked) parked.set(id, [...(parked.get(id) ?? []), ...list]);
    events += page.length;
    facts += plan.outcome.facts;
  }
  return { events, facts };
}

export async function readFloor(url: string, events: number): Promise<ReadFloor> {
  const pool = new Pool({ connectionString: url, max: 1 });
  try {
    const schemas = new SchemaResolver(pool, defaultCatalog());
    await schemas.learn();
    const pass = async (decode: boolean, limit = Infinity) => {
      const t0 = process.hrtime.bigint();
      const cpu0 = process.cpuUsage();
      const server0 = serverCpuSeconds();
      let after = 0n;
      let n = 0;
      while (n < limit) {
        const page = decode
          ? (await readStored(pool, { after, limit: BATCH_SIZE }, schemas)).map((e) => e.position)
          : (await readStoredRecords(pool, { after, limit: BATCH_SIZE })).map((r) => r.position);
        if (page.length === 0) break;
        n += page.length;
        after = page[page.length - 1];
      }
      const cpu = process.cpuUsage(cpu0);
      if (limit === Infinity && n !== events) throw new Error(`read ${n} events, the store holds ${events}`);
      return { rate: n / seconds(t0), cpuUs: (cpu.user + cpu.system) / n, serverCpuUs: (1e6 * (serverCpuSeconds() - server0)) / n };
    };
    await pass(true, 50_000); // warm-up: connection, JIT
    const read = await pass(false);
    const decoded = await pass(true);
    await foldAll(pool, schemas, 50_000); // warm-up of the folds
    const cpu0 = process.cpuUsage();
    const folded = await foldAll(pool, schemas, Infinity);
    const cpu = process.cpuUsage(cpu0);
    if (folded.events !== events || folded.facts === 0) throw new Error(`the fold floor folded ${folded.facts} facts of ${folded.events} events, the store holds ${events}`);
    const foldCpuUs = (cpu.user + cpu.system) / events - decoded.cpuUs;
    return { read: read.rate, decode: decoded.rate, readCpuUs: read.cpuUs, decodeCpuUs: decoded.cpuUs, serverCpuUs: decoded.serverCpuUs, foldCpuUs };
  } finally {
    await pool.end();
  }
}

/**
 * What writing the projected rows costs at the least: the final contents of every projected
 * table analysts query (the public ones; not the projections' private state, not the email
 * ledger), read out of a caught-up copy and written back once by binary COPY, one table after
 * the other, in two ways:
 * - into the live tables, emptied (their indexes, partitions and constraints maintained row by
 *   row, as any projector that keeps them queryable while it folds pays);
 * - bulk: into plain tables of the same columns without any index, whose indexes (the live
 *   tables') are built once the rows are in: the cheapest way we know to get these rows into
 *   PostgreSQL indexed as analysts need them, whatever folds the events.
 */
export interface WriteFloor {
  rows: number;
  seconds: number;
  /** CPU time of PostgreSQL's processes over the writes, s. */
  serverCpuSeconds: number;
  bulk: { seconds: number; serverCpuSeconds: number; indexes: number };
}

const BULK = 'floe_bench_bulk';

export async function writeFloor(url: string): Promise<WriteFloor> {
  const tables = PROJECTIONS.flatMap((p) => p.tables).filter((t) => !t.includes('.'));
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const copies: Array<{ table: string; list: string; chunks: Buffer[]; rows: number }> = [];
    let rows = 0;
    for (const t of tables) {
      const { rows: cols } = await client.query<{ name: string }>(
        `SELECT quote_ident(attname) AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
        [`public.${t}`],
      );
      const list = cols.map((c) => c.name).join(', ');
      const chunks: Buffer[] = [];
      const out = client.query(copyTo(`COPY (SELECT ${list} FROM public.${t}) TO STDOUT (FORMAT binary)`));
      for await (const chunk of out) chunks.push(chunk as Buffer);
      rows += out.rowCount;
      copies.push({ table: t, list, chunks, rows: out.rowCount });
    }
    // Bulk first (the live tables still hold their rows, the plain ones are written beside them).
    const indexes: string[] = [];
    await client.query(`CREATE SCHEMA ${BULK}`);
    for (const c of copies) {
      await client.query(`CREATE TABLE ${BULK}.${c.table} (LIKE public.${c.table})`);
      const { rows: defs } = await client.query<{ def: string }>(`SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = $1::regclass`, [`public.${c.table}`]);
      for (const { def } of defs) indexes.push(def.replace(/ INDEX \S+ ON (ONLY )?public\./, ` INDEX ON ${BULK}.`));
    }
    const write = async (schema: string, indexesAfter: string[] = []) => {
      await client.query('CHECKPOINT');
      const cpu0 = serverCpuSeconds();
      const t0 = process.hrtime.bigint();
      for (const c of copies) {
        const written = await copyIn(client, `COPY ${schema}.${c.table} (${c.list}) FROM STDIN (FORMAT binary)`, c.chunks);
        if (written !== c.rows) throw new Error(`${c.table}: ${c.rows} rows read out, ${written} written back`);
      }
      for (const def of indexesAfter) await client.query(def);
      return { seconds: seconds(t0), serverCpuSeconds: serverCpuSeconds() - cpu0 };
    };
    const bulk = await write(BULK, indexes);
    await client.query(`DROP SCHEMA ${BULK} CASCADE`);
    await client.query(`TRUNCATE ${tables.map((t) => `public.${t}`).join(', ')}`);
    const live = await write('public');
    return { rows, ...live, bulk: { ...bulk, indexes: indexes.length } };
  } finally {
    await client.end();
  }
}

export interface CatchupRep {
  baseline: number;
  baselineSeconds: number;
  campaign: ProjectRun;
  all: ProjectRun;
  campaignCheck: Comparison;
  allCheck: Comparison;
  floor: ReadFloor;
  writeFloor: WriteFloor;
}

export interface CatchupResult {
  events: number;
  runs: CatchupRep[];
  /** The warm-up repetition, profiled (FLOE_PROFILE=1), not in the medians. */
  warmup: CatchupRep;
  median: {
    baseline: number;
    campaign: number;
    all: number;
    campaignPeakRss: number;
    allPeakRss: number;
    campaignCpuShare: number;
    allCpuShare: number;
    /** CPU seconds of PostgreSQL per wall second of the projector. */
    campaignServerShare: number;
    allServerShare: number;
    floor: ReadFloor;
    writeFloor: WriteFloor;
    /** Largest live heap after a full GC of the all-projection runs, MB. */
    allHeapLiveMb: number;
  };
  /** Every repetition, warm-up included, produced rows identical to the baseline's. */
  identical: boolean;
  /** The first mismatch seen, for the report. */
  mismatch?: Comparison;
  baselineRows: number;
}

/**
 * A warm-up repetition (profiled), then `runs` measured ones. Each: the baseline statement,
 * Floe with campaign_analytics alone, Floe with every projection; both Floe results are
 * compared row for row with the baseline's.
 */
export async function benchCatchup(store: PreparedStore, runs: number, log: Log): Promise<CatchupResult> {
  if (!store.baselineUrl) throw new Error('the catch-up benchmark needs a store prepared with its baseline');
  const reps: CatchupRep[] = [];
  let warmup: CatchupRep | undefined;
  let mismatch: Comparison | undefined;
  let baselineRows = 0;
  for (let i = 0; i <= runs; i++) {
    const profile = i === 0;
    const b = await runBaseline(store.baselineUrl);
    const baseRows = await campaignRows(store.baselineUrl, 'bench_campaign_analytics');
    baselineRows = baseRows.length;
    const floe = async (only: string[]) =>
      withCopy(
        store.url,
        async (db) => {
          const r = await projectOnce(db, only, { profile });
          if (r.events !== store.events) throw new Error(`floe project folded ${r.events} events, the store holds ${store.events}`);
          const check = compareRows(await campaignRows(db, 'campaign_analytics'), baseRows);
          return { r, check, written: only.length === 0 ? await writeFloor(db) : undefined };
        },
        'catchup',
      );
    const campaign = await floe(['campaign_analytics']);
    const all = await floe([]);
    const written = all.written!;
    const floor = await readFloor(store.url, store.events);
    const strip = (r: ProjectRun & { run?: FloeRun }): ProjectRun => ({ ...r, run: undefined }) as ProjectRun;
    const rep: CatchupRep = {
      baseline: store.events / b.seconds,
      baselineSeconds: b.seconds,
      campaign: strip(campaign.r),
      all: strip(all.r),
      campaignCheck: campaign.check,
      allCheck: all.check,
      floor,
      writeFloor: written,
    };
    for (const c of [campaign.check, all.check]) if (!c.identical) mismatch ??= c;
    log(
      `catch-up ${i === 0 ? 'warm-up (profiled)' : `run ${i}/${runs}`}: baseline ${Math.round(rep.baseline)} events/s, ` +
        `floe campaign_analytics ${Math.round(rep.campaign.rate)} events/s, all projections ${Math.round(rep.all.rate)} events/s, ` +
        `reading alone ${Math.round(floor.read)} events/s (${Math.round(floor.decode)} decoded); ` +
        `the projected tables' ${written.rows} rows written back alone ${written.seconds.toFixed(1)} s (PostgreSQL CPU ${written.serverCpuSeconds.toFixed(1)} s), ` +
        `in bulk ${written.bulk.seconds.toFixed(1)} s (${written.bulk.serverCpuSeconds.toFixed(1)} s); ` +
        `rows ${campaign.check.identical && all.check.identical ? 'IDENTICAL' : 'DIFFERENT'} (${baseRows.length})`,
    );
    if (i === 0) warmup = rep;
    else reps.push(rep);
  }
  return {
    events: store.events,
    runs: reps,
    warmup: warmup!,
    median: {
      baseline: median(reps.map((r) => r.baseline)),
      campaign: median(reps.map((r) => r.campaign.rate)),
      all: median(reps.map((r) => r.all.rate)),
      campaignPeakRss: median(reps.map((r) => r.campaign.peakRss)),
      allPeakRss: median(reps.map((r) => r.all.peakRss)),
      campaignCpuShare: median(reps.map((r) => r.campaign.cpuSeconds / r.campaign.wallSeconds)),
      allCpuShare: median(reps.map((r) => r.all.cpuSeconds / r.all.wallSeconds)),
      campaignServerShare: median(reps.map((r) => r.campaign.serverCpuSeconds / r.campaign.wallSeconds)),
      allServerShare: median(reps.map((r) => r.all.serverCpuSeconds / r.all.wallSeconds)),
      floor: {
        read: median(reps.map((r) => r.floor.read)),
        decode: median(reps.map((r) => r.floor.decode)),
        readCpuUs: median(reps.map((r) => r.floor.readCpuUs)),
        decodeCpuUs: median(reps.map((r) => r.floor.decodeCpuUs)),
        serverCpuUs: median(reps.map((r) => r.floor.serverCpuUs)),
        foldCpuUs: median(reps.map((r) => r.floor.foldCpuUs)),
      },
      writeFloor: {
        rows: median(reps.map((r) => r.writeFloor.rows)),
        seconds: median(reps.map((r) => r.writeFloor.seconds)),
        serverCpuSeconds: median(reps.map((r) => r.writeFloor.serverCpuSeconds)),
        bulk: {
          seconds: median(reps.map((r) => r.writeFloor.bulk.seconds)),
          serverCpuSeconds: median(reps.map((r) => r.writeFloor.bulk.serverCpuSeconds)),
          indexes: median(reps.map((r) => r.writeFloor.bulk.indexes)),
        },
      },
      allHeapLiveMb: median(reps.map((r) => r.all.heap?.liveMb ?? NaN)),
    },
    identical: mismatch === undefined,
    mismatch,
    baselineRows,
  };
}

export interface MemoryPoint {
  events: number;
  days: number;
  runs: ProjectRun[];
  peakRss: number;
  rate: number;
  heapLiveMb: number;
}

/** Peak RSS of `floe project --until-caught-up` (every projection) over the store, `runs` times. */
export async function benchMemory(store: PreparedStore, runs: number, log: Log): Promise<MemoryPoint> {
  const out: ProjectRun[] = [];
  for (let i = 1; i <= runs; i++) {
    const r = await withCopy(store.url, async (db) => projectOnce(db, []), 'memory');
    if (r.events !== store.events) throw new Error(`floe project folded ${r.events} events, the store holds ${store.events}`);
    out.push({ ...r, run: undefined } as ProjectRun);
    log(`memory ${store.events.toLocaleString('en-US')} events, run ${i}/${runs}: peak RSS ${(r.peakRss / 2 ** 20).toFixed(0)} MB, ${Math.round(r.rate)} events/s`);
  }
  return {
    events: store.events,
    days: store.spec.days,
    runs: out,
    peakRss: median(out.map((r) => r.peakRss)),
    rate: median(out.map((r) => r.rate)),
    heapLiveMb: median(out.map((r) => r.heap?.liveMb ?? NaN)),
  };
}
