import type { ClientBase } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { memoized } from '../memo';

/**
 * PostgreSQL's binary wire formats, written straight into one growing buffer: rows of
 * `COPY … (FORMAT binary)` and one-dimensional arrays for `$n::type[]` parameters (what
 * `array_send` produces). Binary values spare the server parsing text — hex bytea, UUIDs,
 * timestamps, quoted array literals — which is most of the cost of a wide set-based write.
 *
 * @example
 *   const ids = encodeArray('bigint', [1, 2, 3]); // a Buffer: node-postgres sends it as a binary parameter
 *   await client.query('SELECT * FROM unnest($1::bigint[])', [ids]);
 */

export const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const DAY_MS = 86_400_000;
export const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const INT8_MAX = 2n ** 63n - 1n;
const INT8_MIN = -(2n ** 63n);
/** Strings up to this many UTF-16 units are copied by hand when they are ASCII. */
const SHORT_TEXT = 64;

export class BinaryWriter {
  private buf: Buffer;
  private at = 0;
  constructor(size = 4096) {
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
  /** A NULL field or element. */
  null(): void {
    this.int32(-1);
  }
  /** A length-prefixed 4-byte integer field. */
  int4(v: number): void {
    this.room(8);
    this.at = this.buf.writeInt32BE(4, this.at);
    this.at = this.buf.writeInt32BE(v, this.at);
  }
  int8(v: bigint): void {
    this.room(12);
    this.at = this.buf.writeInt32BE(8, this.at);
    this.at = this.buf.writeBigInt64BE(v, this.at);
  }
  bool(v: boolean): void {
    this.room(5);
    this.at = this.buf.writeInt32BE(1, this.at);
    this.buf[this.at++] = v ? 1 : 0;
  }
  bytes(b: Buffer): void {
    this.int32(b.length);
    this.raw(b);
  }
  /**
   * UTF-8 text, length first. Short ASCII strings (ids, names, the bulk of a write) are
   * copied by a loop, not by two calls into the runtime (measuring, then encoding) apiece.
   */
  text(s: string): void {
    const len = s.length;
    if (len <= SHORT_TEXT) {
      this.room(4 + len);
      const buf = this.buf;
      const start = this.at + 4;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        buf[start + i] = c;
      }
      if (i === len) {
        buf.writeInt32BE(len, this.at);
        this.at = start + len;
        return;
      }
    }
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
  /** An instant in epoch milliseconds, as microseconds since 2000-01-01 UTC (±Infinity: PostgreSQL's ±infinity). */
  timestamptz(ms: number): void {
    const us = (ms - PG_EPOCH_MS) * 1000;
    if (!Number.isSafeInteger(us)) {
      this.int8(ms === Infinity ? INT8_MAX : ms === -Infinity ? INT8_MIN : BigInt(ms - PG_EPOCH_MS) * 1000n);
      return;
    }
    // Exact in a double: written as two 32-bit halves, without a BigInt per value.
    this.room(12);
    const hi = Math.floor(us / 2 ** 32);
    this.at = this.buf.writeInt32BE(8, this.at);
    this.at = this.buf.writeInt32BE(hi, this.at);
    this.at = this.buf.writeUInt32BE(us - hi * 2 ** 32, this.at);
  }
  /** A UTC day in epoch milliseconds (midnight), as days since 2000-01-01. */
  date(ms: number): void {
    this.int4(Math.floor((ms - PG_EPOCH_MS) / DAY_MS));
  }
  jsonb(v: unknown): void {
    if (v === null || v === undefined) return this.null();
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    const n = Buffer.byteLength(s);
    this.room(5 + n);
    this.at = this.buf.writeInt32BE(n + 1, this.at);
    this.buf[this.at++] = 1; // jsonb binary format version
    this.at += this.buf.write(s, this.at);
  }
  /** The COPY header: signature, flags, header-extension length. */
  copyHeader(): void {
    this.raw(COPY_SIGNATURE);
    this.int32(0);
    this.int32(0);
  }
  /** The COPY trailer. */
  copyEnd(): void {
    this.int16(-1);
  }
  done(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

/** Element type OIDs (pg_type) of the types sent in binary. */
const OIDS: Record<string, number> = {
  text: 25,
  int: 23,
  integer: 23,
  bigint: 20,
  boolean: 16,
  date: 1082,
  timestamptz: 1184,
  uuid: 2950,
  jsonb: 3802,
};

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?(Z|[+-]00:00)$/;
const ISO_DAY = /^\d{4}-\d\d-\d\d$/;

/** Epoch ms of a timestamp value, or undefined when it is not one that round-trips exactly. */
function instant(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isNaN(v) ? undefined : v;
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string' && ISO_MS.test(v)) return Date.parse(v);
  return undefined;
}

const dayMs = memoized((v: string) => Date.parse(v));
const day = (v: unknown): number | undefined => (typeof v === 'string' && ISO_DAY.test(v) ? dayMs(v) : undefined);

/** Writes one non-null value as a field or array element; false when it cannot. */
type Put = (w: BinaryWriter, v: unknown) => boolean;

const PUT: Record<string, Put> = {
  text: (w, v) => {
    if (typeof v === 'string') w.text(v);
    else if (typeof v === 'number' || typeof v === 'bigint') w.text(String(v));
    else return false;
    return true;
  },
  int: (w, v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < -2147483648 || n > 2147483647) return false;
    w.int4(n);
    return true;
  },
  bigint: (w, v) => {
    if (typeof v === 'bigint') w.int8(v);
    else if (typeof v === 'number' && Number.isInteger(v)) w.int8(BigInt(v));
    else if (typeof v === 'string' && /^-?\d+$/.test(v)) w.int8(BigInt(v));
    else return false;
    return true;
  },
  boolean: (w, v) => (typeof v === 'boolean' ? (w.bool(v), true) : false),
  date: (w, v) => {
    const ms = day(v);
    if (ms === undefined) return false;
    w.date(ms);
    return true;
  },
  timestamptz: (w, v) => {
    const ms = instant(v);
    if (ms === undefined) return false;
    w.timestamptz(ms);
    return true;
  },
  uuid: (w, v) => (typeof v === 'string' && v.length === 36 ? (w.uuid(v), true) : false),
  jsonb: (w, v) => (w.jsonb(v), true),
};
PUT.integer = PUT.int;

/**
 * A one-dimensional array of `type` in PostgreSQL's binary format, or undefined when the
 * type or one of the values is not one this module writes (the caller sends text then).
 * Nulls and undefined are NULL elements.
 */
export function encodeArray(type: string, values: unknown[]): Buffer | undefined {
  const put = PUT[type];
  if (!put) return undefined;
  let size = 20 + values.length * 16;
  if (type === 'text') {
    // Sized for ASCII text, so that the buffer is rarely copied into a larger one.
    size = 20;
    for (const v of values) size += 4 + (typeof v === 'string' ? v.length : 20);
  }
  const w = new BinaryWriter(size);
  w.int32(1); // dimensions
  w.int32(values.some((v) => v === null || v === undefined) ? 1 : 0);
  w.int32(OIDS[type]);
  w.int32(values.length);
  w.int32(1); // lower bound
  for (const v of values) {
    if (v === null || v === undefined) w.null();
    else if (!put(w, v)) return undefined;
  }
  return w.done();
}

/**
 * `COPY … (FORMAT binary)` data for rows given as one array per column (types as in
 * `encodeArray`), or undefined when a value cannot be written in binary.
 */
export function encodeCopy(types: string[], columns: unknown[][]): Buffer | undefined {
  const puts = types.map((t) => PUT[t]);
  if (puts.some((p) => !p)) return undefined;
  const n = columns[0]?.length ?? 0;
  const w = new BinaryWriter(64 + n * types.length * 12);
  w.copyHeader();
  for (let r = 0; r < n; r++) {
    w.int16(types.length);
    for (let c = 0; c < puts.length; c++) {
      const v = columns[c][r];
      if (v === null || v === undefined) w.null();
      else if (!puts[c](w, v)) return undefined;
    }
  }
  w.copyEnd();
  return w.done();
}

/**
 * Run `COPY … FROM STDIN` with data built in one buffer (`BinaryWriter` with `copyHeader`/`copyEnd`,
 * or `encodeCopy`), or in chunks sent one after the other; the rows the server took.
 */
export async function copyIn(client: ClientBase, sql: string, data: Buffer | Buffer[]): Promise<number> {
  const into = client.query(copyFrom(sql));
  await pipeline(Readable.from(Array.isArray(data) ? data : [data]), into);
  return into.rowCount;
}
