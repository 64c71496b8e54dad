/**
 * `floe.event_schemas`: every writer schema ever used, by fingerprint. The catalog's
 * schemas are registered on migrate and whenever a store opens; decoding a fingerprint
 * the local catalog does not know (written by a newer producer) loads it from here.
 */
import type { Pool } from 'pg';
import { Catalog, Decoder, SchemaVersion } from '../../schemas';
import { FloeError } from '../errors';

const REGISTER_SQL = `
  INSERT INTO floe.event_schemas (fingerprint, type, version, schema, canonical)
  SELECT * FROM unnest($1::bytea[], $2::text[], $3::int[], $4::jsonb[], $5::text[])
  ON CONFLICT (fingerprint) DO NOTHING`;

const CONFLICTS_SQL = `
  SELECT s.type, s.version FROM floe.event_schemas s
  JOIN unnest($1::bytea[], $2::text[], $3::int[]) AS f(fingerprint, type, version)
    ON s.type = f.type AND s.version = f.version AND s.fingerprint <> f.fingerprint`;

export interface RegisteredSchema {
  fingerprint: Buffer;
  type: string;
  version: number;
  schema: object;
}

/** Register the catalog's schemas. A version edited in place (same type and version, other fingerprint) is refused. */
export async function registerSchemas(pool: Pool, catalog: Catalog): Promise<void> {
  const all = catalog.all();
  const fp = all.map((s) => s.fingerprint);
  const types = all.map((s) => s.type);
  const versions = all.map((s) => s.version);
  const { rows } = await pool.query<{ type: string; version: number }>(CONFLICTS_SQL, [fp, types, versions]);
  if (rows.length) {
    const names = rows.map((r) => `${r.type} v${r.version}`).join(', ');
    throw new FloeError('SCHEMA_CHANGED_IN_PLACE', `${names} in schemas/avro differ from the registered schema of the same version; a changed schema needs a new version file`);
  }
  await pool.query(REGISTER_SQL, [fp, types, versions, all.map((s) => JSON.stringify(s.schema)), all.map((s) => s.canonical)]).catch((e) => {
    if (e.code !== '23505') throw e; // registered concurrently by another process
  });
}

export async function registeredSchemas(pool: Pool): Promise<RegisteredSchema[]> {
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
