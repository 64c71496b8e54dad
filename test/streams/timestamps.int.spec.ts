/**
 * A stored event comes back with the instants it was appended with, whatever the session's
 * time zone (reads take timestamps in binary: test/streams/copyOut.int.spec.ts compares them
 * with node-postgres' reading of their text).
 */
import { expect } from 'chai';
import { Pool } from 'pg';
import { PostgresEventStore } from '../../streams/postgres';
import { useDatabase } from '../helpers/backends';

describe('timestamptz reads', function () {
  this.timeout(60_000);
  const db = useDatabase();

  it('gives back the occurredAt an event was appended with, and its recordedAt, in a session at +05:45', async () => {
    const pool = new Pool({ connectionString: db.url, options: '-c timezone=Asia/Kathmandu' });
    const store = await PostgresEventStore.open(db.url, { pool });
    try {
      const before = Date.now();
      const at = ['2026-01-05T12:34:56.789Z', '2026-02-01T00:00:00.000Z', '2026-02-28T23:59:59.001Z', '1969-07-20T20:17:40.001Z', '1999-12-31T23:59:59.999Z'];
      await store.append(at.map((occurredAt, i) => ({ type: 'tenant.created', tenantId: `t-${i}`, occurredAt, data: { name: `Tenant ${i}` } })));
      const read: string[] = [];
      const recorded: number[] = [];
      for await (const page of store.readAll({})) {
        read.push(...page.map((e) => e.occurredAt.toISOString()));
        recorded.push(...page.map((e) => e.recordedAt.getTime()));
      }
      expect(read).to.deep.equal(at);
      // Recorded by the server's clock, which is this machine's: within the append, give or take a second.
      for (const t of recorded) expect(t).to.be.within(before - 1000, Date.now() + 1000);
    } finally {
      await store.close();
      await pool.end();
    }
  });
});
