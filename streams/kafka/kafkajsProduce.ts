/**
 * A faster encoder for kafkajs' Produce requests (v3 and later, uncompressed, messages without
 * timestamps: what Floe sends), installed under kafkajs' own one.
 *
 * kafkajs 2.2.4 (its last release) builds each record, and each of its headers, in an Encoder
 * of its own (a zero-filled 512-byte buffer each), writes every varint through a temporary
 * array and Buffer, copies the pieces into the record batch, and computes the batch's CRC-32C
 * a byte at a time: with Floe's seven headers an event, that was most of a publisher's CPU
 * time. This module writes the same bytes in two passes (sizes, then one buffer per request)
 * and computes CRC-32C eight bytes at a time.
 *
 * It takes over at the one place kafkajs turns a produce call into bytes (the request's
 * `encode`, reached through `Broker#produce`), and leaves every other part of the client —
 * partitioning, idempotence sequences, retries, acknowledgements — to kafkajs. Requests it does
 * not handle (compression, transactions, message timestamps, header arrays, produce versions
 * before 3) keep kafkajs' encoding. test/kafka/produceEncoding.unit.spec.ts checks that both
 * write the same bytes.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import Module from 'node:module';

/**
 * kafkajs groups a send's messages by partition with `[...current, message]` for every
 * message, copying the partition's array each time: quadratic in the messages of a request
 * (about a sixth of a publisher's CPU at 2,000 messages a request). The same grouping —
 * partition → messages in send order — in one pass, put in kafkajs' place. It has to be in
 * the module cache before kafkajs' producer is loaded (sendMessages takes the function when
 * it is loaded), so this module is imported before 'kafkajs' (streams/kafka/kafkajs.ts).
 */
export function groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner }: {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: (a: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;
}): Record<number, unknown[]> {
  const out: Record<number, unknown[]> = {};
  if (partitionMetadata.length === 0) return out;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (out[partition] ??= []).push(message);
  }
  return out;
}

if (process.env.FLOE_KAFKA_ENCODER !== 'kafkajs') {
  const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition');
  if (!require.cache[path]) {
    const m = new Module(path, module);
    m.filename = path;
    m.loaded = true;
    m.exports = groupMessagesPerPartition;
    require.cache[path] = m;
  }
}

// kafkajs internals (plain CommonJS, no types): the broker class and its Encoder/Long.
const Broker = require('kafkajs/src/broker') as { prototype: { produce: (args: ProduceArgs) => Promise<unknown> } };
const Encoder = require('kafkajs/src/protocol/encoder') as new (size?: number) => { buf: Buffer; offset: number };
const Long = require('kafkajs/src/utils/long') as { fromValue(v: unknown): { getHighBits(): number; getLowBits(): number } };

type Bytes = string | Buffer | null | undefined;

interface ProduceMessage {
  key?: Bytes;
  value: Bytes;
  headers?: Record<string, unknown>;
  timestamp?: unknown;
}

export interface ProduceArgs {
  acks: number;
  timeout: number;
  compression?: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  topicData: Array<{ topic: string; partitions: Array<{ partition: number; firstSequence?: number; messages: ProduceMessage[] }> }>;
}

interface Request {
  apiVersion: number;
  encode: () => Promise<unknown>;
}

/** CRC-32C (Castagnoli), slicing by 8. */
const CRC_TABLES = (() => {
  const t = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[0][n] = c;
  }
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k][n] = (t[k - 1][n] >>> 8) ^ t[0][t[k - 1][n] & 0xff];
  return t;
})();

