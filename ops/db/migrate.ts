/**
 * `floe migrate`: run the knex migrations of `migrations/` (idempotent; safe from many
 * processes at once, knex holds a lock table), then register the catalog's schemas.
 */
import * as path from 'node:path';
import knexFactory from 'knex';
import { Client, Pool } from 'pg';
import { defaultCatalog } from '../../schemas';
import { registerSchemas } from '../../streams/postgres/schemaRegistry';

export const MIGRATIONS_DIR = path.join(__dirname, '..', '..', 'migrations');

export async function migrate(url: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    // knex keeps its own bookkeeping in the floe schema, which must exist first.
    await client.query('CREATE SCHEMA IF NOT EXISTS floe').catch((e) => {
      if (e.code !== '23505') throw e; // concurrent creation
    });
  } finally {
    await client.end();
  }
  let applied: string[];
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 1 } });
  try {
    [, applied] = await knex.migrate.latest({
      directory: MIGRATIONS_DIR,
      loadExtensions: ['.ts'],
      schemaName: 'floe',
      tableName: 'knex_migrations',
    });
  } finally {
    await knex.destroy();
  }
  const pool = new Pool({ connectionString: url, max: 1 });
  try {
    await registerSchemas(pool, defaultCatalog());
  } finally {
    await pool.end();
  }
  return applied as string[];
}
