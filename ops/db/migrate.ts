/**
 * `floe migrate`: run the knex migrations of `migrations/` (idempotent; safe from many
 * processes at once, knex holds a lock table), then register the catalog's schemas.
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { Knex } from 'knex';
import { Client, Pool } from 'pg';
import { defaultCatalog } from '../../schemas';
import { registerSchemas } from '../../streams/postgres/schemaRegistry';

export const MIGRATIONS_DIR = path.join(__dirname, '..', '..', 'migrations');

/** The migration files knex would run, by name (as it records them in `floe.knex_migrations`). */
const migrationFiles = (): string[] => readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.ts'));

/** `register: false` leaves the schema files unregistered (`floe schemas check` checks them first). */
export interface Migrated {
  /** Migrations applied, by file name. */
  applied: string[];
  /** Schema versions registered, as `type vN`. */
  registered: string[];
}

export async function migrate(url: string, o: { register?: boolean } = {}): Promise<Migrated> {
  const client = new Client({ connectionString: url });
  await client.connect();
  let current = false;
  try {
    // knex keeps its own bookkeeping in the floe schema, which must exist first.
    await client.query('CREATE SCHEMA IF NOT EXISTS floe').catch((e) => {
      if (e.code !== '23505') throw e; // concurrent creation
    });
    // Every command migrates first; when nothing is pending, skip loading knex and the
    // migrations (most of a short command's start-up).
    const { rows } = await client.query<{ known: boolean }>(`SELECT to_regclass('floe.knex_migrations') IS NOT NULL AS known`);
    const done = new Set<string>();
    if (rows[0].known) for (const r of (await client.query<{ name: string }>('SELECT name FROM floe.knex_migrations')).rows) done.add(r.name);
    current = migrationFiles().every((f) => done.has(f));
  } finally {
    await client.end();
  }
  let applied: string[] = [];
  if (!current) applied = await runKnexMigrations(url);
  if (o.register === false) return { applied, registered: [] };
  const pool = new Pool({ connectionString: url, max: 1 });
  try {
    return { applied, registered: await registerSchemas(pool, defaultCatalog()) };
  } finally {
    await pool.end();
  }
}

async function runKnexMigrations(url: string): Promise<string[]> {
  let applied: string[];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const knexFactory = require('knex') as (config: Knex.Config) => Knex;
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
  return applied;
}
