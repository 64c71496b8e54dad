/**
 * Append benchmark: generated NDJSON appended in batches of 1,000 with durable commits
 * (synchronous_commit on), database included, against the naive approach the analytics
 * documents describe (one INSERT per event into a plain table, autocommit), in one run.
 *
 * Each repetition uses a fresh database. Figures are events/s; the report gives medians.
 */
import { Client } from 'pg';
import { defaultCatalog } from '../../schemas';
import { prepareEvent, PreparedEvent } from '../../streams/prepare';
import { PostgresEventStore } from '../../streams/postgres';
import type { AppendResult } from '../../streams/store';
import { emmettAppend } from './emmett';
import { migrate } from '../db/migrate';
import { withDatabase, workloadLines } from './shared';

export interface AppendBenchOptions {
  url: string;
  events: number;
  runs: number;
  batchSize: number;
  naiveEvents: number;
  /** Emmett appends at about the naive rate: it gets a prefix of the lines too. */
  emmettEvents: number;
  log: (m: string) => void;
}

export interface AppendBenchRun {
  floe: number;
  naive: number;
  /** Emmett's PostgreSQL event store on the first `emmettEvents` lines, one appendToStream per stream. */
  emmett: number;
  prepare: number;
}

async function floeRun(url: string, lines: string[], batchSize: number): Promise<{ rate: number; prepare: number }> {
  await migrate(url);
  const store = await PostgresEventStore.open(url);
  try {
    const catalog = defaultCatalog();
    const t0 = process.hrtime.bigint();
    let batch: PreparedEvent[] = [];
    let prepNs = 0n;
    // As `floe append` does: the next batch is prepared, then looked up, while the previous
    // one holds the append lock (at most two in flight); preparing yields now and then so
    // that the appends' replies are taken as they come.
    let previous: Promise<AppendResult | null> = Promise.resolve(null);
    let older: Promise<unknown> = previous;
    const send = async (events: PreparedEvent[]) => {
      await older;
      older = previous;
      previous = store.appendPrepared(events, { after: previous });
      previous.catch(() => {}); // awaited by the next send or below
    };
    for (let i = 0; i < lines.length; i++) {
      if ((i & 127) === 127) await new Promise((r) => setImmediate(r));
      const p0 = process.hrtime.bigint();
      // As `floe append` does: the line's length is the event's size (no second serialisation).
      batch.push(prepareEvent(catalog, JSON.parse(lines[i]), { byteLength: Buffer.byteLength(lines[i]) }));
      prepNs += process.hrtime.bigint() - p0;
      if (batch.length === batchSize) {
        await send(batch);
        batch = [];
      }
    }
    await send(batch);
    await previous;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const { count } = await store.head();
    if (count !== new Set(lines.map((l) => JSON.parse(l).id)).size) throw new Error(`floe stored ${count} events, expected every distinct id`);
    return { rate: lines.length / secs, prepare: lines.length / (Number(prepNs) / 1e9) };
  } finally {
    await store.close();
  }
}

const NAIVE_TABLE = `CREATE TABLE naive_events (id uuid, type text, tenant_id text, occurred_at timestamptz, data jsonb, created_at timestamptz DEFAULT now())`;

async function naiveRun(url: string, lines: string[]): Promise<number> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(NAIVE_TABLE);
    const t0 = process.hrtime.bigint();
    for (const line of lines) {
      const e = JSON.parse(line);
      await c.query('INSERT INTO naive_events (id, type, tenant_id, occurred_at, data) VALUES ($1, $2, $3, $4, $5)', [e.id, e.type, e.tenantId, e.occurredAt, e.data]);
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    return lines.length / secs;
  } finally {
    await c.end();
  }
}

/** A warm-up run, then `runs` measured ones, each on a fresh database. */
export async function benchAppend(o: AppendBenchOptions): Promise<AppendBenchRun[]> {
  o.log(`generating ${o.events.toLocaleString('en-US')} events`);
  const lines = workloadLines(o.events);
  const naiveLines = lines.slice(0, o.naiveEvents);
  const runs: AppendBenchRun[] = [];
  for (let i = 0; i <= o.runs; i++) {
    const r = await withDatabase(o.url, async (u) => {
      const floe = await floeRun(u, lines, o.batchSize);
      const naive = await naiveRun(u, naiveLines);
      return { floe: floe.rate, prepare: floe.prepare, naive };
    });
    // Emmett makes its own fresh database; one writer, as Floe.
    const emmett = (await emmettAppend(o.url, lines.slice(0, o.emmettEvents), 1)).rate;
    o.log(`${i === 0 ? 'warm-up' : `run ${i}/${o.runs}`}: floe ${Math.round(r.floe)} events/s, emmett ${Math.round(emmett)} events/s, naive ${Math.round(r.naive)} events/s`);
    if (i > 0) runs.push({ ...r, emmett });
  }
  return runs;
}
