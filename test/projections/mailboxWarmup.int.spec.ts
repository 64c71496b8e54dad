/**
 * `mailbox_analytics` and `warmup_analytics`: equal to the oracle on a generated workload
 * whatever the batch size, and the gauge rules on hand-written events: the day's latest
 * gauge event by (occurredAt, position) whatever the arrival order, a row for a day with a
 * gauge event and nothing else, no status from warm-up sends, and the mailbox's company
 * even when `mailbox.created` arrives after its emails.
 */
import { expect } from 'chai';
import { mailboxAnalytics } from '../../projections/olap/mailboxAnalytics';
import { warmupAnalytics } from '../../projections/olap/warmupAnalytics';
import { project } from '../../projections/pipeline';
import type { AppendInput } from '../../streams/store';
import { appendLines, expectSameRows, StoreHandle, tableRows, useStore, workload } from '../helpers/pipeline';

const OPTS = { seed: 'proj-spec', tenants: 4, emails: 1500, start: '2026-03-01', days: 30 };
const TABLES = ['mailbox_analytics', 'warmup_analytics'] as const;


const projectBoth = (h: StoreHandle, batchSize: number) =>
  project({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections: [mailboxAnalytics, warmupAnalytics], untilCaughtUp: true, batchSize });

describe('mailbox_analytics and warmup_analytics projections (PostgreSQL)', function () {
  this.timeout(300_000);

  for (const batchSize of [5000, 97]) {
    describe(`a generated workload, batches of ${batchSize}`, () => {
      const h = useStore();
      it('equals the oracle', async () => {
        await appendLines(h.store, workload(OPTS).lines);
        const r = await projectBoth(h, batchSize);
        expect(r.events).to.equal((await h.store.head()).count);
        for (const table of TABLES) {
          const expected = workload(OPTS).tables[table];
          expect(expected.length, `oracle rows of ${table}`).to.be.greaterThan(50);
          expectSameRows(table, await tableRows(h.pool, table), expected);
        }
      });
    });
  }

  describe('hand-written events', () => {
    const h = useStore();
    const T = 't1';
    const ev = (type: string, occurredAt: string, data: Record<string, unknown>): AppendInput => ({ type, tenantId: T, occurredAt, data });
    const rows = async (table: string, cols: string[]) =>
      (await h.pool.query(`SELECT ${cols.map((c) => (c === 'day' ? 'day::text' : c)).join(', ')} FROM ${table} ORDER BY mailbox_id, day`)).rows.map((r) => cols.map((c) => r[c]));
    /** Append one chunk at a time and project after each, in batches of one event: boundaries everywhere. */
    const step = async (events: AppendInput[]) => {
      await h.store.append(events);
      await projectBoth(h, 1);
    };

    it('keeps the latest gauge by (occurredAt, position), makes a row for a gauge day, and fills the company late', async () => {
      const MAILBOX = ['mailbox_id', 'day', 'company_id', 'sent', 'current_volume', 'warmup_status', 'health_score'];
      const WARMUP = ['mailbox_id', 'day', 'sent', 'spam_complaints', 'health_score', 'progress_percentage'];
      // Day 03-10 of mb1: progress events alone (the later one first) and a start; 03-11 of mb2: a start and progress.
      await step([
        ev('warmup.progressed', '2026-03-10T23:30:00.000Z', { mailboxId: 'mb1', healthScore: 70, progressPercentage: 40 }),
        ev('warmup.progressed', '2026-03-10T20:00:00.000Z', { mailboxId: 'mb1', healthScore: 10, progressPercentage: 5 }),
        ev('warmup.started', '2026-03-10T23:30:00.000Z', { mailboxId: 'mb1' }),
        ev('warmup.started', '2026-03-11T01:00:00.000Z', { mailboxId: 'mb2' }),
        ev('warmup.progressed', '2026-03-11T23:30:00.000Z', { mailboxId: 'mb2', healthScore: 50, progressPercentage: 1 }),
      ]);
      expect(await rows('mailbox_analytics', MAILBOX)).to.deep.equal([
        ['mb1', '2026-03-10', null, 0, 0, 'active', 70],
        ['mb2', '2026-03-11', null, 0, 0, 'active', 50],
      ]);
      expect(await rows('warmup_analytics', WARMUP)).to.deep.equal([
        ['mb1', '2026-03-10', 0, 0, 70, 40],
        ['mb2', '2026-03-11', 0, 0, 50, 1],
      ]);

      // An email sent from mb1 on 03-10 (before mb1's mailbox.created), then a warm-up send of that day.
      await step([ev('email.sent', '2026-03-10T09:00:00.000Z', { emailId: 'e1', mailboxId: 'mb1', leadId: 'l1', companyId: 'c-email' })]);
      expect((await rows('mailbox_analytics', MAILBOX))[0]).to.deep.equal(['mb1', '2026-03-10', 'c-email', 1, 1, 'active', 70]);
      await step([ev('warmup.email_sent', '2026-03-10T08:00:00.000Z', { mailboxId: 'mb1' })]);
      expect((await rows('warmup_analytics', WARMUP))[0]).to.deep.equal(['mb1', '2026-03-10', 1, 0, 70, 40]);

      // A stop at the same instant as the start, stored later: it is the latest. A warm-up send
      // two days later carries no status: the day has its row (volume), its status NULL.
      await step([
        ev('warmup.stopped', '2026-03-10T23:30:00.000Z', { mailboxId: 'mb1' }),
        ev('mailbox.created', '2026-03-01T00:00:00.000Z', { mailboxId: 'mb1', domainId: 'd1', companyId: 'c-mailbox' }),
        ev('warmup.email_sent', '2026-03-12T08:00:00.000Z', { mailboxId: 'mb1' }),
      ]);
      expect(await rows('mailbox_analytics', MAILBOX)).to.deep.equal([
        ['mb1', '2026-03-10', 'c-mailbox', 1, 2, 'stopped', 70],
        ['mb1', '2026-03-12', 'c-mailbox', 0, 1, null, null],
        ['mb2', '2026-03-11', null, 0, 0, 'active', 50],
      ]);
      // An earlier progress event arriving late changes nothing; an interaction makes a warm-up row only.
      await step([
        ev('warmup.progressed', '2026-03-10T21:00:00.000Z', { mailboxId: 'mb1', healthScore: 20, progressPercentage: 9 }),
        ev('warmup.interaction', '2026-03-12T10:00:00.000Z', { mailboxId: 'mb2', kind: 'spam_complaint' }),
      ]);
      expect(await rows('mailbox_analytics', ['mailbox_id', 'day', 'warmup_status', 'health_score'])).to.deep.equal([
        ['mb1', '2026-03-10', 'stopped', 70],
        ['mb1', '2026-03-12', null, null],
        ['mb2', '2026-03-11', 'active', 50],
      ]);
      expect(await rows('warmup_analytics', WARMUP)).to.deep.equal([
        ['mb1', '2026-03-10', 1, 0, 70, 40],
        ['mb1', '2026-03-12', 1, 0, null, null],
        ['mb2', '2026-03-11', 0, 0, 50, 1],
        ['mb2', '2026-03-12', 0, 1, null, null],
      ]);
    });
  });
});
