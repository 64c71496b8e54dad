/**
 * Writing new events with COPY (binary format): one stream of rows per batch, the fastest
 * way into `floe.events`. The caller draws the positions under the append lock, so they are
 * contiguous and known without RETURNING.
 */
import type { PoolClient } from 'pg';
import type { PreparedEvent } from '../prepare';
import { BinaryWriter, copyIn } from './binary';

const COPY_SQL =
  'COPY floe.events (global_position, event_id, stream_id, stream_position, type, tenant_id, occurred_at, schema_fingerprint, data, metadata) FROM STDIN (FORMAT binary)';

const FIELDS = 10;

export interface NewEvent {
  e: PreparedEvent;
  streamPosition: number;
}

/** Insert the events at positions `first`, `first + 1`, … in order. */
export async function copyEvents(client: PoolClient, rows: NewEvent[], first: bigint): Promise<void> {
  const w = new BinaryWriter(64 + rows.length * 400);
  w.copyHeader();
  for (let i = 0; i < rows.length; i++) {
    const { e, streamPosition } = rows[i];
    w.int16(FIELDS);
    w.int8(first + BigInt(i));
    w.uuid(e.id);
    w.text(e.stream);
    w.int8(BigInt(streamPosition));
    w.text(e.type);
    w.text(e.tenantId);
    w.timestamptz(e.occurredAt.getTime());
    w.bytes(e.fingerprint);
    w.bytes(e.data);
    w.jsonb(e.metadata);
  }
  w.copyEnd();
  await copyIn(client, COPY_SQL, w.done());
}
