import * as avro from 'avsc';
import { FloeError } from './errors';
import { fingerprintBytes, parsingCanonicalForm, rabinFingerprint } from './fingerprint';

/**
 * One version of one event type's payload schema, with everything needed to validate,
 * encode, decode and identify it.
 */
export interface SchemaVersion {
  /** Catalog type, e.g. `email.opened`. */
  type: string;
  /** 1, 2, ... from the file name `<type>.v<version>.avsc` or the schema registry row. */
  version: number;
  /** The schema as parsed JSON, custom attributes (`floe.min`, `floe.max`, `doc`) included. */
  schema: object;
  /** Parsing Canonical Form (Avro spec). */
  canonical: string;
  /** CRC-64-AVRO of `canonical`, 8 bytes little-endian, exactly as in the single-object header. */
  fingerprint: Buffer;
  /** Lower-case hex of `fingerprint`'s 8 bytes (header order), e.g. `8f5c393f1ad57572`. */
  fingerprintHex: string;
  /** The avsc type (unions unwrapped: an optional value is the value or null). */
  avro: avro.Type;
}

/**
 * Builds a SchemaVersion from schema JSON (text or parsed). The top level must be a record;
 * unions must be unambiguous so that values never need wrapping (`{"string": "x"}`).
 *
 * @example createSchemaVersion('email.opened', 2, fs.readFileSync('email.opened.v2.avsc', 'utf8'))
 */
export function createSchemaVersion(type: string, version: number, schemaJson: string | object): SchemaVersion {
  const fail = (why: string, cause?: unknown): FloeError =>
    new FloeError('SCHEMA_INVALID', `schema of ${type} v${version} is invalid: ${why}`, {
      cause,
      context: { type, version },
    });
  if (!Number.isInteger(version) || version < 1) throw fail('version must be a positive integer');
  let schema: unknown;
  try {
    schema = typeof schemaJson === 'string' ? JSON.parse(schemaJson) : schemaJson;
  } catch (e) {
    throw fail(`not JSON (${(e as Error).message})`, e);
  }
  if (schema === null || typeof schema !== 'object' || (schema as { type?: unknown }).type !== 'record') {
    throw fail('the top level must be an Avro record');
  }
  let type_: avro.Type;
  try {
    type_ = avro.Type.forSchema(schema as avro.Schema, { wrapUnions: 'never' });
  } catch (e) {
    throw fail((e as Error).message, e);
  }
  const canonical = parsingCanonicalForm(schema);
  const fingerprint = fingerprintBytes(rabinFingerprint(canonical));
  return {
    type,
    version,
    schema,
    canonical,
    fingerprint,
    fingerprintHex: fingerprint.toString('hex'),
    avro: type_,
  };
}
