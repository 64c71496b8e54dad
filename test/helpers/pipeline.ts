/**
 * End-to-end helpers for projection specs: append a generated workload to a real store,
 * project it, read a table back in the oracle's format and compare it with the oracle.
 */
import { expect } from 'chai';
import { Pool } from 'pg';
import { generateWorkload, WorkloadTruth, type EventLine, type WorkloadOptions } from '../../ops/generate';
import { computeTruthTables, TRUTH_TABLE_COLUMNS, type Row } from '../../ops/generate/oracle';
import { sortRows } from '../../ops/generate/oracle/shared';
import { PostgresEventStore } from '../../streams/postgres';
import { useDatabase } from './backends';

export interface Workload {
  lines: EventLine[];
  truth: WorkloadTruth;
  tables: Record<string, Row[]>;
}

const cache = new Map<string, Workload>();

/** A generated workload with the oracle's tables (cached per options for the run). */
export function workload(opts: WorkloadOptions): Workload {
  const key = JSON.stringify(opts);
  let w = cache.get(key);
  if (!w) {
    const truth = new WorkloadTruth();
    const lines = [...generateWorkload(opts, truth)];
    w = { lines, truth, tables: computeTruthTables(truth) };
    cache.set(key, w);
  }
  return w;
}

/** Append lines in order, `chunk` per call (each call one transaction). */
export async function appendLines(store: PostgresEventStore, lines: EventLine[], chunk = 2000): Promise<void> {
  for (let i = 0; i < lines.length; i += chunk) await store.append(lines.slice(i, i + chunk));
}

/** The primary key columns of an oracle table: those before its first non-key column. */
export const ORACLE_KEYS: Record<string, string[]> = {
  campaign_analytics: ['tenant_id', 'campaign_id', 'day'],
  sequence_step_analytics: ['tenant_id', 'step_id', 'day'],
  mailbox_analytics: ['tenant_id', 'mailbox_id', 'day'],
  lead_analytics: ['tenant_id', 'lead_id', 'campaign_id'],
  warmup_analytics: ['tenant_id', 'mailbox_id', 'day'],
  daily_analytics: ['tenant_id', 'campaign_id', 'mailbox_id', 'day'],
  analytics_hourly: ['tenant_id', 'hour'],
  emails: ['tenant_id', 'email_id'],
  billing_analytics: ['tenant_id', 'period_start'],
};

const normalize = (v: unknown): unknown => {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return Number(v);
  return v;
};

/** A table's rows with the oracle's columns, values formatted as the oracle writes them, sorted by key. */
export async function tableRows(pool: Pool, table: string, physical = table): Promise<Row[]> {
  const columns = TRUTH_TABLE_COLUMNS[table];
  const select = columns.map((c) => (c === 'day' || c === 'period_start' || c === 'period_end' ? `${c}::text AS ${c}` : c)).join(', ');
  const { rows } = await pool.query(`SELECT ${select} FROM ${physical}`);
  const out = rows.map((r: Row) => Object.fromEntries(columns.map((c) => [c, normalize(r[c])])));
  return sortRows(out, ORACLE_KEYS[table]);
}

/** Every row equal, reporting the first differences by key when not. */
export function expectSameRows(table: string, actual: Row[], expected: Row[]): void {
  const keys = ORACLE_KEYS[table];
  const k = (r: Row) => keys.map((c) => String(r[c])).join('|');
  const want = new Map(expected.map((r) => [k(r), r]));
  const got = new Map(actual.map((r) => [k(r), r]));
  const problems: string[] = [];
  for (const [key, r] of want) {
    const a = got.get(key);
    if (!a) problems.push(`missing row ${key}: ${JSON.stringify(r)}`);
    else if (JSON.stringify(a) !== JSON.stringify(r)) problems.push(`row ${key}:\n    got  ${JSON.stringify(a)}\n    want ${JSON.stringify(r)}`);
  }
  for (const [key, a] of got) if (!want.has(key)) problems.push(`unexpected row ${key}: ${JSON.stringify(a)}`);
  if (problems.length) {
    expect.fail(`${table}: ${problems.length} difference(s) in ${actual.length} rows (oracle ${expected.length}); first ones:\n  ${problems.slice(0, 8).join('\n  ')}`);
  }
}

/**
 * Every row of every public table the projections own, as sorted JSON text without
 * the times of projecting: two runs that should agree compare equal with deep equality.
 */
export async function snapshot(pool: Pool, projections: readonly { tables: string[] }[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of projections.flatMap((p) => p.tables).filter((t) => !t.includes('.'))) {
    // Times of projecting, not of the events: `updated_at`, and `created_at` of the admin tables.
    const drop = table.startsWith('admin_') ? `- 'updated_at' - 'created_at'` : `- 'updated_at'`;
    const { rows } = await pool.query<{ r: string }>(`SELECT (to_jsonb(t) ${drop})::text AS r FROM ${table} t`);
    out[table] = rows.map((x) => x.r).sort();
  }
  return out;
}

/** Compare two snapshots table by table, naming the first table and rows that differ. */
export function expectSameSnapshot(actual: Record<string, string[]>, expected: Record<string, string[]>, what: string): void {
  expect(Object.keys(actual).sort(), `${what}: tables`).to.deep.equal(Object.keys(expected).sort());
  for (const table of Object.keys(expected)) {
    const a = new Set(actual[table]);
    const e = new Set(expected[table]);
    const missing = expected[table].filter((r) => !a.has(r));
    const extra = actual[table].filter((r) => !e.has(r));
    if (missing.length || extra.length || actual[table].length !== expected[table].length) {
      expect.fail(
        `${what}: ${table} differs (${actual[table].length} rows vs ${expected[table].length}); ` +
          `missing ${missing.length}, e.g. ${missing.slice(0, 2).join(' ')}; unexpected ${extra.length}, e.g. ${extra.slice(0, 2).join(' ')}`,
      );
    }
  }
}

export interface StoreHandle {
  db: { url: string };
  pool: Pool;
  store: PostgresEventStore;
}

/**
 * A throw-away migrated database with a pool and an open store, for one suite.
 * @example
 *   const h = useStore(); // in a describe(); then h.pool, h.store, h.db.url inside tests
 */
export function useStore(poolSize = 8): StoreHandle {
  const db = useDatabase();
  const h = { db } as StoreHandle;
  before(async function () {
    if (!db.url) return this.skip();
    h.pool = new Pool({ connectionString: db.url, max: poolSize });
    h.store = await PostgresEventStore.open(db.url, { pool: h.pool });
  });
  after(() => h.pool?.end());
  return h;
}
