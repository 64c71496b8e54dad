/**
 * Writing new events with COPY (binary format): one stream of rows per batch, the fastest
 * way into `floe.events`. Positions are drawn beforehand under the append lock, so they are
 * contiguous and known without RETURNING.
 */
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { PreparedEvent } from '../prepare';

const COPY_SQL =
  'COPY floe.events (global_position, event_id, stream_id, stream_position, type, tenant_id, occurred_at, schema_fingerprint, data, metadata) FROM STDIN (FORMAT binary)';

/** Draw `n` positions; contiguous because the caller holds the append lock. */
const POSITIONS_SQL = `SELECT nextval(pg_get_serial_sequence('floe.events', 'global_position'))::text AS first, setval(pg_get_serial_sequence('floe.events', 'global_position'), currval(pg_get_serial_sequence('floe.events', 'global_position')) + $1 - 1)::text AS last`;

const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const FIELDS = 10;

/**
 * COPY binary format (PostgreSQL docs, "COPY … Binary Format"): a signature, flags and
 * header-extension length, then per row a 16-bit field count and, per field, a 32-bit
 * length and the value in its binary send format; a 16-bit -1 ends the data. Binary rows
 * spare the server parsing hex bytea, UUIDs and timestamps.
 */
class RowWriter {
  private buf: Buffer;
  private at = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }
  raw(b: Buffer): void {
    this.room(b.length);
    b.copy(this.buf, this.at);
    this.at += b.length;
  }
  int16(v: number): void {
    this.room(2);
    this.at = this.buf.writeInt16BE(v, this.at);
  }
  int32(v: number): void {
    this.room(4);
    this.at = this.buf.writeInt32BE(v, this.at);
  }
  int8(v: bigint): void {
    this.room(12);
    this.at = this.buf.writeInt32BE(8, this.at);
    this.at = this.buf.writeBigInt64BE(v, this.at);
  }
  bytes(b: Buffer): void {
    this.int32(b.length);
    this.raw(b);
  }
  text(s: string): void {
    const n = Buffer.byteLength(s);
    this.room(4 + n);
    this.at = this.buf.writeInt32BE(n, this.at);
    this.at += this.buf.write(s, this.at);
  }
  uuid(s: string): void {
    this.room(20);
    this.at = this.buf.writeInt32BE(16, this.at);
    this.at += this.buf.write(s.replace(/-/g, ''), this.at, 'hex');
  }
  timestamptz(d: Date): void {
    this.int8(BigInt(d.getTime() - PG_EPOCH_MS) * 1000n);
  }
  jsonb(v: unknown): void {
    if (v === null || v === undefined) return this.int32(-1);
    const s = JSON.stringify(v);
    const n = Buffer.byteLength(s);
    this.room(5 + n);
    this.at = this.buf.writeInt32BE(n + 1, this.at);
    this.buf[this.at++] = 1; // jsonb binary format version
    this.at += this.buf.write(s, this.at);
  }
  done(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

export interface NewEvent {
  e: PreparedEvent;
  streamPosition: number;
}

/** Insert the events; returns the global position of the first (the rest follow in order). */
export async function copyEvents(client: PoolClient, rows: NewEvent[]): Promise<bigint> {
  const { rows: pos } = await client.query<{ first: string; last: string }>(POSITIONS_SQL, [rows.length]);
  const first = BigInt(pos[0].first);
  const w = new RowWriter(64 + rows.length * 400);
  w.raw(SIGNATURE);
  w.int32(0);
  w.int32(0);
  for (let i = 0; i < rows.length; i++) {
    const { e, streamPosition } = rows[i];
    w.int16(FIELDS);
    w.int8(first + BigInt(i));
    w.uuid(e.id);
    w.text(e.stream);
    w.int8(BigInt(streamPosition));
    w.text(e.type);
    w.text(e.tenantId);
    w.timestamptz(e.occurredAt);
    w.bytes(e.fingerprint);
    w.bytes(e.data);
    w.jsonb(e.metadata);
  }
  w.int16(-1);
  const copy = client.query(copyFrom(COPY_SQL));
  await pipeline(Readable.from([w.done()]), copy);
  return first;
}
