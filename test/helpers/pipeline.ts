/**
 * End-to-end helpers for projection specs: append a generated workload to a real store,
 * project it, read a table back in the oracle's format and compare it with the oracle.
 */
import { expect } from 'chai';
import type { Pool } from 'pg';
import { generateWorkload, WorkloadTruth, type EventLine, type WorkloadOptions } from '../../ops/generate';
import { computeTruthTables, TRUTH_TABLE_COLUMNS, type Row } from '../../ops/generate/oracle';
import { sortRows } from '../../ops/generate/oracle/shared';
import type { PostgresEventStore } from '../../streams/postgres';

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
