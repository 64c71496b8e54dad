/**
 * Set-based writes: one statement per table per batch, with the batch's rows passed as
 * one array per column and expanded by `unnest` on the server (no per-row round trips,
 * no giant VALUES lists to parse).
 *
 * @example
 *   await upsert(tx.client, 'campaign_analytics', [
 *     { name: 'tenant_id', type: 'text' }, { name: 'day', type: 'date' }, { name: 'sent', type: 'int' },
 *   ], [tenants, days, sents], { conflict: ['tenant_id', 'day'], update: { sent: 'cur.sent + EXCLUDED.sent' } });
 */
import { createHash } from 'node:crypto';
import type { ClientBase, Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { memoized } from '../../streams/memo';
import { copyIn, encodeArray, encodeCopy } from '../../streams/postgres/binary';

/** Anything to run queries on outside a transaction's identity: a client, or the pool itself. */
export type Reader = Pick<ClientBase, 'query'>;

export interface Column {
  name: string;
  /** The PostgreSQL type of the column's array elements (text, int, bigint, date, timestamptz, boolean, uuid, jsonb). */
  type: string;
}

export interface UpsertOptions {
  /** The conflict target; empty: a plain INSERT. */
  conflict: string[];
  /** SET expressions by column; `cur` is the existing row, `EXCLUDED` the new one. Omitted: DO NOTHING. */
  update?: Record<string, string>;
  /** Only rows of the SELECT satisfying this (over the column names) are inserted. */
  where?: string;
}

/**
 * INSERT … SELECT FROM unnest(…) ON CONFLICT …; `values` holds one array per column, each
 * sent as a binary array where it can be (`arrayParams`): a `timestamptz` column may hold
 * epoch milliseconds, Dates or ISO strings.
 */
export async function upsert(client: ClientBase, table: string, columns: Column[], values: unknown[][], o: UpsertOptions): Promise<number> {
  if (values.length === 0 || values[0].length === 0) return 0;
  if (values.length !== columns.length) throw new Error(`upsert ${table}: ${values.length} arrays for ${columns.length} columns`);
  const names = columns.map((c) => c.name).join(', ');
  const source = `unnest(${columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')}) AS u(${names})`;
  const action = o.update
    ? `DO UPDATE SET ${Object.entries(o.update)
        .map(([col, expr]) => `${col} = ${expr}`)
        .join(', ')}`
    : 'DO NOTHING';
  const text =
    `INSERT INTO ${table} AS cur (${names}) SELECT ${names} FROM ${source}` +
    (o.where ? ` WHERE ${o.where}` : '') +
    (o.conflict.length ? ` ON CONFLICT (${o.conflict.join(', ')}) ${action}` : '');
  // A named (prepared) statement: parsed and planned once per connection, not per batch.
  const r = await client.query({ name: statementName(text), text, values: arrayParams(text, values) });
  return r.rowCount ?? 0;
}

const castTypes = new Map<string, Map<number, string>>();
/** The element type of each `$n::type[]` parameter of a statement (memoised per text). */
function arrayCasts(text: string): Map<number, string> {
  let casts = castTypes.get(text);
  if (casts === undefined) {
    casts = new Map();
    for (const m of text.matchAll(/\$(\d+)::(\w+)\[\]/g)) casts.set(Number(m[1]) - 1, m[2]);
    castTypes.set(text, casts);
  }
  return casts;
}

/**
 * The parameters of a statement, every array cast `$n::type[]` in its text sent as a
 * binary array where `encodeArray` can (else as node-postgres would send it).
 */
export function arrayParams(text: string, values: unknown[]): unknown[] {
  const casts = arrayCasts(text);
  return values.map((v, i) => {
    const type = casts.get(i);
    return type !== undefined && Array.isArray(v) ? (encodeArray(type, v) ?? arrayLiteral(v)) : v;
  });
}

/** `client.query(text, values)` with the array parameters in binary (`arrayParams`). */
export function queryArrays<R extends QueryResultRow = QueryResultRow>(client: Reader, text: string, values: unknown[]): Promise<QueryResult<R>> {
  return client.query<R>(text, arrayParams(text, values));
}

/** Insert rows (one array per column) with one binary COPY: for rows certainly new, the cheapest write there is. */
export async function copyRows(client: ClientBase, table: string, columns: Column[], values: unknown[][]): Promise<number> {
  const n = values[0]?.length ?? 0;
  if (n === 0) return 0;
  const data = encodeCopy(columns.map((c) => c.type), values);
  if (!data) return upsert(client, table, columns, values, { conflict: [] });
  await copyIn(client, `COPY ${table} (${columns.map((c) => c.name).join(', ')}) FROM STDIN (FORMAT binary)`, data);
  return n;
}

const names = new Map<string, string>();
const statementName = (text: string): string => {
  let name = names.get(text);
  if (name === undefined) {
    name = `floe_upsert_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    names.set(text, name);
  }
  return name;
};

const NEEDS_ESCAPE = /["\\]/;

/**
 * A PostgreSQL array literal for a column of scalars (what node-postgres would send, built
 * in one pass without its per-element type dispatch and double regex replace).
 */
export function arrayLiteral(values: unknown[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i) out += ',';
    const v = values[i];
    if (v === null || v === undefined) out += 'NULL';
    else if (typeof v === 'number' || typeof v === 'bigint') out += String(v);
    else if (typeof v === 'boolean') out += v ? 't' : 'f';
    else if (Buffer.isBuffer(v)) out += `"\\\\x${v.toString('hex')}"`;
    else {
      const s = typeof v === 'string' ? v : v instanceof Date ? v.toISOString() : JSON.stringify(v);
      out += NEEDS_ESCAPE.test(s) ? `"${s.replace(/["\\]/g, '\\$&')}"` : `"${s}"`;
    }
  }
  return out + '}';
}

/** `cur.c + EXCLUDED.c` for every counter column: the usual increment-on-conflict. */
export function increments(columns: string[]): Record<string, string> {
  return Object.fromEntries(columns.map((c) => [c, `cur.${c} + EXCLUDED.${c}`]));
}

/** Column-major buffers for `upsert`: push a row at a time, hand `columns` over. */
export class Rows {
  readonly columns: unknown[][];
  constructor(width: number) {
    this.columns = Array.from({ length: width }, () => []);
  }
  push(...row: unknown[]): void {
    for (let i = 0; i < row.length; i++) this.columns[i].push(row[i]);
  }
  get length(): number {
    return this.columns[0]?.length ?? 0;
  }
}

/** ISO string of an epoch-ms instant, or null. */
export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const dayOf = memoized((d: number) => new Date(d * DAY_MS).toISOString().slice(0, 10));
const hourOf = memoized((h: number) => new Date(h * HOUR_MS).toISOString());

/** UTC date 'YYYY-MM-DD' of an epoch-ms instant (memoised per day: folds ask for it per event). */
export const utcDay = (ms: number): string => dayOf(Math.floor(ms / DAY_MS));

/** The UTC hour start of an epoch-ms instant, as an ISO string (memoised per hour). */
export const utcHour = (ms: number): string => hourOf(Math.floor(ms / HOUR_MS));

/** Run `work` in one transaction on a pooled connection: COMMIT when it resolves, ROLLBACK when it throws. */
export async function transaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}
