/**
 * Reading `floe.events` in global order: everything after a position, one stream, one
 * tenant, a type prefix, or one tenant shard. Pages are read with one indexed query each.
 */
import { Query, types, type CustomTypesConfig, type Pool } from 'pg';
import type { RecordedEvent, StoredEvent } from '../envelope';
import type { ReadOptions } from '../store';
import type { SchemaResolver } from './schemaRegistry';

export interface EventRow {
  global_position: string;
  event_id: string;
  stream_id: string;
  stream_position: string;
  type: string;
  tenant_id: string;
  occurred_at: Date;
  recorded_at: Date;
  data: Buffer;
  metadata: Record<string, unknown> | null;
}

/** A row without recorded_at: what the projection runtime reads (`StoredEvent`). */
export type StoredRow = Omit<EventRow, 'recorded_at'>;

const STORED_COLUMNS = 'global_position, event_id, stream_id, stream_position, type, tenant_id, occurred_at, data, metadata';
const COLUMNS = `${STORED_COLUMNS}, recorded_at`;

/**
 * The SQL shard of a tenant. Projections use the same expression, so a shard's reader and
 * its writer agree on which tenants are theirs.
 */
export const TENANT_SHARD_SQL = (column: string, count: string) => `(abs(hashtextextended(${column}, 0)) % ${count})`;

const TIMESTAMPTZ = 1184;
const parseDefault = types.getTypeParser(TIMESTAMPTZ, 'text') as (s: string) => Date;
const digit = (s: string, i: number): number => {
  const d = s.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : NaN;
};
const num = (s: string, i: number, n: number): number => {
  let v = 0;
  for (let k = 0; k < n; k++) v = v * 10 + digit(s, i + k);
  return v;
};

/**
 * A timestamptz as PostgreSQL prints it in ISO style ('2026-01-05 12:34:56.789123+00', the
 * offset being the session's time zone), read without regular expressions: reading pages of
 * events parses two per event, and node-postgres' general parser was the largest single cost
 * of a read. Milliseconds are truncated as node-postgres does; anything else (years before
 * 1000, BC, infinity) goes to node-postgres' parser.
 */
export function parseTimestamptz(s: string): Date {
  const len = s.length;
  if (len >= 22 && s.charCodeAt(4) === 45 && s.charCodeAt(10) === 32 && s.charCodeAt(len - 1) !== 67 /* BC */) {
    const year = num(s, 0, 4);
    let i = 19;
    let ms = 0;
    if (s.charCodeAt(i) === 46) {
      let scale = 100;
      for (i++; i < len && digit(s, i) >= 0; i++) {
        ms += digit(s, i) * scale;
        scale /= 10;
      }
      ms = Math.floor(ms);
    }
    const sign = s.charCodeAt(i) === 43 ? 1 : s.charCodeAt(i) === 45 ? -1 : 0;
    let offset = num(s, i + 1, 2) * 3_600_000;
    i += 3;
    if (s.charCodeAt(i) === 58) {
      offset += num(s, i + 1, 2) * 60_000;
      i += 3;
      if (s.charCodeAt(i) === 58) {
        offset += num(s, i + 1, 2) * 1000;
        i += 3;
      }
    }
    const t = Date.UTC(year, num(s, 5, 2) - 1, num(s, 8, 2), num(s, 11, 2), num(s, 14, 2), num(s, 17, 2), ms) - sign * offset;
    if (year >= 1000 && sign !== 0 && i === len && !Number.isNaN(t)) return new Date(t);
  }
  return parseDefault(s);
}

/** Query types for reads of events: fast timestamps, node-postgres' parsers otherwise. */
const READ_TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === TIMESTAMPTZ && format !== 'binary' ? parseTimestamptz : types.getTypeParser(oid, format as 'text')) as CustomTypesConfig['getTypeParser'],
};

const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => '\\' + c);

export function buildReadQuery(o: ReadOptions, columns = COLUMNS): { text: string; values: unknown[]; types: CustomTypesConfig } {
  const values: unknown[] = [String(o.after ?? 0n)];
  const where = ['global_position > $1'];
  if (o.stream !== undefined) {
    values.push(o.stream);
    where.push(`stream_id = $${values.length}`);
  }
  if (o.tenant !== undefined) {
    values.push(o.tenant);
    where.push(`tenant_id = $${values.length}`);
  }
  if (o.typePrefix !== undefined) {
    values.push(escapeLike(o.typePrefix) + '%');
    where.push(`type LIKE $${values.length}`);
  }
  const anyOf: string[] = [];
  if (o.types !== undefined) {
    values.push(o.types);
    anyOf.push(`type = ANY($${values.length}::text[])`);
  }
  if (o.typePrefixes !== undefined) {
    values.push(o.typePrefixes.map((t) => escapeLike(t) + '%'));
    anyOf.push(`type LIKE ANY($${values.length}::text[])`);
  }
  if (anyOf.length) where.push(anyOf.length > 1 ? `(${anyOf.join(' OR ')})` : anyOf[0]);
  if (o.shard !== undefined) {
    values.push(o.shard.count, o.shard.index);
    where.push(`${TENANT_SHARD_SQL('tenant_id', `$${values.length - 1}`)} = $${values.length}`);
  }
  values.push(o.limit ?? 1000);
  return {
    text: `SELECT ${columns} FROM floe.events WHERE ${where.join(' AND ')} ORDER BY global_position LIMIT $${values.length}`,
    values,
    types: READ_TYPES,
  };
}

