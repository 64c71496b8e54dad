/**
 * The runtime's promises, on every registered projection: following live gives the same
 * tables as catching up afterwards; batch boundaries change nothing; a fold that throws
 * dead-letters one event and the rest is still projected; a retry applies it once.
 */
import { expect } from 'chai';
import { PROJECTIONS } from '../../projections';
import { project } from '../../projections/pipeline';
import { listDeadLetters, retryDeadLetters } from '../../projections/runtime/deadLetters';
import { foldBatch, writeBatch, type LaneRef } from '../../projections/runtime/batch';
import { LedgerCache } from '../../projections/runtime/ledger';
import { eventsToFold } from '../../projections/runtime/lanes';
import { transaction } from '../../projections/runtime/sql';
import { readStoredAt } from '../../streams/postgres/read';
import { Rows, upsert } from '../../projections/runtime/sql';
import type { Projection } from '../../projections/runtime/types';
import { appendLines, expectSameSnapshot, snapshot, StoreHandle, useStore, workload } from '../helpers/pipeline';

const OPTS = { seed: 'runtime-spec', tenants: 4, emails: 1200, start: '2026-03-01', days: 20 };


const projectAll = (h: StoreHandle, o: Partial<Parameters<typeof project>[0]> = {}) =>
  project({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections: [...PROJECTIONS], untilCaughtUp: true, ...o });

