import { Client } from 'pg';
import { PostgresEventStore } from '../../streams/postgres';
import { useDatabase } from '../helpers/backends';
import { eventStoreContract } from './eventStore.contract';

describe('PostgreSQL event store', () => {
  const db = useDatabase();
  eventStoreContract('postgres', async () => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    // Test-only reset between cases: the store itself never deletes (a trigger forbids it).
    await c.query('ALTER TABLE floe.events DISABLE TRIGGER USER; TRUNCATE floe.events; ALTER TABLE floe.events ENABLE TRIGGER USER');
    await c.end();
    const store = await PostgresEventStore.open(db.url);
    return { store, cleanup: () => store.close() };
  });
});
