/**
 * Floe's schemas: the event catalog (`schemas/avro/*.avsc`), payload validation, Avro
 * single-object encoding and decoding with schema resolution, fingerprints, and the FULL
 * compatibility check. Knows nothing of databases.
 *
 * @example
 * const schema = defaultCatalog().current('email.opened');
 * const { value, issues } = validatePayload(schema, { emailId: 'e1' });
 * const bytes = encode(schema, value);
 * new Decoder(defaultCatalog()).decode('email.opened', bytes).data; // { emailId: 'e1', ip: null, userAgent: null, machine: false }
 */
export { Catalog, DEFAULT_SCHEMA_DIR, defaultCatalog } from './catalog';
export { createSchemaVersion } from './schema-version';
export type { SchemaVersion } from './schema-version';
export { validatePayload } from './validate';
export { Decoder, encode, HEADER_LENGTH, readFingerprint } from './codec';
export { checkTypeHistory, compatibilityProblems, readingProblems } from './compat';
export { CRC64_AVRO_EMPTY, fingerprintBytes, parsingCanonicalForm, rabinFingerprint } from './fingerprint';
export { FloeError, isFloeError, SchemaCompatibilityError, ValidationError } from './errors';
export type { ValidationIssue } from './errors';
