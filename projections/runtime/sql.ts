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
import type { ClientBase, Pool, PoolClient } from 'pg';

export interface Column {
  name: string;
  /** The PostgreSQL type of the column's array elements (text, int, bigint, date, timestamptz, boolean, uuid, jsonb). */
  type: string;
}

export interface UpsertOptions {
  conflict: string[];
  /** SET expressions by column; `cur` is the existing row, `EXCLUDED` the new one. Omitted: DO NOTHING. */
  update?: Record<string, string>;
  /** Only rows of the SELECT satisfying this (over the column names) are inserted. */
  where?: string;
}

/** INSERT … SELECT FROM unnest(…) ON CONFLICT …; `values` holds one array per column. */
export async function upsert(client: ClientBase, table: string, columns: Column[], values: unknown[][], o: UpsertOptions): Promise<number> {
  if (values.length === 0 || values[0].length === 0) return 0;
  if (values.length !== columns.length) throw new Error(`upsert ${table}: ${values.length} arrays for ${columns.length} columns`);
  const names = columns.map((c) => c.name).join(', ');
  const arrays = columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ');
  const action = o.update
    ? `DO UPDATE SET ${Object.entries(o.update)
        .map(([col, expr]) => `${col} = ${expr}`)
        .join(', ')}`
    : 'DO NOTHING';
  const text =
    `INSERT INTO ${table} AS cur (${names}) SELECT ${names} FROM unnest(${arrays}) AS u(${names})` +
    (o.where ? ` WHERE ${o.where}` : '') +
    ` ON CONFLICT (${o.conflict.join(', ')}) ${action}`;
  const r = await client.query({ text, values });
  return r.rowCount ?? 0;
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

/** UTC date 'YYYY-MM-DD' of an epoch-ms instant. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The UTC hour start of an epoch-ms instant, as an ISO string. */
export const utcHour = (ms: number): string => new Date(ms - (ms % 3_600_000)).toISOString();

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
