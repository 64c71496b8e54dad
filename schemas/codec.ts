import type { Resolver, Type } from 'avsc';
import type { Catalog } from './catalog';
import { readingProblems } from './compat';
import { FloeError, SchemaCompatibilityError, ValidationError } from './errors';
import { plainConverter, ToPlain } from './plain';
import type { SchemaVersion } from './schema-version';
import { validatePayload } from './validate';

/**
 * Avro single-object encoding (Avro spec, "Single object encoding"):
 *
 *   C3 01 | CRC-64-AVRO fingerprint of the writer schema, 8 bytes little-endian | binary body
 *
 * Any Avro implementation that knows the writer schema can decode a stored payload; Floe
 * finds the writer by fingerprint and resolves it to the type's current reader schema, so
 * events written by older (or newer) code decode without upcasters.
 */

/** Bytes before the Avro body: 2 marker bytes and the 8-byte fingerprint. */
export const HEADER_LENGTH = 10;

let scratch = Buffer.allocUnsafe(4096);

/**
 * Encodes a validated payload (see `validatePayload`) with its schema. Throws a
 * ValidationError with field paths if the value does not fit the schema.
 *
 * @example encode(schema, validatePayload(schema, data).value) // <Buffer c3 01 ...>
 */
export function encode(schema: SchemaVersion, value: unknown): Buffer {
  let end: number;
  try {
    end = schema.avro.encode(value, scratch, HEADER_LENGTH);
  } catch (e) {
    const { issues } = validatePayload(schema, value);
    if (issues.length > 0) throw new ValidationError(issues, { type: schema.type });
    throw new FloeError('BAD_ENCODING', `cannot encode ${schema.type}: ${(e as Error).message}`, {
      cause: e,
      context: { type: schema.type },
    });
  }
  if (end < 0) {
    scratch = Buffer.allocUnsafe(2 * (scratch.length - end));
    return encode(schema, value);
  }
  const out = Buffer.allocUnsafe(end);
  out[0] = 0xc3;
  out[1] = 0x01;
  schema.fingerprint.copy(out, 2);
  scratch.copy(out, HEADER_LENGTH, HEADER_LENGTH, end);
  return out;
}

/**
 * The writer fingerprint of a single-object encoded payload, as hex of the header's 8 bytes
 * (the same form as `SchemaVersion.fingerprintHex`). Throws FloeError `BAD_ENCODING` if the
 * header is missing or short.
 *
 * @example readFingerprint(encode(schema, value)) === schema.fingerprintHex // true
 */
export function readFingerprint(buf: Buffer): string {
  checkHeader(buf);
  return buf.toString('hex', 2, HEADER_LENGTH);
}

/** How to read one writer fingerprint as one type, prepared once. */
interface Reading {
  lo: number;
  hi: number;
  version: number;
  reader: Type;
  resolver: Resolver | undefined;
  toPlain: ToPlain;
}

/**
 * Decodes stored payloads into plain objects shaped by the current reader schema of their
 * type. Resolvers are prepared once per (type, writer fingerprint) and looked up without
 * allocating. When the catalog lacks a writer, decode throws FloeError `UNKNOWN_SCHEMA`:
 * register it with `catalog.addWriter` (from the store's schema registry) and retry.
 *
 * @example
 * const decoder = new Decoder(defaultCatalog());
 * const { data, version } = decoder.decode('email.opened', row.data);
 */
export class Decoder {
  private readonly readings = new Map<string, Reading[]>();

  constructor(private readonly catalog: Catalog) {}

  decode(type: string, buf: Buffer): { data: Record<string, unknown>; version: number } {
    checkHeader(buf, type);
    const lo = buf.readUInt32LE(2);
    const hi = buf.readUInt32LE(6);
    let reading: Reading | undefined;
    const known = this.readings.get(type);
    if (known) {
      for (let i = 0; i < known.length; i++) {
        if (known[i].lo === lo && known[i].hi === hi) {
          reading = known[i];
          break;
        }
      }
    }
    reading ??= this.prepare(type, buf);
    let decoded: { value: unknown; offset: number };
    try {
      decoded = reading.reader.decode(buf, HEADER_LENGTH, reading.resolver);
    } catch (e) {
      throw corrupt(type, buf, (e as Error).message, e);
    }
    if (decoded.offset !== buf.length) {
      throw corrupt(type, buf, decoded.offset < 0 ? 'truncated body' : `${buf.length - decoded.offset} trailing bytes`);
    }
    return { data: reading.toPlain(decoded.value) as Record<string, unknown>, version: reading.version };
  }

  private prepare(type: string, buf: Buffer): Reading {
    const hex = buf.toString('hex', 2, HEADER_LENGTH);
    const writer = this.catalog.byFingerprint(hex);
    if (!writer) {
      throw new FloeError('UNKNOWN_SCHEMA', `no schema with fingerprint ${hex} is registered (decoding a ${type} event)`, {
        context: { type, fingerprint: hex },
      });
    }
    if (writer.type !== type) {
      throw new FloeError(
        'SCHEMA_TYPE_MISMATCH',
        `payload of a ${type} event was written with the schema of ${writer.type} v${writer.version} (fingerprint ${hex})`,
        { context: { type, fingerprint: hex, writerType: writer.type } },
      );
    }
    const reader = this.catalog.current(type);
    const problems = readingProblems(reader, writer);
    if (problems.length > 0) {
      throw new SchemaCompatibilityError(problems.join('; '), { type, fingerprint: hex, writerVersion: writer.version });
    }
    const reading: Reading = {
      lo: buf.readUInt32LE(2),
      hi: buf.readUInt32LE(6),
      version: writer.version,
      reader: reader.avro,
      resolver: writer.canonical === reader.canonical ? undefined : reader.avro.createResolver(writer.avro),
      toPlain: plainConverter(reader.avro) as ToPlain,
    };
    this.readings.set(type, [...(this.readings.get(type) ?? []), reading]);
    return reading;
  }
}

function checkHeader(buf: Buffer, type?: string): void {
  if (buf.length < HEADER_LENGTH || buf[0] !== 0xc3 || buf[1] !== 0x01) {
    const why = buf.length < HEADER_LENGTH ? `only ${buf.length} bytes` : `starts with ${buf.toString('hex', 0, 2)}, not c301`;
    throw new FloeError('BAD_ENCODING', `not an Avro single-object encoded payload: ${why}`, { context: { type } });
  }
}

function corrupt(type: string, buf: Buffer, why: string, cause?: unknown): FloeError {
  const fingerprint = buf.toString('hex', 2, HEADER_LENGTH);
  return new FloeError('BAD_ENCODING', `cannot decode ${type} payload (fingerprint ${fingerprint}): ${why}`, {
    cause,
    context: { type, fingerprint },
  });
}
