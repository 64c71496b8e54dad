/**
 * A shard catches up with the head even when the last events are other shards': its position
 * (and `lag` in `floe status`) says how far it has read, not where its own last event was.
 */
import { expect } from 'chai';
import { Client } from 'pg';
import { PROJECTIONS } from '../../projections';
import { project } from '../../projections/pipeline';
import { useDatabase } from '../helpers/backends';
import { floe } from '../helpers/cli';
import { appendLines, expectSameSnapshot, snapshot, useStore, workload } from '../helpers/pipeline';

describe('sharded projectors reach the head', function () {
  this.timeout(120_000);
  const db = useDatabase();

  it('a shard with no events of its own at the end (or none at all) is caught up, with lag 0', async function () {
    if (!db.url) return this.skip();
    const c = new Client({ connectionString: db.url });
    await c.connect();
    let tenants: string[];
    try {
      // Two tenants of shard 0 of 3 and one of shard 1; shard 2 gets none.
      const { rows } = await c.query<{ t: string; s: number }>(
        `SELECT t, abs(hashtextextended(t, 0)) % 3 AS s FROM (SELECT 'tenant-' || i AS t FROM generate_series(1, 200) i) x`,
      );
      const of = (s: number) => rows.filter((r) => Number(r.s) === s).map((r) => r.t);
      tenants = [of(1)[0], of(0)[0], of(0)[1]];
    } finally {
      await c.end();
    }
    const lines = tenants.flatMap((t, i) => [
      { type: 'tenant.created', tenantId: t, occurredAt: `2026-03-0${i + 1}T10:00:00.000Z`, data: { name: t } },
      { type: 'company.created', tenantId: t, occurredAt: `2026-03-0${i + 1}T11:00:00.000Z`, data: { companyId: `co-${i}`, name: `Company ${i}` } },
    ]);
    const appended = floe(db.url, ['append', '-'], lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    expect(appended.code, appended.err).to.equal(0);
    const head = BigInt(JSON.parse(appended.out).lastPosition);
    for (const shard of ['0', '1', '2']) {
      const r = floe(db.url, ['project', '--only', 'companies', '--until-caught-up', '--shards', '3', '--shard', shard]);
      expect(r.code, r.err).to.equal(0);
    }
    const status = JSON.parse(floe(db.url, ['status', '--json']).out);
    const companies = status.projections.filter((p: { name: string }) => p.name === 'companies');
    expect(companies.map((p: { shard: string }) => p.shard).sort()).to.deep.equal(['0/3', '1/3', '2/3']);
    for (const p of companies) {
      expect(BigInt(p.position), `shard ${p.shard}`).to.equal(head);
      expect(p.lag, `shard ${p.shard}`).to.equal(0);
    }
  });

  describe("events naming an email a tenant of another shard sent first", () => {
    const unsharded = useDatabase();
    const sharded = useDatabase();
    it('are dead-lettered in their shard as unsharded, and a later send of that email counts nowhere', async function () {
      if (!sharded.url) return this.skip();
      const c = new Client({ connectionString: sharded.url });
      await c.connect();
      let a: string;
      let b: string;
      try {
        const { rows } = await c.query<{ t: string; s: number }>(
          `SELECT t, abs(hashtextextended(t, 0)) % 2 AS s FROM (SELECT 'tenant-' || i AS t FROM generate_series(1, 50) i) x`,
        );
        a = rows.find((r) => Number(r.s) === 0)!.t;
        b = rows.find((r) => Number(r.s) === 1)!.t;
      } finally {
        await c.end();
      }
      const at = (h: number) => `2026-03-02T${String(h).padStart(2, '0')}:00:00.000Z`;
      const lines = [
        { type: 'email.sent', tenantId: a, occurredAt: at(9), data: { emailId: 'e1', mailboxId: 'mb-a', leadId: 'l-a', campaignId: 'c-a' } },
        { type: 'email.clicked', tenantId: b, occurredAt: at(10), data: { emailId: 'e1', url: 'https://example.com' } },
        { type: 'email.sent', tenantId: b, occurredAt: at(11), data: { emailId: 'e1', mailboxId: 'mb-b', leadId: 'l-b', campaignId: 'c-b' } },
        { type: 'email.opened', tenantId: b, occurredAt: at(12), data: { emailId: 'e1', machine: false } },
        { type: 'email.sent', tenantId: b, occurredAt: at(13), data: { emailId: 'e2', mailboxId: 'mb-b', leadId: 'l-b', campaignId: 'c-b' } },
        // B keeps its own sends in one stream of its own, e9 first, before A sends e3: B's later
        // send of e3 in that stream is still A's email, found through e3's stream.
        { type: 'email.sent', tenantId: b, stream: 'outbox-b', occurredAt: at(13), data: { emailId: 'e9', mailboxId: 'mb-b', leadId: 'l-b', campaignId: 'c-b' } },
        { type: 'email.sent', tenantId: a, occurredAt: at(14), data: { emailId: 'e3', mailboxId: 'mb-a', leadId: 'l-a', campaignId: 'c-a' } },
        { type: 'email.sent', tenantId: b, stream: 'outbox-b', occurredAt: at(15), data: { emailId: 'e3', mailboxId: 'mb-b', leadId: 'l-b', campaignId: 'c-b' } },
        // B's open of e5 before anyone sent e5, projected: it waits for its send.
        { type: 'email.opened', tenantId: b, occurredAt: at(16), data: { emailId: 'e5', machine: false } },
      ];
      // Appended and projected after the rest: e5's send is A's, which B's shard never reads;
      // the open is still dead-lettered there once the shard has read past the send, not left
      // parked for ever, as unsharded.
      const later = [{ type: 'email.sent', tenantId: a, occurredAt: at(17), data: { emailId: 'e5', mailboxId: 'mb-a', leadId: 'l-a', campaignId: 'c-a' } }];
      const only = ['--only', 'emails,campaign_analytics,billing_analytics'];
      for (const part of [lines, later]) {
        const input = part.map((l) => JSON.stringify(l)).join('\n') + '\n';
        for (const url of [unsharded.url, sharded.url]) expect(floe(url, ['append', '-'], input).code).to.equal(0);
        expect(floe(unsharded.url, ['project', ...only, '--until-caught-up']).code).to.equal(0);
        for (const shard of ['0', '1']) {
          const r = floe(sharded.url, ['project', ...only, '--until-caught-up', '--shards', '2', '--shard', shard]);
          expect(r.code, r.err).to.equal(0);
        }
      }
      const tables = async (url: string) => {
        const k = new Client({ connectionString: url });
        await k.connect();
        try {
          const q = async (sql: string) => (await k.query(sql)).rows;
          return {
            emails: await q(`SELECT tenant_id, email_id, status, click_count, open_count FROM emails ORDER BY 1, 2`),
            campaigns: await q(`SELECT tenant_id, campaign_id, sent, clicked_tracked, opened_tracked FROM campaign_analytics ORDER BY 1, 2`),
            billing: await q(`SELECT tenant_id, emails_sent FROM billing_analytics ORDER BY 1`),
            deadLetters: await q(`SELECT c.projection, count(*)::int AS n FROM floe.dead_letters d JOIN floe.projection_checkpoints c USING (lane, shard) GROUP BY 1 ORDER BY 1`),
            parked: await q(`SELECT count(*)::int AS n FROM floe.projection_parked`),
          };
        } finally {
          await k.end();
        }
      };
      const want = await tables(unsharded.url);
      expect(want.emails.map((r) => `${r.tenant_id}/${r.email_id}/${r.status}`)).to.deep.equal([`${a}/e1/sent`, `${a}/e3/sent`, `${a}/e5/sent`, `${b}/e2/sent`, `${b}/e9/sent`].sort());
      expect(want.parked).to.deep.equal([{ n: 0 }]);
      expect(await tables(sharded.url)).to.deep.equal(want);
    });
  });

  describe('a sharded projection re-projected (new version)', () => {
    const h = useStore();
    it("empties only the shard's own rows: the other shards' rows stay until they re-project theirs", async function () {
      if (!h.db.url) return this.skip();
      await appendLines(h.store, workload({ seed: 'shards-spec', tenants: 5, emails: 400, start: '2026-03-01', days: 6 }).lines);
      const chosen = PROJECTIONS.filter((p) => ['emails', 'campaign_analytics', 'billing_analytics'].includes(p.name));
      const run = (projections: typeof chosen, index: number) =>
        project({ pool: h.pool, url: h.db.url, schemas: h.store.schemas, projections, untilCaughtUp: true, shard: { index, count: 2 } });
      await run(chosen, 0);
      await run(chosen, 1);
      const expected = await snapshot(h.pool, chosen);
      expect(expected.emails.length).to.be.greaterThan(100);
      const bumped = chosen.map((p) => ({ ...p, version: p.version + 1 }));
      await run(bumped, 0);
      expectSameSnapshot(await snapshot(h.pool, chosen), expected, 'shard 0 re-projected, shard 1 not yet');
      await run(bumped, 1);
      expectSameSnapshot(await snapshot(h.pool, chosen), expected, 'both shards re-projected');
    });
  });
});
