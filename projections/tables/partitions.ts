/**
 * Monthly range partitions of the projected tables.
 *
 * Every partitioned table has a DEFAULT partition, so a row for a month without a partition
 * is never rejected: it waits in `${table}_default`. Creating the month's partition moves
 * such rows out of the default in the same transaction (PostgreSQL refuses to attach a
 * partition while the default still holds rows of its range).
 *
 * One month is done as: CREATE TABLE `${table}_pYYYYMM` (LIKE the parent), move the month's
 * rows from the default into it (DELETE ... RETURNING), ATTACH PARTITION. Attaching takes
 * only SHARE UPDATE EXCLUSIVE on the parent, so readers and writers of other months carry
 * on; the default partition is locked (ACCESS EXCLUSIVE) from before the move until commit,
 * so no row of the month can slip into it in between. Call this *before* writing rows of a
 * new month in the same transaction: a transaction that has already written into the default
 * and then waits here for another caller's lock can deadlock with it.
 *
 * Bounds are UTC month starts: `'2026-03-01'` for `date` columns (`day`, `period_start`),
 * `'2026-03-01 00:00:00+00'` for `timestamptz` ones (`hour`, `occurred_at`).
 *
 * @example
 *   // own transaction (client not in one):
 *   await ensureMonthPartitions(client, 'campaign_analytics', 'day', '2026-03-01', '2026-05-31');
 *   // inside the caller's open transaction:
 *   await ensureMonthPartitions(tx, 'analytics_hourly', 'hour', from, to, { inTransaction: true });
 */
import { monthStart } from '../utc';
import { FloeError } from '../../schemas/errors';
import { TABLES } from './ddl';
import { derivedRelation, ident, literal, relation, type Relation } from './names';

/**
 * What these functions need of a connection. A `pg.ClientBase` (Client, PoolClient) fits, and
 * so does a one-line adapter over a knex transaction: values are inlined as quoted literals,
 * never bound, so that adapters need no parameter support.
 */
export interface SqlClient {
  query(sql: string): Promise<{ rows: unknown[] }>;
}

export interface PartitionOptions {
  /**
   * `true`: the client is inside a transaction that the caller owns (and commits); the work
   * joins it and no transaction statement is issued (no savepoints either). The caller must
   * be at READ COMMITTED, so that partitions committed by a concurrent caller are seen.
   * `false` (default): the client is not in a transaction; the work runs in one of its own.
   */
  inTransaction?: boolean;
}

export interface PartitionInfo {
  /** The partition's table name (it lives in its parent's schema). */
  name: string;
  isDefault: boolean;
  /** Range bounds [from, to) as UTC instants (a date bound is its UTC midnight); null for the default. */
  from: Date | null;
  to: Date | null;
}

/** Advisory lock class of partition maintenance (the two-int key space); the parent's oid is the other half. */
const PARTITION_LOCK_CLASS = 0x466c7074; // "Flpt"

const BOUND_PATTERN = String.raw`^FOR VALUES FROM \('([^']*)'\) TO \('([^']*)'\)$`;

