/**
 * Blue/green rebuilds (DESIGN §6): a rebuild while readers poll and the live projector
 * keeps advancing; a one-month rebuild that leaves other months byte-identical; a rebuild
 * killed part-way that leaves the live tables intact and completes when run again.
 */
import { expect } from 'chai';
import { PROJECTIONS } from '../../projections';
import { campaignAnalytics } from '../../projections/olap/campaignAnalytics';
import { project } from '../../projections/pipeline';
import { rebuild } from '../../projections/rebuild';
import { exited, floe, floeChild } from '../helpers/cli';
import { appendLines, expectSameRows, expectSameSnapshot, snapshot, StoreHandle, tableRows, useStore, workload } from '../helpers/pipeline';

const OPTS = { seed: 'rebuild-spec', tenants: 4, emails: 2000, start: '2026-02-10', days: 40 };


/** Every checkpoint in `lane`, and no other lane's row, ledger, parked events or dead letters left. */
async function expectOneLane(h: StoreHandle, lane: string): Promise<void> {
  const { rows: cps } = await h.pool.query(`SELECT DISTINCT lane FROM floe.projection_checkpoints`);
  expect(cps.map((r) => r.lane)).to.deep.equal([lane]);
  for (const t of ['projection_lanes', 'projection_email_ledger', 'projection_parked', 'dead_letters']) {
    const { rows } = await h.pool.query(`SELECT count(*)::int AS n FROM floe.${t} WHERE lane <> $1`, [lane]);
    expect(rows[0].n, `${t} rows of other lanes`).to.equal(0);
  }
}

const projectAll = (h: StoreHandle, o: Partial<Parameters<typeof project>[0]> = {}) =>
  project({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections: [...PROJECTIONS], untilCaughtUp: true, ...o });

