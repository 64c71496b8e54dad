/**
 * Names of projected tables and of everything hanging off them.
 *
 * A table is created under a *target* name (`campaign_analytics`, or a shadow copy such as
 * `campaign_analytics__shadow` during a blue/green rebuild, optionally schema-qualified), and
 * every dependent object (constraints, indexes, partitions, policies, views) is named from
 * it, so two copies never collide. PostgreSQL silently truncates identifiers past 63 bytes,
 * which could make two derived names collide: `relation()` refuses them instead.
 */
import { escapeIdentifier, escapeLiteral } from 'pg';
import { FloeError } from '../../schemas/errors';

const MAX_IDENTIFIER_BYTES = 63;
const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** A table (or view) name, split into its schema and its name. */
export interface Relation {
  readonly schema: string;
  readonly name: string;
  /** `"schema"."name"`, ready to splice into SQL. */
  readonly sql: string;
}

/**
 * Parse `name` or `schema.name` (lower-case, unquoted-style identifiers only). A bare name
 * is in `public`, never wherever the search path points first: Floe's own schema is named
 * `floe` like its default user, so `"$user"` would put it there.
 */
export function relation(target: string): Relation {
  const parts = target.split('.');
  if (parts.length > 2 || !parts.every((p) => PLAIN_IDENTIFIER.test(p))) {
    throw new FloeError('BAD_TABLE_NAME', `not a table name: ${JSON.stringify(target)} (expected name or schema.name, lower case)`);
  }
  const [schema, name] = parts.length === 2 ? parts : ['public', parts[0]];
  checkLength(name);
  return { schema, name, sql: `${escapeIdentifier(schema)}.${escapeIdentifier(name)}` };
}

/** A relation in the same schema whose name is derived from `base` (e.g. a partition). */
export function derivedRelation(base: Relation, name: string): Relation {
  return relation(`${base.schema}.${name}`);
}

/** A quoted schema-less identifier derived from a table name (index, constraint, policy). */
export function ident(name: string): string {
  checkLength(name);
  return escapeIdentifier(name);
}

/** A quoted SQL string literal. */
export const literal = escapeLiteral;

function checkLength(name: string): void {
  if (Buffer.byteLength(name) > MAX_IDENTIFIER_BYTES) {
    throw new FloeError('BAD_TABLE_NAME', `identifier ${name} is longer than PostgreSQL's ${MAX_IDENTIFIER_BYTES} bytes`);
  }
}
