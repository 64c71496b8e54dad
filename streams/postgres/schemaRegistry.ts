/**
 * `floe.event_schemas`: every writer schema ever used, by fingerprint. The catalog's
 * schemas are registered on migrate and whenever a store opens; decoding a fingerprint
 * the local catalog does not know (written by a newer producer) loads it from here.
 */
import type { Pool } from 'pg';
import { Catalog, checkTypeHistory, Decoder, SchemaVersion } from '../../schemas';
import { FloeError } from '../errors';

const REGISTER_SQL = `
  INSERT INTO floe.event_schemas (fingerprint, type, version, schema, canonical)
  SELECT * FROM unnest($1::bytea[], $2::text[], $3::int[], $4::jsonb[], $5::text[])
  ON CONFLICT (fingerprint) DO NOTHING`;

export interface RegisteredSchema {
  fingerprint: Buffer;
  type: string;
  version: number;
  schema: object;
}

export interface SchemaProblem {
  type: string;
  message: string;
  /** A registered version whose file was edited (rather than a new version that breaks). */
  inPlace: boolean;
}

/**
 * What stands between these schema files and the registered ones, per type (DESIGN §3): a
 * registered version whose file was changed in place, or a newest version that is not FULL
 * compatible with every older one, in the files or registered only (transitive).
 */
export function schemaProblems(catalog: Catalog, registered: RegisteredSchema[], types: string[] = catalog.types()): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const type of types) {
    const history = new Map<number, SchemaVersion>(catalog.versions(type).map((s) => [s.version, s]));
    for (const r of registered.filter((x) => x.type === type)) {
      const file = history.get(r.version);
      if (file && !file.fingerprint.equals(r.fingerprint)) {
        problems.push({
          type,
          inPlace: true,
          message: `${type} v${r.version} was changed in place: the file differs from the registered schema (fingerprint ${r.fingerprint.toString('hex')}); add a new version file instead`,
        });
      } else if (!file) {
        history.set(r.version, new Catalog().addWriter(type, r.version, r.schema));
      }
    }
    const ordered = [...history.values()].sort((a, b) => a.version - b.version);
    for (const message of checkTypeHistory(ordered)) problems.push({ type, message, inPlace: false });
  }
  return problems;
}

/**
 * Register the catalog's schemas that are not registered yet. Nothing is registered when
 * one of them breaks (`schemaProblems`): a version edited in place, or a new version not FULL
 * compatible with the older ones. Once registered, a schema is there for good (events may be
 * written with it), so it is checked first.
 */
export async function registerSchemas(pool: Pool, catalog: Catalog): Promise<string[]> {
  const freshOf = (registered: RegisteredSchema[]) => {
    const known = new Map(registered.map((r) => [`${r.type}@${r.version}`, r.fingerprint]));
    return catalog.all().filter((s) => !known.get(`${s.type}@${s.version}`)?.equals(s.fingerprint));
  };
  if (freshOf(await registeredSchemas(pool)).length === 0) return []; // every command asks: the usual answer, no lock
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // One registration at a time: two processes with different new versions are checked one after the other.
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('floe.event_schemas', 0))`);
    const registered = await registeredSchemas(client);
    const fresh = freshOf(registered);
    const problems = schemaProblems(catalog, registered, [...new Set(fresh.map((s) => s.type))]);
    const inPlace = problems.filter((p) => p.inPlace);
    if (inPlace.length) {
      throw new FloeError('SCHEMA_CHANGED_IN_PLACE', `${inPlace.map((p) => p.message).join('; ')}. Nothing was registered`);
    }
    if (problems.length) {
      throw new FloeError(
        'SCHEMA_INCOMPATIBLE',
        `the schema files cannot be registered: ${problems.map((p) => p.message).join('; ')}. Nothing was registered: fix or remove the new version file(s) (floe schemas check explains)`,
      );
    }
    if (fresh.length) {
      await client.query(REGISTER_SQL, [
        fresh.map((s) => s.fingerprint),
        fresh.map((s) => s.type),
        fresh.map((s) => s.version),
        fresh.map((s) => JSON.stringify(s.schema)),
        fresh.map((s) => s.canonical),
      ]);
    }
    await client.query('COMMIT');
    return fresh.map((s) => `${s.type} v${s.version}`);
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

export async function registeredSchemas(pool: Pick<Pool, 'query'>): Promise<RegisteredSchema[]> {
  const { rows } = await pool.query('SELECT fingerprint, type, version, schema FROM floe.event_schemas ORDER BY type, version');
  return rows;
}

/** Decodes stored payloads, learning unknown writer schemas from the database on demand. */
export class SchemaResolver {
  private readonly decoder: Decoder;
  constructor(private readonly pool: Pool, readonly catalog: Catalog) {
    this.decoder = new Decoder(catalog);
  }

  /** Decode with the schemas known so far; throws UNKNOWN_SCHEMA for a fingerprint not yet learned. */
  decodeKnown(type: string, data: Buffer): { data: Record<string, unknown>; version: number } {
    return this.decoder.decode(type, data);
  }

  async decode(type: string, data: Buffer): Promise<{ data: Record<string, unknown>; version: number }> {
    try {
      return this.decoder.decode(type, data);
    } catch (e) {
      if ((e as FloeError).code !== 'UNKNOWN_SCHEMA') throw e;
      await this.learn();
      return this.decoder.decode(type, data);
    }
  }

  /** Load the writer schemas registered by other producers into the catalog. */
  async learn(): Promise<void> {
    for (const r of await registeredSchemas(this.pool)) {
      if (!this.catalog.byFingerprint(r.fingerprint.toString('hex'))) this.catalog.addWriter(r.type, r.version, r.schema);
    }
  }
}

export type { SchemaVersion };