describe('rebuilds (PostgreSQL)', function () {
  this.timeout(300_000);
  const lines = workload(OPTS).lines;
  const half = Math.floor(lines.length / 2);

  describe('while readers poll and the live projector advances', () => {
    const h = useStore();
    it('swaps in a table equal to the live one, the reader never errs nor sees fewer rows, nothing live is lost', async () => {
      await appendLines(h.store, lines.slice(0, half));
      await projectAll(h);
      const stop = new AbortController();
      const live = projectAll(h, { untilCaughtUp: false, signal: stop.signal, pollMs: 20, batchSize: 300 });
      const reader = (async () => {
        const seen: number[] = [];
        const errors: string[] = [];
        const c = await h.pool.connect();
        try {
          while (!stop.signal.aborted) {
            try {
              seen.push(Number((await c.query('SELECT count(*) AS n FROM campaign_analytics')).rows[0].n));
            } catch (e) {
              errors.push((e as Error).message);
            }
          }
        } finally {
          c.release();
        }
        return { seen, errors };
      })();
      const appending = (async () => {
        for (let i = half; i < lines.length; i += 400) {
          await h.store.append(lines.slice(i, i + 400));
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const r = await rebuild({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projection: campaignAnalytics, batchSize: 500 });
      expect(r.swapped).to.include('campaign_analytics');
      await appending;
      const head = (await h.store.head()).position;
      for (let i = 0; i < 600; i++) {
        const { rows } = await h.pool.query('SELECT min(position) AS p FROM floe.projection_checkpoints');
        if (BigInt(rows[0].p) >= head) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      stop.abort();
      await live;
      const { seen, errors } = await reader;
      expect(errors, 'reader errors').to.deep.equal([]);
      expect(seen.length).to.be.greaterThan(10);
      for (let i = 1; i < seen.length; i++) expect(seen[i], `read ${i}: fewer rows than before`).to.be.at.least(seen[i - 1]);
      // The rebuilt table, advanced by the live projector after the swap, equals the oracle.
      expectSameRows('campaign_analytics', await tableRows(h.pool, 'campaign_analytics'), workload(OPTS).tables.campaign_analytics);
      const { rows: cps } = await h.pool.query(`SELECT projection FROM floe.projection_checkpoints WHERE projection LIKE '%__shadow'`);
      expect(cps, 'no shadow checkpoint left').to.deep.equal([]);
      const mv = await h.pool.query('SELECT count(*)::int AS n FROM campaign_performance_summary');
      expect(mv.rows[0].n, 'the materialized view was recreated').to.be.greaterThan(0);

      // Caught up, the rebuilt projection's lane and the others' stand at one position: the
      // projector merges them, and one lane's state is left.
      const merged = await projectAll(h);
      expect(merged.lanes.map((l) => l.lane), 'lanes after catching up').to.have.length(1);
      await expectOneLane(h, merged.lanes[0].lane);

      // Rebuilt twice more without projecting in between, each time beside a live lane whose
      // ledger was built by rules of unknown version (older code), so the rebuild's lane takes
      // over: the lane the second rebuild made holds campaign_analytics alone, the third leaves it
      // without projections, and it is retired with its ledger, parked events and dead letters;
      // every dead letter listed is a live lane's.
      const unknownRules = () => h.pool.query('UPDATE floe.projection_lanes SET ledger_rules = NULL');
      await unknownRules();
      const second = await rebuild({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projection: campaignAnalytics });
      expect(second.liveLane).to.equal(null);
      const { rows: before } = await h.pool.query(`SELECT lane FROM floe.projection_checkpoints WHERE projection = 'campaign_analytics'`);
      expect(before[0].lane).to.not.equal(merged.lanes[0].lane);
      await unknownRules();
      await rebuild({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projection: campaignAnalytics });
      for (const t of ['projection_email_ledger', 'projection_parked', 'dead_letters', 'projection_lanes']) {
        const { rows } = await h.pool.query(`SELECT count(*)::int AS n FROM floe.${t} WHERE lane = $1`, [before[0].lane]);
        expect(rows[0].n, `${t} of the retired lane ${before[0].lane}`).to.equal(0);
      }
      const status = JSON.parse(floe(h.db.url, ['status', '--json']).out) as { projections: Array<{ name: string; deadLetters: number; lane?: string }> };
      const listed = JSON.parse(`[${floe(h.db.url, ['dead-letters', 'list', '--json']).out.trim().split('\n').filter(Boolean).join(',')}]`) as Array<{ lane: string }>;
      const { rows: lanes } = await h.pool.query(`SELECT DISTINCT lane FROM floe.projection_lanes`);
      expect(listed.length, 'the workload has dead letters').to.be.greaterThan(0);
      for (const d of listed) expect(lanes.map((l) => l.lane)).to.include(d.lane);
      const perLane = new Map<string, number>();
      for (const d of listed) perLane.set(d.lane, (perLane.get(d.lane) ?? 0) + 1);
      const campaign = status.projections.find((x) => x.name === 'campaign_analytics')!;
      expect(campaign.deadLetters).to.be.oneOf([...perLane.values()]);
    });
  });

  /*
   * Caught up with an idle live projector, the rebuild ends where the live lane stands: the
   * rebuilt projection stays in that lane, on its ledger (`stays`), unless that ledger was built
   * by rules of unknown version (`rules`) or differs from the rebuild's (`differs`), and then the
   * rebuild's lane takes over and the projector takes it up.
   */
  const idle: Array<[boolean, 'stays' | 'rules' | 'differs']> = [[false, 'stays'], [true, 'stays'], [false, 'rules'], [true, 'rules'], [false, 'differs']];
  for (const [only, mode] of idle) describe(`while the live projector is idle${only ? ', projecting the rebuilt projection alone' : ''} (${mode})`, () => {
    const h = useStore();
    it(mode === 'stays' ? 'the rebuilt projection stays in its live lane, and goes on with it' : 'the projector takes up the rebuilt lane when the next events arrive, and goes on', async () => {
      // Alone, the rebuilt projection takes its lane's every member: the swap retires the lane.
      const projections = only ? [campaignAnalytics] : [...PROJECTIONS];
      await appendLines(h.store, lines.slice(0, half));
      await projectAll(h, { projections });
      const { rows: cp } = await h.pool.query(`SELECT lane FROM floe.projection_checkpoints WHERE projection = 'campaign_analytics'`);
      if (mode === 'rules') await h.pool.query('UPDATE floe.projection_lanes SET ledger_rules = NULL');
      // One entry of the live ledger as an older rule would have left it (its click count).
      const { rows: changed } = mode === 'differs'
        ? await h.pool.query(`UPDATE floe.projection_email_ledger SET state = regexp_replace(state, '[0-9]+$', '97')
            WHERE email_id = (SELECT max(email_id) FROM floe.projection_email_ledger) RETURNING email_id`)
        : { rows: [] };
      const stop = new AbortController();
      let failed: unknown;
      const live = projectAll(h, { projections, untilCaughtUp: false, signal: stop.signal, pollMs: 20 }).catch((e) => {
        failed = e;
      });
      await new Promise((r) => setTimeout(r, 300)); // caught up and waiting
      const logs: string[] = [];
      const r = await rebuild({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projection: campaignAnalytics, log: (m) => logs.push(m) });
      expect(r.swapped).to.include('campaign_analytics');
      expect(r.liveLane, logs.join('\n')).to.equal(mode === 'stays' ? cp[0].lane : null);
      if (mode === 'stays') {
        // The rebuild's lane went with its ledger unsaved: nothing of it is left.
        await expectOneLane(h, cp[0].lane);
        expect(logs.join('\n')).to.not.contain('saved its email ledger');
      } else {
        expect(logs.join('\n')).to.contain(
          mode === 'rules' ? 'email ledger was built by other ledger rules (unknown, not 1)' : `email ledger differs from the rebuild's (email ${changed[0].email_id})`,
        );
        const { rows: now } = await h.pool.query(`SELECT lane FROM floe.projection_checkpoints WHERE projection = 'campaign_analytics'`);
        expect(now[0].lane).to.not.equal(cp[0].lane);
      }
      // A few events, one batch: the projector's first write after the swap is also its last
      // before it is idle again. Then the rest.
      await appendLines(h.store, lines.slice(half, half + 5));
      await new Promise((r) => setTimeout(r, 500));
      await appendLines(h.store, lines.slice(half + 5));
      const head = (await h.store.head()).position;
      for (let i = 0; i < 600 && failed === undefined; i++) {
        const { rows } = await h.pool.query('SELECT min(position) AS p FROM floe.projection_checkpoints');
        if (BigInt(rows[0].p) >= head) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      stop.abort();
      await live;
      expect(failed, 'the live projector failed').to.equal(undefined);
      expectSameRows('campaign_analytics', await tableRows(h.pool, 'campaign_analytics'), workload(OPTS).tables.campaign_analytics);
      if (!only) expectSameRows('emails', await tableRows(h.pool, 'emails'), workload(OPTS).tables.emails);
    });
  });

  describe('a reader holding the live table when the swap comes', () => {
    const h = useStore();
    it('waits it out: the swap lets go at its lock timeout, catches up and tries again until it gets through', async () => {
      await appendLines(h.store, lines.slice(0, half));
      await projectAll(h, { projections: [campaignAnalytics] });
      const before = await tableRows(h.pool, 'campaign_analytics');
      // An analyst's long transaction: it holds the table until told to finish, after the first refused swap.
      const reader = await h.pool.connect();
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM campaign_analytics');
      const logs: string[] = [];
      let finished: Promise<unknown> | undefined;
      try {
        const r = await rebuild({
          pool: h.pool, url: h.db.url, schemas: h.store.schemas, projection: campaignAnalytics, swapLockTimeoutMs: 200,
          log: (m) => {
            logs.push(m);
            if (/did not get through/.test(m)) finished ??= new Promise((res) => setTimeout(res, 500)).then(() => reader.query('COMMIT'));
          },
        });
        expect(r.swapped).to.include('campaign_analytics');
      } finally {
        await finished;
        reader.release();
      }
      const refused = logs.filter((m) => m.includes('the swap of campaign_analytics did not get through (canceling statement due to lock timeout)'));
      expect(refused.length, logs.join('\n')).to.be.greaterThan(1); // the reader outlasted more than one attempt
      expectSameRows('campaign_analytics', await tableRows(h.pool, 'campaign_analytics'), before);
    });
  });

  describe('one period', () => {
    const h = useStore();
    it('rebuilds only that month’s partitions; other months stay byte-identical', async () => {
      await appendLines(h.store, lines);
      // Not projected yet: a month swapped in would be folded again on top of it.
      const early = floe(h.db.url, ['rebuild', 'campaign_analytics', '--period', '2026-03']);
      expect(early.code, early.err).to.equal(1);
      expect(early.err).to.contain('campaign_analytics has not been projected yet');
      await projectAll(h);
      const partition = async (name: string) =>
        (await h.pool.query(`SELECT to_jsonb(t)::text AS r FROM ${name} t`)).rows.map((x) => x.r).sort();
      const before = { feb: await partition('campaign_analytics_p202602'), mar: await partition('campaign_analytics_p202603') };
      expect(before.feb.length).to.be.greaterThan(0);
      // Damage March, as a logic bug would have, and let the summary view see it.
      await h.pool.query(`UPDATE campaign_analytics SET sent = sent + 1000 WHERE day >= '2026-03-01' AND day < '2026-04-01'`);
      await h.pool.query('REFRESH MATERIALIZED VIEW campaign_performance_summary');
      const r = await rebuild({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projection: campaignAnalytics, period: '2026-03' });
      expect(r.swapped).to.deep.equal(['campaign_analytics_p202603']);
      expect(await partition('campaign_analytics_p202602'), 'February byte-identical').to.deep.equal(before.feb);
      expectSameRows('campaign_analytics', await tableRows(h.pool, 'campaign_analytics'), workload(OPTS).tables.campaign_analytics);
      const { rows } = await h.pool.query(`SELECT count(*)::int AS n FROM floe.projection_checkpoints WHERE projection LIKE '%__shadow'`);
      expect(rows[0].n).to.equal(0);
      const sums = await h.pool.query(`SELECT (SELECT sum(sent) FROM campaign_analytics)::int AS t, (SELECT sum(sent) FROM campaign_performance_summary)::int AS v`);
      expect(sums.rows[0].v, 'the summary view refreshed after the swap').to.equal(sums.rows[0].t);
      // From the CLI: a month with rows rebuilds quietly; one without says its partitions are empty.
      const march = floe(h.db.url, ['rebuild', 'campaign_analytics', '--period', '2026-03']);
      expect(march.code, march.err).to.equal(0);
      expect(march.err).to.not.contain('warning');
      const future = floe(h.db.url, ['rebuild', 'campaign_analytics', '--period', '2031-01']);
      expect(future.code, future.err).to.equal(0);
      expect(future.err).to.contain('warning: no rows fall in 2031-01');
      // A table with CHECK constraints (bounce_type): the rebuilt month attaches under them.
      const bounces = async () => (await h.pool.query(`SELECT to_jsonb(b) - 'recorded_at' AS r FROM email_bounces b WHERE occurred_at >= '2026-03-01' AND occurred_at < '2026-04-01' ORDER BY event_id`)).rows;
      const bouncesBefore = await bounces();
      expect(bouncesBefore.length).to.be.greaterThan(0);
      const checked = floe(h.db.url, ['rebuild', 'email_bounces', '--period', '2026-03']);
      expect(checked.code, checked.err).to.equal(0);
      expect(await bounces()).to.deep.equal(bouncesBefore);
      // A whole rebuild leaves the live table's checks under its own names, and a month rebuilds after it.
      const checks = async () =>
        (await h.pool.query(`SELECT DISTINCT conname FROM pg_constraint WHERE contype = 'c' AND conrelid::regclass::text LIKE 'email_bounces%' ORDER BY 1`)).rows.map((r) => r.conname);
      const whole = floe(h.db.url, ['rebuild', 'email_bounces']);
      expect(whole.code, whole.err).to.equal(0);
      expect(await checks()).to.deep.equal(['email_bounces_bounce_type_check']);
      const after = floe(h.db.url, ['rebuild', 'email_bounces', '--period', '2026-03']);
      expect(after.code, after.err).to.equal(0);
      expect(await bounces()).to.deep.equal(bouncesBefore);
      // Checks an older swap left under the shadow's name: the month attaches under those names.
      await h.pool.query(`ALTER TABLE email_bounces RENAME CONSTRAINT email_bounces_bounce_type_check TO email_bounces__shadow_bounce_type_check`);
      const older = floe(h.db.url, ['rebuild', 'email_bounces', '--period', '2026-03']);
      expect(older.code, older.err).to.equal(0);
      expect(await bounces()).to.deep.equal(bouncesBefore);
      // A month with an empty live partition (made ahead, or for other tables' events) and none
      // on the shadow's side: swapped for an empty one, the month keeps its partition.
      await h.pool.query(`CREATE TABLE campaign_analytics_p203005 PARTITION OF campaign_analytics FOR VALUES FROM ('2030-05-01') TO ('2030-06-01')`);
      const empty = floe(h.db.url, ['rebuild', 'campaign_analytics', '--period', '2030-05']);
      expect(empty.code, empty.err).to.equal(0);
      expect(empty.err).to.contain('warning: no rows fall in 2030-05: its partitions (campaign_analytics_p203005) are empty');
      expect((await h.pool.query(`SELECT to_regclass('campaign_analytics_p203005') IS NOT NULL AS kept`)).rows[0].kept).to.equal(true);
      // A live row of a month without a partition waits in DEFAULT: the month is rebuilt all the same.
      await h.pool.query(`INSERT INTO campaign_analytics (tenant_id, campaign_id, day, sent) VALUES ('t-x', 'c-x', '2031-02-03', 5)`);
      const waiting = floe(h.db.url, ['rebuild', 'campaign_analytics', '--period', '2031-02']);
      expect(waiting.code, waiting.err).to.equal(0);
      const left = await h.pool.query(`SELECT count(*)::int AS n FROM campaign_analytics WHERE day >= '2031-02-01' AND day < '2031-03-01'`);
      expect(left.rows[0].n, 'the stray February 2031 row is gone with the rebuilt month').to.equal(0);
    });
  });

  describe('versions', () => {
    const h = useStore();
    it('rebuilds a projection whose version changed, and one left behind its lane, when the projector starts', async () => {
      await appendLines(h.store, lines.slice(0, half));
      await projectAll(h);
      await appendLines(h.store, lines.slice(half));
      // daily_analytics is left out of this run and falls behind its lane.
      await projectAll(h, { projections: PROJECTIONS.filter((p) => p.name !== 'daily_analytics') });
      const bumped = PROJECTIONS.map((p) => (p.name === 'campaign_analytics' ? { ...p, version: p.version + 1 } : p));
      const logs: string[] = [];
      const r = await projectAll(h, { projections: bumped, log: (m) => logs.push(m) });
      const head = (await h.store.head()).count;
      // The run says what it rebuilt first: each of the two up to the store's head, from the events it folds.
      expect(r.rebuilt?.map((x) => [x.projection, x.position])).to.have.deep.members([
        ['campaign_analytics', BigInt(head)],
        ['daily_analytics', BigInt(head)],
      ]);
      for (const x of r.rebuilt!) expect(x.events, x.projection).to.be.within(1, head);
      expect(logs.join('\n')).to.contain(`campaign_analytics: version ${campaignAnalytics.version} → ${campaignAnalytics.version + 1}; rebuilding it blue/green`);
      expect(logs.join('\n')).to.match(/daily_analytics: behind its lane/);
      const { rows } = await h.pool.query(`SELECT projection, version FROM floe.projection_checkpoints WHERE projection IN ('campaign_analytics', 'daily_analytics') ORDER BY 1`);
      expect(rows).to.deep.equal([
        { projection: 'campaign_analytics', version: campaignAnalytics.version + 1 },
        { projection: 'daily_analytics', version: 1 },
      ]);
      for (const t of ['campaign_analytics', 'daily_analytics']) expectSameRows(t, await tableRows(h.pool, t), workload(OPTS).tables[t]);
      const s = JSON.parse(floe(h.db.url, ['status', '--json']).out);
      expect(s.projections.every((x: { lag: number }) => x.lag === 0)).to.equal(true);
      // The rebuilt lanes caught up and the lanes were merged: into the newest (its ledger
      // folded from the start by the code running now), one lane, one ledger.
      const { rows: lanes } = await h.pool.query(`SELECT lane FROM floe.projection_checkpoints WHERE projection = 'daily_analytics'`);
      expect(lanes[0].lane).to.match(/^lane-/);
      expect(logs.join('\n')).to.include(`lane main (shard 0/1) merged into lane ${lanes[0].lane} at position`);
      await expectOneLane(h, lanes[0].lane);
      // Projecting on from there: one lane folds the rest, with one ledger entry per counted email.
      await appendLines(h.store, workload({ ...OPTS, seed: 'rebuild-spec-more', emails: 300 }).lines);
      const more = await projectAll(h);
      expect(more.lanes.map((l) => l.lane)).to.deep.equal([lanes[0].lane]);
      const { rows: ledger } = await h.pool.query(`SELECT count(*)::int AS n FROM floe.projection_email_ledger`);
      const { rows: emails } = await h.pool.query(`SELECT count(*)::int AS n FROM emails`);
      expect(ledger[0].n, 'one ledger entry per counted email').to.equal(emails[0].n);
    });
  });

  describe('killed part-way', () => {
    const h = useStore();
    /** A rebuild child stopped by `signal` once its shadow is past position 2000. */
    const stopRebuildPartWay = async (signal: NodeJS.Signals) => {
      const child = floeChild(h.db.url, ['rebuild', 'campaign_analytics', '--batch-size', '200']);
      const done = exited(child);
      for (let i = 0; i < 600; i++) {
        const { rows } = await h.pool.query(`SELECT position FROM floe.projection_checkpoints WHERE projection = 'campaign_analytics__shadow'`);
        if (rows[0] && BigInt(rows[0].position) > 2000n) break;
        await new Promise((res) => setTimeout(res, 20));
      }
      child.kill(signal);
      return done;
    };

    it('leaves the live tables intact, and a second run completes', async () => {
      await appendLines(h.store, lines);
      await projectAll(h);
      const before = await snapshot(h.pool, [campaignAnalytics]);
      expect((await stopRebuildPartWay('SIGKILL')).signal).to.equal('SIGKILL');
      expectSameSnapshot(await snapshot(h.pool, [campaignAnalytics]), before, 'live tables after the kill');
      // Its email ledger was in memory and went with it: the second run starts afresh.
      const again = floe(h.db.url, ['rebuild', 'campaign_analytics', '--json']);
      expect(again.code, again.err).to.equal(0);
      expect(JSON.parse(again.out)).to.include({ resumed: false });
      expect(again.err).to.contain('stopped before saving its email ledger: starting it afresh');
      expectSameSnapshot(await snapshot(h.pool, [campaignAnalytics]), before, 'rebuilt tables');
      expect(floe(h.db.url, ['project', '--until-caught-up']).code).to.equal(0);
      // The swapped-in tables keep the months ahead the migration made.
      const months = [0, 1, 2, 3].map((n) => {
        const now = new Date();
        const m = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + n, 1));
        return `campaign_analytics_p${m.toISOString().slice(0, 7).replace('-', '')}`;
      });
      const { rows } = await h.pool.query(`SELECT relname FROM pg_class WHERE relname = ANY($1::text[])`, [months]);
      expect(rows.map((r) => r.relname).sort()).to.deep.equal(months);
    });

    it('stopped by SIGINT, it saves its email ledger, and the second run resumes from where it stopped', async () => {
      const before = await snapshot(h.pool, [campaignAnalytics]);
      const stopped = await stopRebuildPartWay('SIGINT');
      expect(stopped.signal, 'it stopped by itself').to.equal(null);
      expect(stopped.err).to.contain('run it again to resume');
      const { rows } = await h.pool.query(
        `SELECT c.position, l.ledger_at, (SELECT count(*)::int FROM floe.projection_email_ledger e WHERE e.lane = c.lane AND e.shard = c.shard) AS entries
           FROM floe.projection_checkpoints c JOIN floe.projection_lanes l USING (lane, shard) WHERE c.projection = 'campaign_analytics__shadow'`,
      );
      expect(rows[0].ledger_at, 'the ledger was saved').to.equal(null);
      expect(rows[0].entries).to.be.greaterThan(0);
      const again = floe(h.db.url, ['rebuild', 'campaign_analytics', '--json']);
      expect(again.code, again.err).to.equal(0);
      expect(JSON.parse(again.out)).to.include({ resumed: true });
      expect(JSON.parse(again.out).events, 'the second run folded only what was left').to.be.lessThan(lines.length);
      expectSameSnapshot(await snapshot(h.pool, [campaignAnalytics]), before, 'rebuilt tables');
    });

    it('a period rebuild after a whole one was killed past the live projection starts its shadow afresh', async () => {
      // New events the live projection has not folded; a whole rebuild gets past it, and is killed.
      await appendLines(h.store, workload({ ...OPTS, seed: 'rebuild-spec-more', emails: 600 }).lines);
      const live = BigInt((await h.pool.query(`SELECT position FROM floe.projection_checkpoints WHERE projection = 'campaign_analytics'`)).rows[0].position);
      const child = floeChild(h.db.url, ['rebuild', 'campaign_analytics', '--batch-size', '200']);
      const done = exited(child);
      for (let i = 0; i < 3000; i++) {
        const { rows } = await h.pool.query(`SELECT position FROM floe.projection_checkpoints WHERE projection = 'campaign_analytics__shadow'`);
        if (rows[0] && BigInt(rows[0].position) > live) break;
        await new Promise((res) => setTimeout(res, 10));
      }
      child.kill('SIGKILL');
      await done;
      const shadowAt = (await h.pool.query(`SELECT position FROM floe.projection_checkpoints WHERE projection = 'campaign_analytics__shadow'`)).rows[0]?.position;
      expect(BigInt(shadowAt ?? 0) > live, `the shadow (${shadowAt}) got past the live projection (${live})`).to.equal(true);
      const period = floe(h.db.url, ['rebuild', 'campaign_analytics', '--period', '2026-03']);
      expect(period.code, period.err).to.equal(0);
      expect(period.err).to.contain('starting it afresh');
      expect(floe(h.db.url, ['project', '--until-caught-up']).code).to.equal(0);
      const after = await snapshot(h.pool, [campaignAnalytics]);
      const whole = await rebuild({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projection: campaignAnalytics });
      expect(whole.resumed, 'no shadow left behind').to.equal(false);
      expectSameSnapshot(await snapshot(h.pool, [campaignAnalytics]), after, 'a whole rebuild of the same events');
    });
  });
});
