/**
 * Clients for a CLI command, built once here and handed down (STYLE: build clients in one
 * place): the database URL (embedded or DATABASE_URL), a pool, the event store.
 */
import type { Pool } from 'pg';
import { PostgresEventStore } from '../../streams/postgres';
import { databaseUrl, openPool } from '../db/connect';
import { migrate } from '../db/migrate';

export interface Context {
  url: string;
  pool: Pool;
  store: PostgresEventStore;
  close(): Promise<void>;
}

/** Connect (starting the embedded database if needed), migrate, and open the store. */
export async function openContext(log: (m: string) => void, options: { poolSize?: number } = {}): Promise<Context> {
  const url = await databaseUrl(log);
  await migrate(url);
  const pool = await openPool(url, { max: options.poolSize ?? 10 });
  const store = await PostgresEventStore.open(url, { pool });
  return {
    url,
    pool,
    store,
    async close() {
      await store.close();
      await pool.end();
    },
  };
}
