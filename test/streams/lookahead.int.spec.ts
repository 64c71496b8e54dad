/**
 * Appends looked up ahead: a writer that appends batch after batch looks the next one up
 * while the previous one holds the append lock. That lookup must stand only when nothing but
 * the previous batch was committed since, and be completed with what that batch stored.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { defaultCatalog } from '../../schemas';
import { EarlierAppendFailedError, EventIdConflictError, WrongExpectedVersionError } from '../../streams/errors';
import { PostgresEventStore } from '../../streams/postgres';
import { appendPrepared, lookup, stillValid } from '../../streams/postgres/append';
import { prepareEvent, PreparedEvent } from '../../streams/prepare';
import type { AppendResult } from '../../streams/store';
import { useDatabase } from '../helpers/backends';

const catalog = defaultCatalog();
const opened = (emailId: string, id: string = randomUUID(), at = '2026-03-01T10:00:00.000Z'): PreparedEvent =>
  prepareEvent(catalog, { id, type: 'email.opened', tenantId: 't1', occurredAt: at, data: { emailId } });

describe('appends looked up ahead', function () {
  this.timeout(60_000);
  const db = useDatabase();
  let pool: Pool;
  let store: PostgresEventStore;
  before(async () => {
    pool = new Pool({ connectionString: db.url, max: 4 });
    store = await PostgresEventStore.open(db.url, { pool });
  });
  after(async () => {
    await store.close();
    await pool.end();
  });

  /** Look `next` up, then let `between` run and append `first`; append `next` with that early lookup. */
  async function lookedUpBefore(first: PreparedEvent[], next: PreparedEvent[], between: () => Promise<unknown> = async () => undefined) {
    const a = await pool.connect();
    const b = await pool.connect();
    try {
      const early = await lookup(b, next);
      await between();
      const previous = await appendPrepared(a, first, undefined);
      const head = BigInt((await pool.query('SELECT max(global_position)::text AS h FROM floe.events')).rows[0].h);
      const valid = stillValid({ ...early, stored: new Map(early.stored), versions: new Map(early.versions) }, head, previous, next) !== null;
      const r = await appendPrepared(b, next, undefined, undefined, { lookup: early, previous }).catch((e: unknown) => e);
      return { valid, first: previous, next: r };
    } finally {
      a.release();
      b.release();
    }
  }

  it('completes the lookup with the previous batch: its ids are duplicates, its streams go on', async () => {
    const s = `e-${randomUUID()}`;
    const one = opened(s);
    const first = [one, opened(s)];
    const again = opened(s, one.id); // a retried duplicate
    const third = { ...opened(s), expectedVersion: 1 };
    const { valid, next } = await lookedUpBefore(first, [again, third]);
    expect(valid, 'the early lookup stands: only the previous batch was committed since').to.equal(true);
    const r = next as AppendResult;
    expect(r.appended).to.equal(1);
    expect(r.duplicates).to.equal(1);
    expect(r.results[0].position).to.equal('duplicate');
    expect(r.results[1].streamPosition).to.equal(2);
    const { rows } = await pool.query('SELECT stream_position FROM floe.events WHERE stream_id = $1 ORDER BY stream_position', [third.stream]);
    expect(rows.map((x) => Number(x.stream_position))).to.deep.equal([0, 1, 2]);
  });

  it('refuses, from the previous batch, an id with other content and a stale expected version', async () => {
    const s = `e-${randomUUID()}`;
    const one = opened(s);
    const changed = opened(s, one.id, '2026-03-02T10:00:00.000Z');
    const conflict = await lookedUpBefore([one], [changed]);
    expect(conflict.valid).to.equal(true);
    expect(conflict.next).to.be.instanceOf(EventIdConflictError);

    const t = `e-${randomUUID()}`;
    const stale = await lookedUpBefore([opened(t)], [{ ...opened(t), expectedVersion: 'no_stream' }]);
    expect(stale.valid).to.equal(true);
    expect(stale.next).to.be.instanceOf(WrongExpectedVersionError);
    expect((stale.next as WrongExpectedVersionError).actual).to.equal(0);
  });

  it('looks up again under the lock when another writer committed in between', async () => {
    const s = `e-${randomUUID()}`;
    const theirs = opened(s);
    const mine = [opened(`e-${randomUUID()}`)];
    // The next batch repeats the other writer's event and appends to its stream.
    const next = [opened(s, theirs.id), opened(s)];
    const other = await PostgresEventStore.open(db.url);
    try {
      const { valid, next: r } = await lookedUpBefore(mine, next, () => other.appendPrepared([theirs]));
      expect(valid, 'the early lookup cannot stand: the head moved past the previous batch').to.equal(false);
      const result = r as AppendResult;
      expect(result.results[0].position).to.equal('duplicate');
      expect(result.results[1].streamPosition).to.equal(1);
    } finally {
      await other.close();
    }
  });

  it('looks up again when an aborted append left a gap before the previous batch', async () => {
    const s = `e-${randomUUID()}`;
    const first = [opened(s)];
    // A gap in the positions, as an append that drew them and then failed leaves one.
    const gap = () => pool.query(`SELECT setval(pg_get_serial_sequence('floe.events', 'global_position'), (SELECT max(global_position) FROM floe.events) + 5)`);
    const { valid, first: done, next } = await lookedUpBefore(first, [opened(s, first[0].id), opened(s)], gap);
    expect(valid, 'the previous batch does not follow the head the lookup saw').to.equal(false);
    const before = (done as AppendResult).firstPosition!;
    const r = next as AppendResult;
    expect(r.results[0].position).to.equal('duplicate');
    expect(r.results[1]).to.include({ position: before + 1n, streamPosition: 1 });
  });

  it('draws positions after the head even when the sequence was restarted', async () => {
    const head = BigInt((await pool.query('SELECT max(global_position)::text AS h FROM floe.events')).rows[0].h);
    await pool.query('ALTER TABLE floe.events ALTER COLUMN global_position RESTART');
    const r = await store.appendPrepared([opened(`e-${randomUUID()}`)]);
    expect(r.firstPosition).to.equal(head + 1n);
  });

  it('chains appends: each after the previous, the same store as appending one by one', async () => {
    const streams = Array.from({ length: 7 }, () => `e-${randomUUID()}`);
    const batches: PreparedEvent[][] = [];
    let last: PreparedEvent[] = [];
    for (let b = 0; b < 12; b++) {
      const batch = [...last.slice(0, 3)]; // retried duplicates of the batch before
      for (let i = 0; i < 40; i++) batch.push(opened(streams[(b * 40 + i) % streams.length]));
      batches.push(batch);
      last = batch.slice(3);
    }
    let previous: Promise<AppendResult | null> = Promise.resolve(null);
    let older: Promise<unknown> = previous;
    const results: Array<Promise<AppendResult>> = [];
    for (const events of batches) {
      await older;
      older = previous;
      const p = store.appendPrepared(events, { after: previous });
      results.push(p);
      previous = p;
    }
    const done = await Promise.all(results);
    expect(done.reduce((n, d) => n + d.appended, 0)).to.equal(12 * 40);
    expect(done.reduce((n, d) => n + d.duplicates, 0)).to.equal(11 * 3);
    const { rows } = await pool.query(
      `SELECT stream_id, array_agg(stream_position ORDER BY global_position)::int[] AS p FROM floe.events WHERE stream_id = ANY($1) GROUP BY stream_id`,
      [batches[0].map((e) => e.stream)],
    );
    for (const r of rows) expect(r.p).to.deep.equal(r.p.map((_x: number, i: number) => i), `stream ${r.stream_id} runs 0..n-1 in commit order`);
    expect(rows.reduce((n, r) => n + r.p.length, 0)).to.equal(12 * 40);
  });

  it('appends nothing of a batch chained after one that failed', async () => {
    const s = `e-${randomUUID()}`;
    const failed = Promise.reject(new Error('the earlier batch broke'));
    const next = [opened(s)];
    const e = await store.appendPrepared(next, { after: failed }).catch((x: unknown) => x);
    expect(e).to.be.instanceOf(EarlierAppendFailedError);
    expect((e as Error).message).to.include('the earlier batch broke');
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM floe.events WHERE event_id = $1', [next[0].id]);
    expect(rows[0].n).to.equal(0);
  });
});
