/**
 * Which PostgreSQL Floe talks to: `DATABASE_URL` when set (PostgreSQL 15 or newer,
 * nothing is started), otherwise the embedded server of `embedded.ts`.
 */
import { Client, Pool, PoolConfig } from 'pg';
import { FloeError } from '../../schemas/errors';
import { embeddedUrl, ensureEmbeddedPostgres } from './embedded';

const MIN_SERVER_VERSION = 150000;

/** The URL of the database in use, starting the embedded server if needed. */
export async function databaseUrl(log?: (m: string) => void): Promise<string> {
  const configured = process.env.DATABASE_URL;
  if (configured) {
    let ok = false;
    try {
      ok = ['postgres:', 'postgresql:'].includes(new URL(configured).protocol);
    } catch {
      // not a URL at all
    }
    if (!ok) throw new FloeError('INVALID_ARGUMENT', 'DATABASE_URL is not a PostgreSQL URL (expected postgres://user:password@host:port/database)');
    return configured;
  }
  const state = await ensureEmbeddedPostgres(log);
  const url = embeddedUrl(state);
  await ensureDatabase(url);
  return url;
}

/** Create the URL's database when it does not exist (connecting to `postgres`). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE ${quoteIdent(name)}`).catch((e) => {
        if (e.code !== '42P04') throw e; // created concurrently by another process
      });
    }
  } finally {
    await client.end();
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  target.pathname = '/postgres';
  const client = new Client({ connectionString: target.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

/** A pool on the URL, after checking the server is new enough. */
export async function openPool(url: string, config: PoolConfig = {}): Promise<Pool> {
  const pool = new Pool({ connectionString: url, max: 10, ...config });
  pool.on('error', () => {}); // idle client errors surface on the next query instead
  const { rows } = await pool.query<{ v: string }>("SELECT current_setting('server_version_num') AS v").catch((cause) => {
    throw new FloeError('DB_CONNECT', `cannot connect to PostgreSQL at ${redact(url)}: ${cause.message}`, { cause });
  });
  if (Number(rows[0].v) < MIN_SERVER_VERSION) {
    await pool.end();
    throw new FloeError('DB_VERSION', `PostgreSQL ${rows[0].v} is too old: Floe needs 15 or newer`);
  }
  return pool;
}

export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
