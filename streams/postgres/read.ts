/**
 * Reading `floe.events` in global order: everything after a position, one stream, one
 * tenant, a type prefix, or one tenant shard. Pages are read with one indexed query each.
 */
import type { Pool } from 'pg';
import type { RecordedEvent } from '../envelope';
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

const COLUMNS = 'global_position, event_id, stream_id, stream_position, type, tenant_id, occurred_at, recorded_at, data, metadata';

/**
 * The SQL shard of a tenant. Projections use the same expression, so a shard's reader and
 * its writer agree on which tenants are theirs.
 */
export const TENANT_SHARD_SQL = (column: string, count: string) => `(abs(hashtextextended(${column}, 0)) % ${count})`;

export function buildReadQuery(o: ReadOptions): { text: string; values: unknown[] } {
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
    values.push(o.typePrefix.replace(/[\\%_]/g, (c) => '\\' + c) + '%');
    where.push(`type LIKE $${values.length}`);
  }
  if (o.types !== undefined) {
    values.push(o.types);
    where.push(`type = ANY($${values.length}::text[])`);
  }
  if (o.shard !== undefined) {
    values.push(o.shard.count, o.shard.index);
    where.push(`${TENANT_SHARD_SQL('tenant_id', `$${values.length - 1}`)} = $${values.length}`);
  }
  values.push(o.limit ?? 1000);
  return {
    text: `SELECT ${COLUMNS} FROM floe.events WHERE ${where.join(' AND ')} ORDER BY global_position LIMIT $${values.length}`,
    values,
  };
}

export async function readRows(pool: Pool, o: ReadOptions): Promise<EventRow[]> {
  const q = buildReadQuery(o);
  return (await pool.query<EventRow>(q)).rows;
}

/** The events at these global positions, in global order (projections re-read parked events this way). */
export async function readRowsAt(pool: Pool, positions: bigint[]): Promise<EventRow[]> {
  const { rows } = await pool.query<EventRow>(
    `SELECT ${COLUMNS} FROM floe.events WHERE global_position = ANY($1::bigint[]) ORDER BY global_position`,
    [positions.map(String)],
  );
  return rows;
}

export async function decodeRows(rows: EventRow[], schemas: SchemaResolver): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    let decoded;
    try {
      decoded = schemas.decodeKnown(r.type, r.data);
    } catch (e) {
      if ((e as { code?: string }).code !== 'UNKNOWN_SCHEMA') throw e;
      await schemas.learn();
      decoded = schemas.decodeKnown(r.type, r.data);
    }
    const { data, version } = decoded;
    out[i] = {
      id: r.event_id,
      type: r.type,
      stream: r.stream_id,
      tenantId: r.tenant_id,
      occurredAt: r.occurred_at,
      recordedAt: r.recorded_at,
      position: BigInt(r.global_position),
      streamPosition: Number(r.stream_position),
      data,
      metadata: r.metadata,
      schemaVersion: version,
    };
  }
  return out;
}