/** A bound literal, as rendered by pg_get_expr in the session's time zone and date style, as UTC ISO text. */
const utcIso = (literalSql: string) => `to_char(
    CASE WHEN ${literalSql} LIKE '%:%' THEN ${literalSql}::timestamptz ELSE ${literalSql}::date::timestamp AT TIME ZONE 'UTC' END
    AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;

const listPartitionsSql = (parent: Relation) => `
  WITH bounds AS (
    SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = ${literal(parent.sql)}::regclass
  ), parsed AS (
    SELECT name, bound, regexp_match(bound, ${literal(BOUND_PATTERN)}) AS m FROM bounds
  )
  SELECT name, bound = 'DEFAULT' AS is_default, ${utcIso('m[1]')} AS from_at, ${utcIso('m[2]')} AS to_at
    FROM parsed
   ORDER BY is_default, from_at, name`;

/** The parent's partitioning: the column's type, its default partition, the columns a row copy must list. */
const layoutSql = (parent: Relation, column: string) => `
  SELECT format_type(a.atttypid, a.atttypmod) AS type,
         pt.partstrat = 'r' AND pt.partnatts = 1 AND a.attnum = pt.partattrs[0] AS is_range_key,
         NULLIF(pt.partdefid, 0)::regclass::text AS default_partition,
         (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
           WHERE attrelid = pt.partrelid AND attnum > 0 AND NOT attisdropped AND attgenerated = '') AS columns
    FROM pg_partitioned_table pt
    LEFT JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attname = ${literal(column)} AND NOT a.attisdropped
   WHERE pt.partrelid = ${literal(parent.sql)}::regclass`;

interface Layout {
  type: string | null;
  is_range_key: boolean | null;
  default_partition: string | null;
  columns: string;
}

/** Month bound literals by column type: UTC month starts. */
const BOUND_FORMATS: Record<string, (month: Date) => string> = {
  date: (m) => isoDate(m),
  'timestamp with time zone': (m) => `${isoDate(m)} 00:00:00+00`,
  'timestamp without time zone': (m) => `${isoDate(m)} 00:00:00`,
};

/** The partitions of `target` (month partitions by bound, then the default). */
export async function listPartitions(client: SqlClient, target: string): Promise<PartitionInfo[]> {
  const { rows } = await client.query(listPartitionsSql(relation(target)));
  return (rows as Array<{ name: string; is_default: boolean; from_at: string | null; to_at: string | null }>).map((r) => ({
    name: r.name,
    isDefault: r.is_default,
    from: r.from_at === null ? null : new Date(r.from_at),
    to: r.to_at === null ? null : new Date(r.to_at),
  }));
}

/**
 * Create the missing month partitions of `target` (partitioned by RANGE on `column`) for
 * every month from `from`'s month to `to`'s month (UTC), moving rows of those months out of
 * the default partition. Safe against concurrent callers (they serialize on an advisory
 * lock per table; the later one finds the partitions made). Months already covered by any
 * partition, whatever its name (a table renamed by a blue/green swap keeps its partitions'
 * names), are left alone.
 * @returns the names of the partitions created, e.g. `['campaign_analytics_p202603']`.
 */
export async function ensureMonthPartitions(
  client: SqlClient,
  target: string,
  column: string,
  from: Date | string,
  to: Date | string,
  options: PartitionOptions = {},
): Promise<string[]> {
  const parent = relation(target);
  const months = monthsBetween(from, to);
  if (months.length === 0) return [];
  return transaction(client, options, async () => {
    await client.query(`SELECT pg_advisory_xact_lock(${PARTITION_LOCK_CLASS}, ${literal(parent.sql)}::regclass::oid::int)`);
    const layout = await readLayout(client, parent, column);
    const formatBound = BOUND_FORMATS[layout.type ?? ''];
    if (!formatBound) {
      throw new FloeError('BAD_PARTITION_COLUMN', `${target}.${column} is ${layout.type}: month partitions need a date or timestamp column`);
    }
    const existing = await listPartitions(client, target);
    const missing = months.filter((m) => !existing.some((p) => p.from && p.to && p.from <= m && m < p.to));
    if (missing.length === 0) return [];
    const defaultPartition = layout.default_partition;
    if (defaultPartition) await client.query(`LOCK TABLE ${defaultPartition} IN ACCESS EXCLUSIVE MODE`);
    const created: string[] = [];
    for (const month of missing) {
      const partition = derivedRelation(parent, `${parent.name}_p${isoDate(month).slice(0, 7).replace('-', '')}`);
      const lower = literal(formatBound(month));
      const upper = literal(formatBound(monthStart(month, 1)));
      // Indexes are not copied: ATTACH builds them after the rows are in, which is cheaper.
      const statements = [`CREATE TABLE ${partition.sql} (LIKE ${parent.sql} INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS)`];
      if (defaultPartition) {
        const key = ident(column);
        statements.push(`WITH moved AS (
            DELETE FROM ${defaultPartition} WHERE ${key} >= ${lower} AND ${key} < ${upper} RETURNING ${layout.columns})
          INSERT INTO ${partition.sql} (${layout.columns}) SELECT ${layout.columns} FROM moved`);
      }
      statements.push(`ALTER TABLE ${parent.sql} ATTACH PARTITION ${partition.sql} FOR VALUES FROM (${lower}) TO (${upper})`);
      await client.query(statements.join(';\n'));
      created.push(partition.name);
    }
    return created;
  });
}

/** Months of partitions kept ahead of the current one (the migration's, and a rebuild's shadows'). */
export const MONTHS_AHEAD = 3;

/**
 * Make sure every partitioned table of `TABLES` (live names) has its partitions from the
 * current UTC month to `months` months ahead. Without `inTransaction`, each table is done in
 * a transaction of its own.
 * @returns the names of the partitions created.
 */
export async function ensurePartitionsAhead(
  client: SqlClient,
  months = MONTHS_AHEAD,
  options: PartitionOptions & { now?: Date } = {},
): Promise<string[]> {
  const now = options.now ?? new Date();
  const created: string[] = [];
  for (const table of TABLES) {
    if (!table.partitionColumn) continue;
    created.push(...(await ensureMonthPartitions(client, table.name, table.partitionColumn, now, monthStart(monthOf(now), months), options)));
  }
  return created;
}

async function readLayout(client: SqlClient, parent: Relation, column: string): Promise<Layout> {
  const { rows } = await client.query(layoutSql(parent, column));
  const layout = rows[0] as Layout | undefined;
  if (!layout) throw new FloeError('NOT_PARTITIONED', `${parent.sql} is not a partitioned table`);
  if (!layout.is_range_key) {
    throw new FloeError('BAD_PARTITION_COLUMN', `${parent.sql} is not partitioned by RANGE on ${column} alone`);
  }
  return layout;
}

async function transaction<T>(client: SqlClient, options: PartitionOptions, work: () => Promise<T>): Promise<T> {
  if (options.inTransaction) return work();
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {}); // the original error matters, not this one
    throw e;
  }
}

/** The UTC months from `from`'s to `to`'s, inclusive, as their first instants. */
function monthsBetween(from: Date | string, to: Date | string): Date[] {
  const months: Date[] = [];
  for (let m = monthOf(from), last = monthOf(to); m <= last; m = monthStart(m, 1)) months.push(m);
  return months;
}

function monthOf(value: Date | string): Date {
  const d = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(d.getTime())) throw new FloeError('BAD_MONTH', `not a date: ${String(value)}`);
  return monthStart(d);
}

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}
