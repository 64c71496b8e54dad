/**
 * Reading `floe.events` in global order: everything after a position, one stream, one
 * tenant, a type prefix, or one tenant shard. Pages are read with one indexed query each.
 */
import { escapeLiteral, types, type CustomTypesConfig, type Pool } from 'pg';
import type { RecordedEvent, StoredEvent } from '../envelope';
import type { ReadOptions } from '../store';
import type { SchemaResolver } from './schemaRegistry';
import { copyOut, int8, int8Number, jsonb, text, TextInterner, timestamptz, uuid } from './copyOut';

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

/**
 * The WHERE clause and LIMIT of a read; `value` puts a value in the statement (a parameter,
 * or for a COPY, which takes none, a literal).
 */
function readClauses(o: ReadOptions, value: (v: string | number | readonly string[]) => string): string {
  const where = [`global_position > ${value(String(o.after ?? 0n))}::bigint`];
  if (o.stream !== undefined) where.push(`stream_id = ${value(o.stream)}`);
  if (o.tenant !== undefined) where.push(`tenant_id = ${value(o.tenant)}`);
  if (o.typePrefix !== undefined) where.push(`type LIKE ${value(escapeLike(o.typePrefix) + '%')}`);
  const anyOf: string[] = [];
  if (o.types !== undefined) anyOf.push(`type = ANY(${value(o.types)}::text[])`);
  if (o.typePrefixes !== undefined) anyOf.push(`type LIKE ANY(${value(o.typePrefixes.map((t) => escapeLike(t) + '%'))}::text[])`);
  if (anyOf.length) where.push(anyOf.length > 1 ? `(${anyOf.join(' OR ')})` : anyOf[0]);
  if (o.shard !== undefined) where.push(`${TENANT_SHARD_SQL('tenant_id', `${value(o.shard.count)}::int`)} = ${value(o.shard.index)}::int`);
  return `WHERE ${where.join(' AND ')} ORDER BY global_position LIMIT ${value(o.limit ?? 1000)}::bigint`;
}

export function buildReadQuery(o: ReadOptions, columns = COLUMNS): { text: string; values: unknown[]; types: CustomTypesConfig } {
  const values: unknown[] = [];
  const clauses = readClauses(o, (v) => {
    values.push(v);
    return `$${values.length}`;
  });
  return { text: `SELECT ${columns} FROM floe.events ${clauses}`, values, types: READ_TYPES };
}

/** The same read as a statement of its own (for COPY): every value a literal. */
function readStatement(o: ReadOptions, columns: string): string {
  return `SELECT ${columns} FROM floe.events ${readClauses(o, literal)}`;
}

function literal(v: string | number | readonly string[]): string {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError(`not an integer: ${v}`);
    return String(v);
  }
  if (typeof v === 'string') return escapeLiteral(v);
  return `ARRAY[${v.map((x) => escapeLiteral(x)).join(', ')}]::text[]`;
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

/** An event as stored, its payload not decoded (a view of the buffer it was read in). */
export type StoredRecord = Omit<StoredEvent, 'data' | 'schemaVersion'> & { data: Buffer };

/** Event types and tenant ids read as one string each (few values, one per row). */
const TYPES = new TextInterner();
const TENANTS = new TextInterner();

/**
 * The events these options select, without recorded_at (`StoredEvent`): what the projection
 * runtime and `floe billing recompute` read. One binary COPY (`copyOut`), each event decoded
 * as its row arrives; rows whose writer schema is not known yet are decoded once the registry
 * has been read again, in place.
 */
export async function readStored(pool: Pool, o: ReadOptions, schemas: SchemaResolver): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  const unknown: Array<[StoredEvent, Buffer]> = [];
  await copyStored(pool, o, (e) => {
    const event = e as unknown as StoredEvent;
    try {
      const decoded = schemas.decodeKnown(e.type, e.data);
      event.data = decoded.data;
      event.schemaVersion = decoded.version;
    } catch (err) {
      if ((err as { code?: string }).code !== 'UNKNOWN_SCHEMA') throw err;
      unknown.push([event, Buffer.from(e.data)]);
    }
    out.push(event);
  });
  for (const [event, bytes] of unknown) {
    const decoded = await decodeData(schemas, event.type, bytes);
    event.data = decoded.data;
    event.schemaVersion = decoded.version;
  }
  return out;
}

/** `readStored` without the Avro decoding (benchmarks time reading apart from decoding). */
export async function readStoredRecords(pool: Pool, o: ReadOptions): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  await copyStored(pool, o, (e) => out.push(e));
  return out;
}

/** Read the selected events' rows by binary COPY, each handed over as it arrives (decoded or not: `each` fills in `data` and `schemaVersion`). */
async function copyStored(pool: Pool, o: ReadOptions, each: (e: StoredRecord & { schemaVersion: number }) => void): Promise<void> {
  const client = await pool.connect();
  try {
    await copyOut(client, readStatement(o, STORED_COLUMNS), 9, (b, at, len) =>
      // The fields in the order of STORED_COLUMNS; the object in StoredEvent's (one shape for every event).
      each({
        id: uuid(b, at[1]),
        type: TYPES.get(b, at[4], len[4]),
        stream: text(b, at[2], len[2]),
        tenantId: TENANTS.get(b, at[5], len[5]),
        occurredAt: timestamptz(b, at[6]),
        position: int8(b, at[0]),
        streamPosition: int8Number(b, at[3]),
        data: b.subarray(at[7], at[7] + len[7]),
        metadata: jsonb(b, at[8], len[8]) as Record<string, unknown> | null,
        schemaVersion: 0,
      }),
    );
  } catch (e) {
    client.release(e as Error); // not pooled again after a failed statement
    throw e;
  }
  client.release();
}
