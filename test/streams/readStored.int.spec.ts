/**
 * `readStored`, the projection runtime's read: rows decoded as they arrive, in store order,
 * without recorded_at; a writer schema registered after the reader started is learned
 * (its events decoded after the page, in their place); a payload that does not decode fails
 * the read with the decoder's error, and the connection goes back to the pool usable.
 */
import { expect } from 'chai';
import * as path from 'node:path';
import { Pool } from 'pg';
import { Catalog, defaultCatalog } from '../../schemas';
import { PostgresEventStore } from '../../streams/postgres';
import { readStored, readStoredUnordered } from '../../streams/postgres/read';
import { SchemaResolver } from '../../streams/postgres/schemaRegistry';
import { useDatabase } from '../helpers/backends';

const FIXTURE_V2 = path.join(__dirname, '..', 'fixtures', 'schemas-v2');
const TENANT = 't-read';

const opened = (emailId: string, minute: number, data: Record<string, unknown> = {}) => ({
  type: 'email.opened',
  tenantId: TENANT,
  occurredAt: `2026-03-01T10:${String(minute).padStart(2, '0')}:00.000Z`,
  data: { emailId, machine: false, ...data },
});

describe('readStored: the projection runtime’s read (PostgreSQL)', function () {
  const db = useDatabase();
  let pool: Pool;
  let store: PostgresEventStore;

  before(async function () {
    if (!db.url) return this.skip();
    pool = new Pool({ connectionString: db.url, max: 2 });
    store = await PostgresEventStore.open(db.url, { pool });
  });
  after(async () => {
    await pool?.end();
  });

  it('decodes in store order, learning a writer schema registered after the reader started', async () => {
    const reader = new SchemaResolver(pool, defaultCatalog());
    await reader.learn();
    await store.append([opened('e1', 1), opened('e2', 2)]);
    // Another producer, with a newer email.opened, registers it and appends.
    const newer = await PostgresEventStore.open(db.url, { pool, catalog: Catalog.load(FIXTURE_V2) });
    await newer.append([opened('e3', 3, { machine: true, country: 'FR' })]);
    await store.append([opened('e4', 4)]);

    const events = await readStored(pool, { types: ['email.opened'] }, reader);
    expect(events.map((e) => e.data.emailId)).to.deep.equal(['e1', 'e2', 'e3', 'e4']);
    expect(events.map((e) => e.schemaVersion)).to.deep.equal([1, 1, 2, 1]);
    expect(events[2].data.machine, 'the v2 event read through the v1 reader schema').to.equal(true);
    expect(events.map((e) => e.position)).to.deep.equal([...events.map((e) => e.position)].sort((a, b) => (a < b ? -1 : 1)));
    expect(events.every((e) => !('recordedAt' in e) && typeof e.id === 'string' && e.occurredAt instanceof Date)).to.equal(true);
    // A page: after the second event, at most two.
    const page = await readStored(pool, { types: ['email.opened'], after: events[1].position, limit: 2 }, reader);
    expect(page.map((e) => e.data.emailId)).to.deep.equal(['e3', 'e4']);
  });

  it('selects what the store’s read selects, for every option, quotes and pattern characters in the values', async () => {
    const odd = `t'odd\\%_`;
    await store.append([
      { ...opened('o1', 5), tenantId: odd, stream: `s'1\\` },
      { ...opened('o2', 6), tenantId: odd },
      { type: 'email.clicked', tenantId: odd, occurredAt: '2026-03-01T10:07:00.000Z', data: { emailId: 'o1', url: 'https://x.test/a' } },
    ]);
    const reader = new SchemaResolver(pool, defaultCatalog());
    await reader.learn();
    const all = await store.read({ limit: 1000 });
    const options = [
      { tenant: odd },
      { stream: `s'1\\` },
      { typePrefix: 'email.cl' },
      { typePrefix: '%' },
      { types: ['email.clicked'], typePrefixes: ['email.op'] },
      { types: [`it's`] },
      { shard: { count: 3, index: 1 } },
      { after: all[1].position, limit: 2 },
    ];
    const sizes: number[] = [];
    for (const o of options) {
      const expected = (await store.read({ limit: 1000, ...o })).map((e) => ({ ...e, recordedAt: undefined }));
      const got = (await readStored(pool, { limit: 1000, ...o }, reader)).map((e) => ({ ...e, recordedAt: undefined }));
      expect(got, JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).to.deep.equal(expected);
      sizes.push(got.length);
      // Unordered, the same events (all of them: no limit), in some order.
      const { limit: _limit, ...rest } = o as { limit?: number };
      const every = (await store.read({ limit: 1000, ...rest })).map((e) => ({ ...e, recordedAt: undefined }));
      const unordered = (await readStoredUnordered(pool, rest, reader)).map((e) => ({ ...e, recordedAt: undefined }));
      expect(unordered.sort((a, b) => Number(a.position - b.position)), `unordered ${JSON.stringify(rest, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`).to.deep.equal(every);
    }
    // Each option selected something, but the pattern characters (escaped) and the made-up type.
    expect(sizes.map((n) => n > 0)).to.deep.equal([true, true, true, false, true, false, true, true]);
    expect((await readStored(pool, { tenant: odd, limit: 1000 }, reader)).map((e) => e.data.emailId)).to.deep.equal(['o1', 'o2', 'o1']);
  });

  it('fails the read when a payload does not decode, naming the type, and leaves the pool usable', async () => {
    // A row written around the store, its payload cut short (the store itself never does this).
    await pool.query(
      `INSERT INTO floe.events (event_id, stream_id, stream_position, type, tenant_id, occurred_at, schema_fingerprint, data)
       SELECT gen_random_uuid(), 'email-cut', 0, type, tenant_id, occurred_at, schema_fingerprint, substring(data from 1 for length(data) - 3)
         FROM floe.events WHERE type = 'email.opened' ORDER BY global_position LIMIT 1`,
    );
    const reader = new SchemaResolver(pool, defaultCatalog());
    await reader.learn();
    const error = await readStored(pool, { types: ['email.opened'] }, reader).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).to.contain('email.opened');
    // Both pooled connections still answer.
    const answers = await Promise.all([pool.query('SELECT 1 AS one'), pool.query('SELECT 1 AS one')]);
    expect(answers.map((r) => r.rows[0].one)).to.deep.equal([1, 1]);
  });
});