describe('projection runtime (PostgreSQL)', function () {
  this.timeout(300_000);
  const reference = useStore();
  let expected: Record<string, string[]>;
  before(async function () {
    if (!reference.db.url) return this.skip();
    await appendLines(reference.store, workload(OPTS).lines);
    await projectAll(reference);
    expected = await snapshot(reference.pool, PROJECTIONS);
  });

  describe('the connection holding the locks lost while following', () => {
    const h = useStore();
    it('takes the locks again and goes on: the tables are those of catching up', async () => {
      const lines = workload(OPTS).lines;
      const half = Math.floor(lines.length / 2);
      await appendLines(h.store, lines.slice(0, half));
      const stop = new AbortController();
      const logs: string[] = [];
      const live = project({
        pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections: [...PROJECTIONS], untilCaughtUp: false, pollMs: 20, signal: stop.signal,
        log: (m) => logs.push(m),
      });
      const caughtUp = async (head: bigint) => {
        for (let i = 0; i < 3000; i++) {
          const { rows } = await h.pool.query(`SELECT min(position) AS p FROM floe.projection_checkpoints`);
          if (rows[0].p !== null && BigInt(rows[0].p) >= head) return;
          await new Promise((r) => setTimeout(r, 20));
        }
        expect.fail(`not caught up with ${head}; log: ${logs.join(' | ')}`);
      };
      await caughtUp((await h.store.head()).position);
      // The backend holding the projector's advisory locks goes away (an administrator, a failover).
      const { rows } = await h.pool.query(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() GROUP BY pid`,
      );
      expect(rows.length, 'one backend held the locks').to.equal(1);
      await appendLines(h.store, lines.slice(half));
      await caughtUp((await h.store.head()).position);
      stop.abort();
      await live;
      expect(logs.join('\n')).to.contain('lost the connection holding its locks').and.contain('locks taken again');
      expectSameSnapshot(await snapshot(h.pool, PROJECTIONS), expected, 'after the lock connection was lost');
    });

    it('stops with LOCKS_TAKEN when another writer took them meanwhile', async () => {
      const emails = PROJECTIONS.find((p) => p.name === 'emails')!;
      const stop = new AbortController();
      const live = project({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections: [emails], untilCaughtUp: false, pollMs: 20, signal: stop.signal });
      const outcome = live.then(
        () => undefined,
        (e: Error & { code?: string }) => e,
      );
      const key = `floe.projection:emails@0/1`;
      const held = async () =>
        (await h.pool.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid::bigint = (hashtextextended($1, 0) & 4294967295)
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          [key],
        )).rows[0].n;
      for (let i = 0; i < 500 && (await held()) === 0; i++) await new Promise((r) => setTimeout(r, 10));
      const other = await h.pool.connect();
      try {
        // The backend holding this projection's lock (not one of the projector's others, with a transaction's advisory lock).
        const { rows } = await other.query(
          `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid::bigint = (hashtextextended($1, 0) & 4294967295)
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND pid <> pg_backend_pid()`,
          [key],
        );
        expect(rows, 'one backend holds the lock').to.have.length(1);
        // Queue for the lock first, then end the backend holding it: the lock passes to this connection.
        const taking = other.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [key]);
        await new Promise((r) => setTimeout(r, 50));
        await h.pool.query(`SELECT pg_terminate_backend($1)`, [rows[0].pid]);
        await taking;
        const error = await outcome;
        expect(error?.code, error?.message).to.equal('LOCKS_TAKEN');
      } finally {
        stop.abort();
        await other.query(`SELECT pg_advisory_unlock_all()`).catch(() => undefined);
        other.release();
      }
    });
  });

  describe('batch boundaries', () => {
    const h = useStore();
    it('gives the same tables with batches of 7 events as with batches of 5000', async () => {
      await appendLines(h.store, workload(OPTS).lines);
      await projectAll(h, { batchSize: 7 });
      expectSameSnapshot(await snapshot(h.pool, PROJECTIONS), expected, 'batches of 7');
    });
  });

  describe('a ledger kept in memory (memoryLedgerLimit, as floe rebuild does)', () => {
    const h = useStore();
    it('gives the same tables, saved when it outgrows its bound, even when a pipelined write fails and is redone', async () => {
      await appendLines(h.store, workload(OPTS).lines);
      // One write of campaign_analytics fails once, in the pipelined path: its entries are
      // taken out of the memory ledger again and the batch is redone the careful way.
      let writes = 0;
      const flaky = PROJECTIONS.map((p) =>
        p.name !== 'campaign_analytics'
          ? p
          : { ...p, write: async (acc: unknown, tx: Parameters<typeof p.write>[1]) => {
              if (++writes === 5) throw new Error('a write that fails once');
              return p.write(acc, tx);
            } },
      );
      const logs: string[] = [];
      const { rows: emails } = await h.pool.query(`SELECT count(DISTINCT stream_id)::int AS n FROM floe.events WHERE type = 'email.sent'`);
      const bound = Math.floor(emails[0].n / 2);
      await projectAll(h, { projections: flaky, batchSize: 300, memoryLedgerLimit: bound, backoffMs: 1, log: (m) => logs.push(m) });
      expect(writes, 'the failing write was redone').to.be.greaterThan(5);
      expectSameSnapshot(await snapshot(h.pool, PROJECTIONS), expected, 'a memory ledger');
      const saved = logs.filter((l) => l.includes('saved its email ledger'));
      expect(saved, logs.join('\n')).to.have.length(1);
      expect(Number(/of (\d+) emails/.exec(saved[0])![1])).to.be.greaterThan(bound);
      const { rows } = await h.pool.query(
        `SELECT l.ledger_at, (SELECT count(*)::int FROM floe.projection_email_ledger) AS entries, (SELECT count(*)::int FROM emails) AS emails
           FROM floe.projection_lanes l`,
      );
      expect(rows).to.deep.equal([{ ledger_at: null, entries: rows[0].emails, emails: rows[0].emails }]);
    });

    it('a lane whose run died before saving its ledger is folded again from the start (blue/green), and its dead letters are not retried', async () => {
      // As a killed run leaves it: the lane moved on, its saved ledger still at 0.
      await h.pool.query(`UPDATE floe.projection_lanes SET ledger_at = 0`);
      // A dead letter of that lane is not retried against the ledger it lacks.
      const { rows: [lane] } = await h.pool.query(`SELECT lane, shard FROM floe.projection_lanes`);
      const { rows: [opened] } = await h.pool.query(`SELECT event_id, global_position, tenant_id FROM floe.events WHERE type = 'email.opened' LIMIT 1`);
      await h.pool.query(
        `INSERT INTO floe.dead_letters (lane, shard, projection, event_id, position, type, tenant_id, error) VALUES ($1, $2, 'campaign_analytics', $3, $4, 'email.opened', $5, 'a fold error')`,
        [lane.lane, lane.shard, opened.event_id, opened.global_position, opened.tenant_id],
      );
      const retried = await retryDeadLetters(h.pool, h.store.schemas, PROJECTIONS);
      expect(retried).to.include({ retried: 0, resolved: 0 });
      expect(retried.skipped.map((x) => x.error).filter((x) => !x.startsWith('tenant mismatch'))).to.deep.equal([
        'not retried: its lane keeps its email ledger in memory (a rebuild running, or stopped before saving it); a fold error',
      ]);
      const logs: string[] = [];
      await projectAll(h, { log: (m) => logs.push(m) });
      // Rebuilt blue/green by the projector, the old tables serving until each swap.
      expect(logs.join('\n')).to.match(/campaign_analytics: its lane \S+ stopped before saving the email ledger it kept in memory; rebuilding it blue\/green/);
      expectSameSnapshot(await snapshot(h.pool, PROJECTIONS), expected, 'folded again');
      const { rows } = await h.pool.query(`SELECT DISTINCT ledger_at FROM floe.projection_lanes`);
      expect(rows).to.deep.equal([{ ledger_at: null }]);
    });
  });

  describe('a stop while a batch waits to be retried', () => {
    const h = useStore();
    it('ends the run as a signal does: the memory ledger saved at the committed position, the next run completes', async () => {
      await appendLines(h.store, workload(OPTS).lines);
      // From its 5th write on, campaign_analytics fails as a server shutting down does
      // (transient: retried after a wait), and the run is stopped meanwhile.
      const stop = new AbortController();
      let writes = 0;
      const failing = PROJECTIONS.map((p) =>
        p.name !== 'campaign_analytics'
          ? p
          : { ...p, write: async (acc: unknown, tx: Parameters<typeof p.write>[1]) => {
              if (++writes < 5) return p.write(acc, tx);
              stop.abort();
              throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
            } },
      );
      const logs: string[] = [];
      const run = await projectAll(h, { projections: failing, batchSize: 300, memoryLedgerLimit: 1_000_000, backoffMs: 60_000, signal: stop.signal, log: (m) => logs.push(m) });
      expect(logs.join('\n')).to.match(/a batch waiting to be retried \(.*administrator command.*\) is left to the next run/);
      const { rows: [lane] } = await h.pool.query(
        `SELECT position::int, ledger_at, (SELECT count(*)::int FROM floe.projection_email_ledger) AS entries, (SELECT count(*)::int FROM emails) AS emails,
                (SELECT max(global_position)::int FROM floe.events) AS head FROM floe.projection_lanes`,
      );
      expect(lane.position).to.equal(Number(run.lanes[0].position));
      expect(lane.position).to.be.above(0).and.below(lane.head);
      expect(lane.ledger_at, 'its ledger is saved').to.equal(null);
      expect(lane.entries).to.equal(lane.emails);
      await projectAll(h);
      expectSameSnapshot(await snapshot(h.pool, PROJECTIONS), expected, 'stopped while a batch waited, then resumed');
    });
  });

  describe('live = catch-up', () => {
    const h = useStore();
    it('gives the same tables when projecting while events are being appended', async () => {
      const stop = new AbortController();
      const live = projectAll(h, { untilCaughtUp: false, signal: stop.signal, pollMs: 50, batchSize: 500 });
      const lines = workload(OPTS).lines;
      for (let i = 0; i < lines.length; i += 700) {
        await h.store.append(lines.slice(i, i + 700));
        await new Promise((r) => setTimeout(r, 5));
      }
      const head = (await h.store.head()).position;
      for (let i = 0; i < 400; i++) {
        const { rows } = await h.pool.query('SELECT min(position) AS p FROM floe.projection_checkpoints');
        if (rows[0].p !== null && BigInt(rows[0].p) >= head) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      stop.abort();
      const r = await live;
      expect(r.batches, 'the follower applied several batches').to.be.greaterThan(3);
      expectSameSnapshot(await snapshot(h.pool, PROJECTIONS), expected, 'live');
    });
  });

  describe('pipelined batches', () => {
    const h = useStore();
    it('release a parked event once when the batch that parked it committed before the next one was folded', async () => {
      const at = (m: number) => new Date(Date.UTC(2026, 2, 1, 9, m)).toISOString();
      const data = { emailId: 'e-1', mailboxId: 'mb-1', leadId: 'ld-1', campaignId: 'c-1' };
      await h.store.append([
        { type: 'email.opened', tenantId: 't-1', occurredAt: at(5), data: { emailId: 'e-1', machine: false } },
        { type: 'email.sent', tenantId: 't-1', occurredAt: at(0), data },
      ]);
      const [open, sent] = await h.store.read({});
      const emailsProjection = PROJECTIONS.find((p) => p.name === 'emails')!;
      const lane: LaneRef = { lane: 'pipelined-spec', shard: '0/1', projections: [emailsProjection], table: (_p, t) => t };
      const loadEvents = (positions: bigint[]) => readStoredAt(h.pool, positions, h.store.schemas);
      const cache = new LedgerCache();
      // Batch N parks the open; its write commits before batch N+1 is folded (the runner
      // folds N+1 while N is in flight, so N may or may not have committed by then).
      const n = await foldBatch(h.pool, lane, { events: [open], position: open.position, dead: new Map(), loadEvents, cache });
      expect(n.outcome.parked).to.equal(1);
      await transaction(h.pool, (c) => writeBatch(c, lane, n));
      const next = await foldBatch(h.pool, lane, { events: [sent], position: sent.position, dead: new Map(), loadEvents, cache, pending: n });
      expect(next.outcome.released, 'the open, released once').to.equal(1);
      expect(next.changed.get('e-1')).to.include({ openCount: 1, humanOpened: true });
      await transaction(h.pool, (c) => writeBatch(c, lane, next));
      const { rows } = await h.pool.query(`SELECT open_count, status FROM emails WHERE email_id = 'e-1'`);
      expect(rows).to.deep.equal([{ open_count: 1, status: 'opened' }]);
      const parked = await h.pool.query(`SELECT count(*)::int AS n FROM floe.projection_parked WHERE lane = 'pipelined-spec'`);
      expect(parked.rows[0].n).to.equal(0);
    });

    it('refuse to release parked events the store does not hold (never drop them silently)', async () => {
      const at = (m: number) => new Date(Date.UTC(2026, 2, 2, 9, m)).toISOString();
      const data = { emailId: 'e-2', mailboxId: 'mb-1', leadId: 'ld-1', campaignId: 'c-1' };
      await h.store.append([
        { type: 'email.delivered', tenantId: 't-1', occurredAt: at(5), data: { emailId: 'e-2' } },
        { type: 'email.sent', tenantId: 't-1', occurredAt: at(0), data },
      ]);
      const events = await h.store.read({});
      const [delivered, sent] = events.slice(-2);
      const emailsProjection = PROJECTIONS.find((p) => p.name === 'emails')!;
      const lane: LaneRef = { lane: 'missing-spec', shard: '0/1', projections: [emailsProjection], table: (_p, t) => t };
      const cache = new LedgerCache();
      const parkedBy = await foldBatch(h.pool, lane, { events: [delivered], position: delivered.position, dead: new Map(), loadEvents: async () => [], cache });
      await transaction(h.pool, (c) => writeBatch(c, lane, parkedBy));
      // A projector whose database lacks the parked event (a Kafka worker on another database).
      const error = await foldBatch(h.pool, lane, { events: [sent], position: sent.position, dead: new Map(), loadEvents: async () => [], cache }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).to.match(new RegExp(`email e-2: events parked at positions ${delivered.position} are not in the store`));
    });

    it('stop the projector on such a send: it is neither retried nor dead-lettered', async () => {
      const at = (m: number) => new Date(Date.UTC(2026, 2, 3, 9, m)).toISOString();
      await h.store.append([{ type: 'email.delivered', tenantId: 't-1', occurredAt: at(5), data: { emailId: 'e-3' } }]);
      const emailsProjection = PROJECTIONS.find((p) => p.name === 'emails')!;
      const run = () => project({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections: [emailsProjection], untilCaughtUp: true, backoffMs: 1 });
      await run();
      // The parked row names a position the store does not hold (as on a database that is not the store's).
      const moved = await h.pool.query(`UPDATE floe.projection_parked SET position = 999999 WHERE email_id = 'e-3'`);
      expect(moved.rowCount).to.equal(1);
      await h.store.append([{ type: 'email.sent', tenantId: 't-1', occurredAt: at(0), data: { emailId: 'e-3', mailboxId: 'mb-1', leadId: 'ld-1', campaignId: 'c-1' } }]);
      const error = await run().then(
        () => undefined,
        (e: Error & { code?: string }) => e,
      );
      expect(error?.code, error?.message).to.equal('PARKED_EVENT_MISSING');
      const letters = await h.pool.query(`SELECT count(*)::int AS n FROM floe.dead_letters`);
      expect(letters.rows[0].n, 'nothing dead-lettered').to.equal(0);
    });
  });

  describe('dead letters', () => {
    const h = useStore();
    let poison: string | undefined;
    let failing = true;
    const counting = tenantCounts('test_event_counts', ['email.opened', 'email.clicked'], (id) => failing && id === poison);
    const total = async () => Number((await h.pool.query('SELECT coalesce(sum(n), 0) AS n FROM test_event_counts')).rows[0].n);

    it('dead-letters the event whose fold throws, projects the rest, and applies it once on retry', async () => {
      await h.pool.query('CREATE TABLE test_event_counts (tenant_id text PRIMARY KEY, n int NOT NULL)');
      await appendLines(h.store, workload(OPTS).lines);
      const opens = (await h.store.read({ typePrefix: 'email.opened', limit: 100000 })).length;
      const clicks = (await h.store.read({ typePrefix: 'email.clicked', limit: 100000 })).length;
      // A counted open (its email was sent and names the same tenant), from the middle of the store.
      const { rows } = await h.pool.query(
        `SELECT o.event_id FROM floe.events o JOIN floe.events s ON s.stream_id = o.stream_id AND s.type = 'email.sent' AND s.tenant_id = o.tenant_id
          WHERE o.type = 'email.opened' ORDER BY o.global_position OFFSET 200 LIMIT 1`,
      );
      poison = rows[0].event_id;
      await project({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections: [counting], untilCaughtUp: true, backoffMs: 1 });
      const dead = (await listDeadLetters(h.pool)).filter((d) => d.projection === 'test_event_counts');
      expect(dead.map((d) => d.eventId)).to.deep.equal([poison]);
      expect(dead[0].error).to.contain('fold refuses this event');
      const without = await total();
      const { rows: cp } = await h.pool.query(`SELECT position FROM floe.projection_checkpoints WHERE projection = 'test_event_counts'`);
      expect(BigInt(cp[0].position), 'projected past it').to.equal((await h.store.head()).position);

      failing = false;
      // Another projection's lane: nothing of this one is retried.
      expect(await retryDeadLetters(h.pool, h.store.schemas, [counting], { projection: 'campaign_analytics' })).to.include({ retried: 0 });
      expect(await total()).to.equal(without);
      const retried = await retryDeadLetters(h.pool, h.store.schemas, [counting], { eventIds: [poison!], projection: 'test_event_counts' });
      expect(retried).to.include({ retried: 1, resolved: 1 });
      expect(await total()).to.equal(without + 1);
      // Resolved: a second retry has nothing to do.
      expect(await retryDeadLetters(h.pool, h.store.schemas, [counting], { eventIds: [poison!] })).to.include({ retried: 0 });
      expect(await total()).to.equal(without + 1);
      const counted = workload(OPTS).tables.emails.reduce((n, e) => n + Number(e.open_count) + Number(e.click_count), 0);
      expect(await total(), 'every counted open and click (second sends and foreign tenants excepted)').to.equal(counted);
      expect(counted).to.be.lessThan(opens + clicks);

      // A projection added now folds in a lane of its own from 0; caught up, it stands at the
      // same position as this one's, but a lane that skipped an event is not merged with one
      // that did not.
      const logs: string[] = [];
      const campaign = PROJECTIONS.find((p) => p.name === 'campaign_analytics')!;
      const r = await project({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections: [counting, campaign], untilCaughtUp: true, log: (m) => logs.push(m) });
      expect(r.lanes).to.have.length(2);
      expect(r.lanes[0].position).to.equal(r.lanes[1].position);
      expect(logs.join('\n')).to.match(/stays apart from the lanes at its position \d+: it dead-lettered events/);
    });
  });

  describe('dead letters retried while a rebuild swaps their projection into another lane', () => {
    const h = useStore();
    it('are left alone once the lane has changed, never applied to the lane the projection left', async () => {
      await h.pool.query('CREATE TABLE test_open_counts (tenant_id text PRIMARY KEY, n int NOT NULL)');
      await appendLines(h.store, workload(OPTS).lines);
      const { rows: [{ event_id: poison }] } = await h.pool.query(`SELECT event_id FROM floe.events WHERE type = 'email.opened' ORDER BY global_position OFFSET 100 LIMIT 1`);
      let failing = true;
      const opens = tenantCounts('test_open_counts', ['email.opened'], (id) => failing && id === poison);
      await project({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections: [opens], untilCaughtUp: true, backoffMs: 1 });
      const letter = (await listDeadLetters(h.pool)).find((d) => d.projection === 'test_open_counts')!;
      expect(letter.eventId).to.equal(poison);
      failing = false;
      const total = async () => Number((await h.pool.query('SELECT coalesce(sum(n), 0) AS n FROM test_open_counts')).rows[0].n);
      const before = await total();

      // The swap's transaction holds the shard's lane layout while the retry gets ready.
      const swap = await h.pool.connect();
      try {
        await swap.query('BEGIN');
        await swap.query(`SELECT pg_advisory_xact_lock(hashtextextended('floe.lanes@0/1', 0))`);
        const retry = retryDeadLetters(h.pool, h.store.schemas, [opens]);
        for (let i = 0; i < 200; i++) {
          const { rows } = await h.pool.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
          if (rows.length) break;
          await new Promise((r) => setTimeout(r, 25));
        }
        // What a swap does: the projection's checkpoint moves to the rebuilt lane.
        await swap.query(`INSERT INTO floe.projection_lanes (lane, shard, position) SELECT 'rebuilt-lane', shard, position FROM floe.projection_lanes WHERE lane = $1`, [letter.lane]);
        await swap.query(`UPDATE floe.projection_checkpoints SET lane = 'rebuilt-lane' WHERE projection = 'test_open_counts'`);
        await swap.query('COMMIT');
        const r = await retry;
        expect(r).to.include({ retried: 0, resolved: 0 });
        expect(r.skipped.filter((x) => !x.error.startsWith('tenant mismatch'))).to.deep.equal([
          { eventId: poison, error: `not retried: its projections are now none, not test_open_counts (a rebuild swapped meanwhile): run it again; ${letter.error}` },
        ]);
      } finally {
        await swap.query('ROLLBACK').catch(() => undefined);
        swap.release();
      }
      expect(await total(), 'nothing applied').to.equal(before);
      const { rows: still } = await h.pool.query(`SELECT resolved_at FROM floe.dead_letters WHERE event_id = $1`, [poison]);
      expect(still, 'still open').to.deep.equal([{ resolved_at: null }]);
    });
  });

  describe('progress', () => {
    const h = useStore();
    it('counts the events left to fold from each lane, and from 0 for a projection never projected', async () => {
      const lines = workload(OPTS).lines;
      const half = Math.floor(lines.length / 2);
      await appendLines(h.store, lines.slice(0, half));
      const campaign = PROJECTIONS.find((p) => p.name === 'campaign_analytics')!;
      await project({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections: [campaign], untilCaughtUp: true });
      const projected = (await h.store.head()).position;
      await appendLines(h.store, lines.slice(half));
      const head = (await h.store.head()).position;
      expect(await eventsToFold(h.pool, ['campaign_analytics'], '0/1', head)).to.equal(Number(head - projected));
      expect(await eventsToFold(h.pool, ['campaign_analytics', 'emails'], '0/1', head)).to.equal(Number(head - projected + head));
      expect(await eventsToFold(h.pool, ['campaign_analytics'], '0/1', projected)).to.equal(0);
    });
  });

  describe('dead letters of a write that fails', () => {
    const h = useStore();
    // One row per company, in a table whose CHECK refuses some names: the write fails for that
    // event alone, whatever the fold does.
    const companies: Projection<Rows> = {
      name: 'test_companies',
      version: 1,
      tables: ['test_companies'],
      types: ['company.created'],
      begin: () => new Rows(2),
      fold(acc, f) {
        const d = f.event.data as { companyId: string; name: string };
        acc.push(d.companyId, d.name);
      },
      write: (acc, tx) =>
        upsert(tx.client, tx.table('test_companies'), [{ name: 'company_id', type: 'text' }, { name: 'name', type: 'text' }], acc.columns, {
          conflict: ['company_id'],
        }).then(() => undefined),
    };
    const names = async () => (await h.pool.query('SELECT name FROM test_companies ORDER BY name')).rows.map((r) => r.name);

    it('reports each event that fails again with its new error, and applies the others', async () => {
      await h.pool.query(`CREATE TABLE test_companies (company_id text PRIMARY KEY, name text NOT NULL CONSTRAINT sane CHECK (name NOT IN ('bad-1', 'bad-2')))`);
      const company = (n: string) => ({ type: 'company.created', tenantId: 'wt', occurredAt: '2026-03-01T10:00:00.000Z', data: { companyId: `c-${n}`, name: n } });
      await h.store.append(['ok-1', 'bad-1', 'ok-2', 'bad-2', 'ok-3'].map(company));
      // Written in the same batches, one projection's statements queued before the failing one
      // and one's after it (which fail only because the transaction is aborted by then).
      const around = ['test_before', 'test_after'].map((t) => tenantCounts(t, ['company.created'], () => false));
      for (const t of around) await h.pool.query(`CREATE TABLE ${t.name} (tenant_id text PRIMARY KEY, n int NOT NULL)`);
      const lane = [around[0], companies, around[1]];
      await project({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections: lane, untilCaughtUp: true, backoffMs: 1 });
      expect(await names()).to.deep.equal(['ok-1', 'ok-2', 'ok-3']);
      const letters = await listDeadLetters(h.pool);
      expect(letters.map((d) => d.attempts)).to.deep.equal([1, 1]);
      expect(letters.map((d) => d.error), 'the failing statement’s error, not an aborted transaction’s').to.satisfy((es: string[]) => es.every((e) => e.includes('violates check constraint "sane"')));
      for (const t of around) expect((await h.pool.query(`SELECT n FROM ${t.name}`)).rows, t.name).to.deep.equal([{ n: 3 }]);

      // The cause is still there: both stay dead, each with its error, and nothing is thrown.
      const still = await retryDeadLetters(h.pool, h.store.schemas, lane);
      expect(still).to.include({ retried: 2, resolved: 0 });
      expect(still.stillFailing.map((f) => f.error)).to.have.length(2).and.satisfy((es: string[]) => es.every((e) => e.includes('violates check constraint "sane"')));
      expect((await listDeadLetters(h.pool)).map((d) => d.attempts)).to.deep.equal([2, 2]);

      // Half fixed: the lane's letters fail together, then one at a time: bad-1 lands, bad-2 stays.
      await h.pool.query(`ALTER TABLE test_companies DROP CONSTRAINT sane, ADD CONSTRAINT sane CHECK (name <> 'bad-2')`);
      const half = await retryDeadLetters(h.pool, h.store.schemas, lane);
      expect(half).to.include({ retried: 2, resolved: 1 });
      expect(half.stillFailing).to.have.length(1);
      expect(await names()).to.deep.equal(['bad-1', 'ok-1', 'ok-2', 'ok-3']);
      const left = await listDeadLetters(h.pool);
      expect(left.map((d) => d.attempts)).to.deep.equal([3]);
      expect(left[0].eventId).to.equal(half.stillFailing[0].eventId);
    });
  });
});

/** A projection that counts events of `types` per tenant into `table`; its fold throws on the events `refuses` names. */
function tenantCounts(table: string, types: string[], refuses: (eventId: string) => boolean): Projection<Rows> {
  return {
    name: table,
    version: 1,
    tables: [table],
    types,
    begin: () => new Rows(2),
    fold(acc, f) {
      if (refuses(f.event.id)) throw new Error('fold refuses this event');
      acc.push(f.event.tenantId, 1);
    },
    write: (acc, tx) =>
      upsert(tx.client, tx.table(table), [{ name: 'tenant_id', type: 'text' }, { name: 'n', type: 'int' }], groupCounts(acc), {
        conflict: ['tenant_id'],
        update: { n: 'cur.n + EXCLUDED.n' },
      }).then(() => undefined),
  };
}

function groupCounts(acc: Rows): unknown[][] {
  const m = new Map<string, number>();
  const [tenants] = acc.columns;
  for (const t of tenants as string[]) m.set(t, (m.get(t) ?? 0) + 1);
  return [[...m.keys()], [...m.values()]];
}