export function crc32c(buf: Buffer, start = 0, end = buf.length): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES;
  let crc = -1;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = crc ^ (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24));
    crc =
      t7[a & 0xff] ^ t6[(a >>> 8) & 0xff] ^ t5[(a >>> 16) & 0xff] ^ t4[a >>> 24] ^
      t3[buf[i + 4]] ^ t2[buf[i + 5]] ^ t1[buf[i + 6]] ^ t0[buf[i + 7]];
  }
  for (; i < end; i++) crc = t0[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

const zigzag = (v: number) => ((v << 1) ^ (v >> 31)) >>> 0;

function sizeOfVarInt(v: number): number {
  let u = zigzag(v);
  let n = 1;
  while (u >= 0x80) {
    u >>>= 7;
    n++;
  }
  return n;
}

const byteLength = (v: string | Buffer) => (typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length);

/** True when this module encodes the request exactly as kafkajs would. */
function handles(a: ProduceArgs, apiVersion: number): boolean {
  if (apiVersion < 3 || (a.compression ?? 0) !== 0 || a.transactionalId) return false;
  for (const t of a.topicData) {
    for (const p of t.partitions) {
      for (const m of p.messages) {
        if (m.timestamp !== undefined && m.timestamp !== null) return false;
        if (m.key != null && typeof m.key !== 'string' && !Buffer.isBuffer(m.key)) return false;
        if (m.value != null && typeof m.value !== 'string' && !Buffer.isBuffer(m.value)) return false;
        if (m.headers) for (const k in m.headers) if (!isBytes(m.headers[k])) return false;
      }
    }
  }
  return true;
}

const isBytes = (v: unknown) => v === null || typeof v === 'string' || Buffer.isBuffer(v);

/** The request body kafkajs' produce request v3–v7 `encode()` writes, for `now` as the batch timestamp. */
export function encodeProduceRequest(a: ProduceArgs, now = Date.now()): Buffer {
  // Pass 1: sizes. Per record: [body size, key bytes, value bytes, header key/value bytes…].
  const lens: number[] = [];
  let total = 2 + 2 + 4 + 4; // transactionalId (null), acks, timeout, topic count
  const batches: number[] = [];
  for (const t of a.topicData) {
    total += 2 + Buffer.byteLength(t.topic, 'utf8') + 4;
    for (const p of t.partitions) {
      let records = 0;
      p.messages.forEach((m, i) => {
        const key = m.key == null ? -1 : byteLength(m.key);
        const value = m.value == null ? -1 : byteLength(m.value);
        let body = 1 + 1 + sizeOfVarInt(i) + sizeOfVarInt(key) + Math.max(key, 0) + sizeOfVarInt(value) + Math.max(value, 0);
        const at = lens.length;
        lens.push(0, key, value);
        let headers = 0;
        if (m.headers) {
          for (const k in m.headers) {
            const v = m.headers[k] as string | Buffer | null;
            const kl = Buffer.byteLength(k, 'utf8');
            const vl = v === null ? -1 : byteLength(v);
            body += sizeOfVarInt(kl) + kl + sizeOfVarInt(vl) + Math.max(vl, 0);
            lens.push(kl, vl);
            headers++;
          }
        }
        body += sizeOfVarInt(headers);
        lens[at] = body;
        records += sizeOfVarInt(body) + body;
      });
      // batch: leader epoch 4, magic 1, crc 4, attributes 2, last offset delta 4, timestamps 16,
      // producer id 8, epoch 2, first sequence 4, record count 4
      const batch = 49 + records;
      batches.push(batch);
      total += 4 + 4 + 8 + 4 + batch;
    }
  }

  // Pass 2: write.
  const buf = Buffer.allocUnsafe(total);
  let o = 0;
  const varint = (v: number) => {
    let u = zigzag(v);
    while (u >= 0x80) {
      buf[o++] = (u & 0x7f) | 0x80;
      u >>>= 7;
    }
    buf[o++] = u;
  };
  const bytes = (v: string | Buffer, n: number) => {
    // As many bytes as UTF-16 units: ASCII, which latin1 writes the same, faster.
    if (typeof v === 'string') buf.write(v, o, n, n === v.length ? 'latin1' : 'utf8');
    else v.copy(buf, o);
    o += n;
  };
  const int64 = (v: unknown) => {
    const l = Long.fromValue(v);
    o = buf.writeInt32BE(l.getHighBits(), o);
    o = buf.writeInt32BE(l.getLowBits(), o);
  };
  o = buf.writeInt16BE(-1, o); // transactionalId: null
  o = buf.writeInt16BE(a.acks, o);
  o = buf.writeInt32BE(a.timeout, o);
  o = buf.writeInt32BE(a.topicData.length, o);
  let li = 0;
  let bi = 0;
  for (const t of a.topicData) {
    const tl = Buffer.byteLength(t.topic, 'utf8');
    o = buf.writeInt16BE(tl, o);
    bytes(t.topic, tl);
    o = buf.writeInt32BE(t.partitions.length, o);
    for (const p of t.partitions) {
      const batch = batches[bi++];
      o = buf.writeInt32BE(p.partition, o);
      o = buf.writeInt32BE(8 + 4 + batch, o); // the record set: first offset, length, batch
      o = buf.writeInt32BE(0, o); // first offset (int64 0)
      o = buf.writeInt32BE(0, o);
      o = buf.writeInt32BE(batch, o);
      o = buf.writeInt32BE(0, o); // partition leader epoch
      buf[o++] = 2; // magic
      const crcAt = o;
      o += 4;
      o = buf.writeInt16BE(0, o); // attributes: no compression, create time, not transactional
      o = buf.writeInt32BE(p.messages.length - 1, o);
      int64(now); // first timestamp
      int64(now); // max timestamp
      int64(a.producerId ?? -1);
      o = buf.writeInt16BE(a.producerEpoch ?? 0, o);
      o = buf.writeInt32BE(p.firstSequence ?? 0, o);
      o = buf.writeInt32BE(p.messages.length, o);
      p.messages.forEach((m, i) => {
        varint(lens[li]);
        buf[o++] = 0; // attributes
        buf[o++] = 0; // timestamp delta (varlong 0)
        varint(i);
        const key = lens[li + 1];
        varint(key);
        if (key > 0) bytes(m.key!, key);
        const value = lens[li + 2];
        varint(value);
        if (value > 0) bytes(m.value!, value);
        li += 3;
        let headers = 0;
        if (m.headers) for (const _k in m.headers) headers++;
        varint(headers);
        if (m.headers) {
          for (const k in m.headers) {
            const v = m.headers[k] as string | Buffer | null;
            const kl = lens[li++];
            const vl = lens[li++];
            varint(kl);
            bytes(k, kl);
            varint(vl);
            if (vl > 0) bytes(v!, vl);
          }
        }
      });
      buf.writeUInt32BE(crc32c(buf, crcAt + 4, o), crcAt);
    }
  }
  if (o !== total) throw new Error(`kafka produce encoding: wrote ${o} bytes, sized ${total}`);
  return buf;
}

/** A kafkajs Encoder holding `buf` (what a request's `encode()` must resolve to). */
function asEncoder(buf: Buffer): unknown {
  const e = new Encoder(0);
  e.buf = buf;
  e.offset = buf.length;
  return e;
}

let installed = false;

/**
 * Route kafkajs' produce requests through encodeProduceRequest (once per process;
 * FLOE_KAFKA_ENCODER=kafkajs turns it off, and the one-pass grouping above with it).
 */
export function installProduceEncoder(): void {
  if (installed || process.env.FLOE_KAFKA_ENCODER === 'kafkajs') return;
  installed = true;
  const produce = Broker.prototype.produce;
  Broker.prototype.produce = function (this: { lookupRequest: (apiKey: number, definition: unknown) => (a: ProduceArgs) => { request: Request } }, args: ProduceArgs) {
    // Broker#produce looks its request builder up synchronously, before its first await.
    const lookup = this.lookupRequest;
    this.lookupRequest = (apiKey, definition) => {
      const build = lookup(apiKey, definition);
      return (a: ProduceArgs) => {
        const built = build(a);
        if (handles(a, built.request.apiVersion)) built.request.encode = async () => asEncoder(encodeProduceRequest(a));
        return built;
      };
    };
    try {
      return produce.call(this, args);
    } finally {
      this.lookupRequest = lookup;
    }
  };
}
