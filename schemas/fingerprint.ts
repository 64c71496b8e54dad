/**
 * Schema identity as the Avro specification defines it, so that any Avro implementation
 * (Java, Python, Rust...) finds the same writer schema for a stored event:
 *
 * - Parsing Canonical Form (PCF): the schema reduced to what matters for reading bytes —
 *   full names, only `name`, `type`, `fields`, `symbols`, `items`, `values`, `size`, in
 *   that order, no whitespace, primitives as bare strings.
 *   https://avro.apache.org/docs/1.11.1/specification/#parsing-canonical-form-for-schemas
 * - CRC-64-AVRO (Rabin) fingerprint of the PCF's UTF-8 bytes, written little-endian in the
 *   single-object encoding header.
 *
 * avsc's own `Type#fingerprint()` is an MD5 of its JSON, not this; do not mix them.
 */

/** The CRC-64-AVRO initial value (and fingerprint of no bytes), from the Avro spec. */
export const CRC64_AVRO_EMPTY = 0xc15d213aa4d7a795n;

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

/** One entry per byte value: the register after shifting that byte through 8 rounds. */
const TABLE: readonly bigint[] = Array.from({ length: 256 }, (_, byte) => {
  let fp = BigInt(byte);
  for (let j = 0; j < 8; j++) fp = fp & 1n ? (fp >> 1n) ^ CRC64_AVRO_EMPTY : fp >> 1n;
  return fp;
});

/**
 * CRC-64-AVRO (Rabin) fingerprint, table-driven, of a string (as UTF-8) or bytes.
 *
 * @example rabinFingerprint('"int"') // 0x7275d51a3f395c8fn
 */
export function rabinFingerprint(data: string | Uint8Array): bigint {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fp = CRC64_AVRO_EMPTY;
  for (let i = 0; i < bytes.length; i++) {
    fp = (fp >> 8n) ^ TABLE[Number((fp ^ BigInt(bytes[i])) & 0xffn)];
  }
  return fp;
}

/**
 * The 8 bytes of a fingerprint, little-endian: the form the single-object header carries.
 *
 * @example fingerprintBytes(0x7275d51a3f395c8fn).toString('hex') // '8f5c393f1ad57572'
 */
export function fingerprintBytes(fp: bigint): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(fp);
  return buf;
}

/**
 * Parsing Canonical Form of a schema given as parsed JSON (or a JSON string naming a type).
 *
 * @example parsingCanonicalForm({ type: 'record', name: 'E', namespace: 'x', doc: 'd', fields: [] })
 * // '{"name":"x.E","type":"record","fields":[]}'
 */
export function parsingCanonicalForm(schema: unknown): string {
  return canonical(schema, '');
}

function canonical(schema: unknown, namespace: string): string {
  if (typeof schema === 'string') {
    return JSON.stringify(PRIMITIVES.has(schema) ? schema : fullName(schema, namespace));
  }
  if (Array.isArray(schema)) {
    return `[${schema.map((branch) => canonical(branch, namespace)).join(',')}]`;
  }
  if (schema === null || typeof schema !== 'object') {
    throw new Error(`not an Avro schema: ${JSON.stringify(schema)}`);
  }
  const s = schema as Record<string, unknown>;
  const type = s.type;
  if (typeof type !== 'string') return canonical(type, namespace);
  if (PRIMITIVES.has(type)) return JSON.stringify(type);
  switch (type) {
    case 'array':
      return `{"type":"array","items":${canonical(s.items, namespace)}}`;
    case 'map':
      return `{"type":"map","values":${canonical(s.values, namespace)}}`;
    case 'record':
    case 'error':
    case 'enum':
    case 'fixed':
      return named(s, type, namespace);
    default:
      return JSON.stringify(fullName(type, namespace));
  }
}

function named(s: Record<string, unknown>, type: string, enclosing: string): string {
  const name = fullName(String(s.name), typeof s.namespace === 'string' ? s.namespace : enclosing);
  const head = `{"name":${JSON.stringify(name)},"type":${JSON.stringify(type)}`;
  if (type === 'enum') return `${head},"symbols":${JSON.stringify(s.symbols)}}`;
  if (type === 'fixed') return `${head},"size":${Number(s.size)}}`;
  const inner = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '';
  const fields = (s.fields as Array<Record<string, unknown>>).map(
    (f) => `{"name":${JSON.stringify(f.name)},"type":${canonical(f.type, inner)}}`,
  );
  return `${head},"fields":[${fields.join(',')}]}`;
}

function fullName(name: string, namespace: string): string {
  return name.includes('.') || namespace === '' ? name : `${namespace}.${name}`;
}
