import type { ClientBase } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { COPY_SIGNATURE, PG_EPOCH_MS } from './binary';

/**
 * Reading `COPY (query) TO STDOUT (FORMAT binary)`: tuples handed over as they arrive, fields
 * read straight from the protocol's buffers. Against a query's text rows this spares the
 * server printing every value (bytea as hex, timestamps, UUIDs) and the client turning each
 * field into a string and parsing it back: a `bytea` is a slice of the buffer it came in.
 *
 * @example
 *   await copyOut(client, 'SELECT global_position, data FROM floe.events', 2, (b, at, len) => {
 *     positions.push(int8(b, at[0]));
 *     payloads.push(Buffer.from(b.subarray(at[1], at[1] + len[1]))); // copied: kept past the read
 *   });
 */

/**
 * Called once per tuple with the buffer holding it and each field's offset and length (-1:
 * NULL). A slice of the buffer stays valid but keeps the whole chunk alive: copy what is kept
 * for long.
 */
export type TupleReader = (b: Buffer, at: Int32Array, len: Int32Array) => void;

/** The COPY header: signature, flags, header-extension length (and the extension). */
const HEADER = COPY_SIGNATURE.length + 8;

/**
 * Run `sql` (a query without parameters: COPY takes none) as a binary COPY out, each tuple
 * read as it arrives. Throws what `read` throws (the rest of the statement is still drained,
 * so the connection stays usable) or the server's error.
 */
export async function copyOut(client: ClientBase, sql: string, columns: number, read: TupleReader): Promise<number> {
  const at = new Int32Array(columns);
  const len = new Int32Array(columns);
  let rest: Buffer | undefined;
  let header = false;
  let tuples = 0;
  let failed: unknown;
  const stream = client.query(copyTo(`COPY (${sql}) TO STDOUT (FORMAT binary)`));
  const parse = (chunk: Buffer) => {
    const b = rest ? Buffer.concat([rest, chunk]) : chunk;
    rest = undefined;
    let o = 0;
    if (!header) {
      if (b.length < HEADER) return void (rest = b);
      if (!b.subarray(0, COPY_SIGNATURE.length).equals(COPY_SIGNATURE)) throw new Error('not a binary COPY stream');
      const extension = b.readInt32BE(HEADER - 4);
      if (b.length < HEADER + extension) return void (rest = b);
      o = HEADER + extension;
      header = true;
    }
    for (;;) {
      if (o + 2 > b.length) break;
      const n = b.readInt16BE(o);
      if (n === -1) return; // the trailer
      if (n !== columns) throw new Error(`binary COPY: a tuple of ${n} fields, ${columns} expected`);
      // The whole tuple first: one that is cut off waits for the next chunk.
      let p = o + 2;
      let whole = true;
      for (let f = 0; f < n; f++) {
        if (p + 4 > b.length) {
          whole = false;
          break;
        }
        const l = b.readInt32BE(p);
        at[f] = p + 4;
        len[f] = l;
        p += 4 + (l > 0 ? l : 0);
      }
      if (!whole || p > b.length) break;
      read(b, at, len);
      tuples++;
      o = p;
    }
    if (o < b.length) rest = Buffer.from(b.subarray(o));
  };
  await new Promise<void>((resolve, reject) => {
    // A listener must not throw: the rest of the statement is drained, then the read fails.
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      try {
        parse(chunk);
      } catch (e) {
        failed = e;
      }
    });
    stream.on('end', () => (failed ? reject(failed) : resolve()));
    stream.on('error', reject);
  });
  return tuples;
}

/** A bigint field as a BigInt. */
export const int8 = (b: Buffer, o: number): bigint => b.readBigInt64BE(o);

/** A bigint field as a number (exact up to 2^53). */
export const int8Number = (b: Buffer, o: number): number => b.readInt32BE(o) * 4294967296 + b.readUInt32BE(o + 4);

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Where the two digits of each of a uuid's 16 bytes go in its text form. */
const UUID_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
const uuidText = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');

/**
 * A uuid field in its canonical text form: its digits written into one scratch buffer, then
 * one string made of it (a hex string cut and joined again made seven strings per row, some
 * 400 bytes, a third of a rebuild's read allocations).
 */
export function uuid(b: Buffer, o: number): string {
  for (let i = 0; i < 16; i++) {
    const v = b[o + i];
    const at = UUID_AT[i];
    uuidText[at] = HEX_DIGITS[v >> 4];
    uuidText[at + 1] = HEX_DIGITS[v & 15];
  }
  return uuidText.toString('latin1');
}

/**
 * A timestamptz field as a Date, to the millisecond (microseconds truncated toward the past,
 * as node-postgres reads the text form); ±infinity as node-postgres reads it too: the number
 * ±Infinity, not a Date.
 */
export function timestamptz(b: Buffer, o: number): Date {
  const hi = b.readInt32BE(o);
  const lo = b.readUInt32BE(o + 4);
  if (hi === 0x7fffffff && lo === 0xffffffff) return Infinity as unknown as Date;
  if (hi === -0x80000000 && lo === 0) return -Infinity as unknown as Date;
  return new Date(PG_EPOCH_MS + Math.floor((hi * 4294967296 + lo) / 1000));
}

/** A text field. */
export const text = (b: Buffer, o: number, l: number): string => b.toString('utf8', o, o + l);

/** A jsonb field (NULL: null). */
export const jsonb = (b: Buffer, o: number, l: number): unknown => (l < 0 ? null : JSON.parse(b.toString('utf8', o + 1, o + l)));

/**
 * Text fields that take few values (event types, tenant ids) as one string each: found by
 * their bytes, so a read does not allocate the same string per row.
 */
export class TextInterner {
  private readonly byHash = new Map<number, string[]>();

  get(b: Buffer, o: number, l: number): string {
    let h = l;
    for (let i = o; i < o + l; i++) h = (Math.imul(h, 31) + b[i]) | 0;
    const bucket = this.byHash.get(h);
    if (bucket) {
      for (const s of bucket) if (s.length === l && sameAscii(s, b, o)) return s;
    }
    const s = text(b, o, l);
    if (this.byHash.size < 4096 && (bucket?.length ?? 0) < 4) {
      if (bucket) bucket.push(s);
      else this.byHash.set(h, [s]);
    }
    return s;
  }
}

/** Whether `s` is exactly the bytes at `o` (its length being theirs); false for non-ASCII strings, which are then not interned. */
function sameAscii(s: string, b: Buffer, o: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== b[o + i]) return false;
  return true;
}
