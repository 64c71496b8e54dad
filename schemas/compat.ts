import type { SchemaVersion } from './schema-version';
import { explainUnreadable } from './compat-explain';

/**
 * FULL schema compatibility (DESIGN §3): a new version of an event type must read every
 * older version's data (backward) and every older version must read the new version's
 * data (forward), so old events replay through new code and old code survives new events.
 * avsc's resolver decides (it is what will decode); `compat-explain` says why in words.
 */

/**
 * Why `reader` cannot decode data written with `writer`; empty when it can.
 *
 * @example readingProblems(v2, v1) // ['email.opened v2 cannot read v1 data: field "country" has no default']
 */
export function readingProblems(reader: SchemaVersion, writer: SchemaVersion): string[] {
  try {
    reader.avro.createResolver(writer.avro);
    return [];
  } catch (e) {
    const prefix = `${reader.type} v${reader.version} cannot read v${writer.version} data: `;
    const why = explainUnreadable(reader.schema, writer.schema, reader.version > writer.version);
    return (why.length > 0 ? why : [(e as Error).message]).map((w) => prefix + w);
  }
}

/**
 * Problems between two versions of one type, both directions: `newer` reading `older` data,
 * then `older` reading `newer` data. Empty when they are FULL compatible.
 *
 * @example compatibilityProblems(catalog.versions('email.bounced')[0], candidate)
 * // ['email.bounced v2 cannot read v1 data: field "smtpCode" changed type from int to string', ...]
 */
export function compatibilityProblems(older: SchemaVersion, newer: SchemaVersion): string[] {
  return [...readingProblems(newer, older), ...readingProblems(older, newer)];
}

/**
 * Transitive FULL check of a type's history: the newest version against every older one
 * (pairwise-compatible steps can still drift apart: v3 may not read v1).
 *
 * @example checkTypeHistory(catalog.versions('email.opened')) // [] when all is well
 */
export function checkTypeHistory(versions: SchemaVersion[]): string[] {
  const sorted = [...versions].sort((a, b) => a.version - b.version);
  const newest = sorted[sorted.length - 1];
  return sorted.slice(0, -1).flatMap((older) => compatibilityProblems(older, newest));
}