/** The last committed position (0 for an empty store): every position up to it is committed, as appends commit in position order. */
export async function headPosition(pool: Pool): Promise<bigint> {
  const { rows } = await pool.query<{ head: string }>('SELECT coalesce(max(global_position), 0)::text AS head FROM floe.events');
  return BigInt(rows[0].head);
}

export async function readRows(pool: Pool, o: ReadOptions): Promise<EventRow[]> {
  const q = buildReadQuery(o);
  return (await pool.query<EventRow>(q)).rows;
}

/** The rows `readStored` decodes, left raw (benchmarks time reading apart from decoding). */
export async function readStoredRows(pool: Pool, o: ReadOptions): Promise<StoredRow[]> {
  return (await pool.query<StoredRow>(buildReadQuery(o, STORED_COLUMNS))).rows;
}

/** The events at these global positions, in global order, without recorded_at (projections re-read parked events this way). */
export async function readRowsAt(pool: Pool, positions: bigint[]): Promise<StoredRow[]> {
  const { rows } = await pool.query<StoredRow>({
    text: `SELECT ${STORED_COLUMNS} FROM floe.events WHERE global_position = ANY($1::bigint[]) ORDER BY global_position`,
    values: [positions.map(String)],
    types: READ_TYPES,
  });
  return rows;
}

type Decoded = { data: Record<string, unknown>; version: number };

/** A payload decoded, learning the registry's schemas once when its writer schema is not known yet. */
async function decodeData(schemas: SchemaResolver, type: string, bytes: Buffer): Promise<Decoded> {
  try {
    return schemas.decodeKnown(type, bytes);
  } catch (e) {
    if ((e as { code?: string }).code !== 'UNKNOWN_SCHEMA') throw e;
    await schemas.learn();
    return schemas.decodeKnown(type, bytes);
  }
}

export async function decodeRows(rows: EventRow[], schemas: SchemaResolver): Promise<RecordedEvent[]> {
  // Each event gets its recordedAt below, before anyone sees it.
  const out = (await decodeStored(rows, schemas)) as RecordedEvent[];
  for (let i = 0; i < rows.length; i++) out[i].recordedAt = rows[i].recorded_at;
  return out;
}

export async function decodeStored(rows: StoredRow[], schemas: SchemaResolver): Promise<StoredEvent[]> {
  const out: StoredEvent[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = storedEvent(rows[i], await decodeData(schemas, rows[i].type, rows[i].data));
  return out;
}

const storedEvent = (r: StoredRow, { data, version }: Decoded): StoredEvent => ({
  id: r.event_id,
  type: r.type,
  stream: r.stream_id,
  tenantId: r.tenant_id,
  occurredAt: r.occurred_at,
  position: BigInt(r.global_position),
  streamPosition: Number(r.stream_position),
  data,
  metadata: r.metadata,
  schemaVersion: version,
});

/**
 * The events these options select, without recorded_at (`StoredEvent`): what the projection
 * runtime and `floe billing recompute` read.
 */
export const readStored = (pool: Pool, o: ReadOptions, schemas: SchemaResolver): Promise<StoredEvent[]> =>
  readDecoded<StoredRow, StoredEvent>(pool, buildReadQuery(o, STORED_COLUMNS), schemas, storedEvent);

/**
 * Run a read, each row decoded as it arrives: the raw rows (payloads in hex) never pile up, so
 * they die young instead of being copied by the garbage collector (5% of a rebuild). Rows whose
 * writer schema is not known yet are decoded once the registry has been read again, in place.
 */
async function readDecoded<R extends { type: string; data: Buffer }, E>(
  pool: Pool,
  q: { text: string; values: unknown[]; types: CustomTypesConfig },
  schemas: SchemaResolver,
  build: (r: R, decoded: Decoded) => E,
): Promise<E[]> {
  const out: E[] = [];
  const unknown: Array<[number, R]> = [];
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let failed: unknown;
      const query = new Query({ text: q.text, values: q.values, types: q.types });
      // A listener must not throw: it runs inside node-postgres' message parsing.
      query.on('row', (r: R) => {
        if (failed) return;
        try {
          out.push(build(r, schemas.decodeKnown(r.type, r.data)));
        } catch (e) {
          if ((e as { code?: string }).code !== 'UNKNOWN_SCHEMA') failed = e;
          else {
            unknown.push([out.length, r]);
            out.push(undefined as E); // filled in below
          }
        }
      });
      query.on('end', () => (failed ? reject(failed) : resolve()));
      query.on('error', (e: Error) => reject((broken = e)));
      client.query(query);
    });
  } finally {
    client.release(broken); // a connection whose query failed is not pooled again
  }
  for (const [i, r] of unknown) out[i] = build(r, await decodeData(schemas, r.type, r.data));
  return out;
}
