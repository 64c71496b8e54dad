/**
 * The billing team's commands through the CLI: show equals the oracle, close records the
 * invoiced figures, late events into the closed period appear in recompute's diff exactly,
 * recompute without --apply changes nothing, --apply replaces the row and leaves an audit
 * event that lands in admin_system_events; an unknown tenant is an error for all three, and
 * close appends nothing for it.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useDatabase } from '../helpers/backends';
import { floe } from '../helpers/cli';
import { workload } from '../helpers/pipeline';

const OPTS = { seed: 'billing-cli', tenants: 4, emails: 1500, start: '2026-03-03', days: 40 };

describe('floe billing show | close | recompute', function () {
  this.timeout(300_000);
  const db = useDatabase();
  const w = workload(OPTS);
  const tenant = w.truth.tenants.find((t) => t.subscription && t.subscription.billingAnchorDay > 1) ?? w.truth.tenants[0];
  const rows = w.tables.billing_analytics.filter((r) => r.tenant_id === tenant.tenantId);
  const period = rows[0] as { period_start: string; period_end: string };
  const month = period.period_start.slice(0, 7);
  const json = (args: string[]) => {
    const r = floe(db.url, args);
    expect(r.code, r.err).to.equal(0);
    return r.out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  };
  const appendLines = (lines: object[]) => {
    const file = path.join(os.tmpdir(), `floe-billing-${process.pid}-${Math.random().toString(36).slice(2)}.ndjson`);
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    json(['append', file]);
  };

  before(function () {
    if (!db.url) return this.skip();
    expect(rows.length, 'the tenant has billing rows').to.be.greaterThan(1);
    appendLines(w.lines);
    json(['project', '--until-caught-up', '--json']);
  });

  it('show lists the live periods, equal to the oracle', () => {
    const shown = json(['billing', 'show', '--tenant', tenant.tenantId, '--json']);
    expect(shown).to.deep.equal(rows.map((r) => ({ ...r })));
    expect(json(['billing', 'show', '--tenant', tenant.tenantId, '--period', month, '--json'])).to.deep.equal([rows[0]]);
  });

  it('late events into a closed period appear in the diff exactly; without --apply nothing changes', () => {
    const closed = json(['billing', 'close', '--tenant', tenant.tenantId, '--period', month, '--json'])[0];
    expect(closed.periodStart).to.equal(period.period_start);
    expect(closed).to.include({ behind: 0, empty: false });
    // The close is what was invoiced: recompute sees it before the projector has run.
    const unprojected = json(['billing', 'recompute', '--tenant', tenant.tenantId, '--period', month, '--json'])[0];
    expect(unprojected.closed).to.deep.equal(closed.figures);
    expect(unprojected.diff).to.deep.equal({});
    // Two late one-off emails from a new mailbox to two new leads, inside the closed period.
    const at = new Date(Date.parse(`${period.period_start}T12:00:00.000Z`) + 86_400_000).toISOString();
    appendLines(
      [1, 2].map((i) => ({
        type: 'email.sent',
        tenantId: tenant.tenantId,
        occurredAt: at,
        data: { emailId: `late-email-${i}`, mailboxId: 'late-mailbox', leadId: `late-lead-${i}` },
      })),
    );
    json(['project', '--until-caught-up']);
    const r = json(['billing', 'recompute', '--tenant', tenant.tenantId, '--period', month, '--json'])[0];
    const before = closed.figures;
    expect(r.closed).to.deep.equal(before);
    expect(r.recomputed).to.deep.equal(r.live, 'the live projection counted the late events too');
    expect(r.diff).to.deep.equal({
      emails_sent: { live: before.emails_sent + 2, recomputed: before.emails_sent + 2, closed: before.emails_sent },
      mailboxes_used: { live: before.mailboxes_used + 1, recomputed: before.mailboxes_used + 1, closed: before.mailboxes_used },
      leads_used: { live: before.leads_used + 2, recomputed: before.leads_used + 2, closed: before.leads_used },
    });
    expect(r.applied).to.equal(false);
    expect(json(['billing', 'show', '--tenant', tenant.tenantId, '--period', month, '--json'])[0].emails_sent).to.equal(before.emails_sent + 2);
    const audit = json(['read', '--tenant', tenant.tenantId, '--type-prefix', 'billing.period_recomputed']);
    expect(audit, 'no audit event without --apply').to.deep.equal([]);
  });

  it('close warns when billing_analytics has not applied the tenant\'s billing events, or the period has no usage', () => {
    // Another period than the other tests use. Closing it twice in a row: the first close is
    // no billing event, so the second is not behind.
    const second = (rows[1] as { period_start: string }).period_start.slice(0, 7);
    json(['billing', 'close', '--tenant', tenant.tenantId, '--period', second]);
    const again = floe(db.url, ['billing', 'close', '--tenant', tenant.tenantId, '--period', second]);
    expect(again.code, again.err).to.equal(0);
    expect(JSON.parse(again.out).behind).to.equal(0);
    expect(again.err).to.not.contain('warning');
    // A send the projection has not applied yet: the close and a recompute say so.
    const at = new Date(Date.parse(`${(rows[1] as { period_start: string }).period_start}T12:00:00.000Z`) + 86_400_000).toISOString();
    appendLines([{ type: 'email.sent', tenantId: tenant.tenantId, occurredAt: at, data: { emailId: 'unapplied-1', mailboxId: 'late-mailbox', leadId: 'late-lead-1' } }]);
    const behind = floe(db.url, ['billing', 'close', '--tenant', tenant.tenantId, '--period', second]);
    expect(behind.code, behind.err).to.equal(0);
    expect(JSON.parse(behind.out).behind).to.equal(1);
    expect(behind.err).to.contain("warning: billing_analytics had not applied 1 of the tenant's billing event(s) yet").and.contain('run floe project, then floe billing recompute');
    const recomputed = floe(db.url, ['billing', 'recompute', '--tenant', tenant.tenantId, '--period', second, '--json']);
    expect(recomputed.code, recomputed.err).to.equal(0);
    expect(recomputed.err).to.contain("had not applied 1 of the tenant's billing event(s) yet; live and recomputed are as of position");
    json(['project', '--until-caught-up', '--json']);
    const future = floe(db.url, ['billing', 'close', '--tenant', tenant.tenantId, '--period', `${new Date().getUTCFullYear() + 3}-01`]);
    expect(future.code, 'a period not ended yet cannot be closed').to.equal(2);
    expect(future.err).to.match(/has not ended yet: close it once it has .*\[PERIOD_NOT_ENDED\]/);
    const earlier = `${Number(month.slice(0, 4)) - 3}${month.slice(4)}`;
    const empty = floe(db.url, ['billing', 'close', '--tenant', tenant.tenantId, '--period', earlier]);
    expect(empty.code, empty.err).to.equal(0);
    expect(JSON.parse(empty.out)).to.include({ behind: 0, empty: true });
    expect(JSON.parse(empty.out).figures.emails_sent).to.equal(0);
    expect(empty.err).to.match(/has no usage in billing_analytics; closed with zero figures/);
  });

  it('--apply replaces a wrong live row and appends billing.period_recomputed, which reaches admin_system_events', async () => {
    const { Pool } = await import('pg');
    const pool = new Pool({ connectionString: db.url, max: 1 });
    try {
      await pool.query('UPDATE billing_analytics SET emails_sent = 1, leads_used = 1 WHERE tenant_id = $1 AND period_start = $2', [tenant.tenantId, period.period_start]);
      const dry = json(['billing', 'recompute', '--tenant', tenant.tenantId, '--period', month, '--json'])[0];
      expect(dry.live.emails_sent).to.equal(1);
      expect(Object.keys(dry.diff)).to.include.members(['emails_sent', 'leads_used']);
      const r = json(['billing', 'recompute', '--tenant', tenant.tenantId, '--period', month, '--json', '--apply', '--reason', 'repair'])[0];
      expect(r.applied).to.equal(true);
      const live = json(['billing', 'show', '--tenant', tenant.tenantId, '--period', month, '--json'])[0];
      expect(live).to.include(r.recomputed);
      const audit = json(['read', '--tenant', tenant.tenantId, '--type-prefix', 'billing.period_recomputed']);
      expect(audit).to.have.length(1);
      expect(audit[0].data).to.include({ periodStart: period.period_start, reason: 'repair' });
      expect(JSON.parse(audit[0].data.after)).to.deep.equal(r.recomputed);
      json(['project', '--until-caught-up']);
      const { rows: events } = await pool.query(`SELECT event_type, message FROM admin_system_events WHERE tenant_id = $1 AND event_type = 'billing.period_recomputed'`, [tenant.tenantId]);
      expect(events).to.have.length(1);
      expect(events[0].message).to.contain('repair');
      // The projection goes on from there without counting anything twice.
      const again = json(['billing', 'recompute', '--tenant', tenant.tenantId, '--period', month, '--json'])[0];
      expect(again.live).to.deep.equal(again.recomputed);
      // --apply with nothing to change (the differences left are against the closed figures) changes nothing.
      const noop = json(['billing', 'recompute', '--tenant', tenant.tenantId, '--period', month, '--json', '--apply'])[0];
      expect(noop.applied).to.equal(false);
      expect(json(['read', '--tenant', tenant.tenantId, '--type-prefix', 'billing.period_recomputed'])).to.have.length(1);
    } finally {
      await pool.end();
    }
  });

  it('an unknown tenant, or --reason without --apply, is an error (exit 2, named on stderr), and nothing is appended', async () => {
    const unknown = 'typo-tenant';
    expect(w.truth.tenants.map((t) => t.tenantId)).to.not.include(unknown);
    const { Pool } = await import('pg');
    const pool = new Pool({ connectionString: db.url, max: 1 });
    const head = async () => (await pool.query('SELECT max(global_position)::text AS position, count(*)::int AS count FROM floe.events')).rows[0];
    try {
      const before = await head();
      for (const args of [
        ['billing', 'show', '--tenant', unknown],
        ['billing', 'show', '--tenant', unknown, '--period', month],
        ['billing', 'close', '--tenant', unknown, '--period', month],
        ['billing', 'recompute', '--tenant', unknown, '--period', month],
        ['billing', 'recompute', '--tenant', unknown, '--period', month, '--apply', '--reason', 'typo'],
      ]) {
        const r = floe(db.url, args);
        expect(r.code, `${args.join(' ')}: ${r.err}`).to.equal(2);
        expect(r.err, args.join(' ')).to.contain(`unknown tenant "${unknown}"`);
        expect(r.out, args.join(' ')).to.equal('');
      }
      const reasonAlone = floe(db.url, ['billing', 'recompute', '--tenant', tenant.tenantId, '--period', month, '--reason', 'forgot --apply']);
      expect(reasonAlone.code, reasonAlone.err).to.equal(2);
      expect(reasonAlone.err).to.contain('--reason is recorded with --apply only');
      expect(await head(), 'nothing appended').to.deep.equal(before);
      const { rows: closes } = await pool.query(`SELECT count(*)::int AS n FROM floe.events WHERE tenant_id = $1`, [unknown]);
      expect(closes[0].n).to.equal(0);
    } finally {
      await pool.end();
    }
  });

  it('a subscription.started that came after a close moves the periods: recompute lists that close as misaligned and warns', () => {
    // A tenant of its own, on calendar months, with usage in March and April 2026.
    const t = 'anchor-moves';
    const send = (i: number, at: string) => ({
      type: 'email.sent', tenantId: t, occurredAt: at, data: { emailId: `anchor-email-${i}`, mailboxId: 'anchor-mailbox', leadId: `anchor-lead-${i}` },
    });
    appendLines([send(1, '2026-03-05T10:00:00.000Z'), send(2, '2026-03-20T10:00:00.000Z'), send(3, '2026-04-02T10:00:00.000Z')]);
    json(['project', '--until-caught-up']);
    const closed = json(['billing', 'close', '--tenant', t, '--period', '2026-03', '--json'])[0];
    expect(closed).to.include({ periodStart: '2026-03-01', periodEnd: '2026-04-01' });
    expect(closed.figures.emails_sent).to.equal(2);
    const aligned = floe(db.url, ['billing', 'recompute', '--tenant', t, '--period', '2026-03', '--json']);
    expect(JSON.parse(aligned.out)).to.include({ periodStart: '2026-03-01' }).and.deep.include({ misalignedCloses: [], diff: {} });
    expect(aligned.err).to.not.contain('warning');
    // The subscription, dated before the usage, arrives late: periods now start on the 15th.
    appendLines([{ type: 'subscription.started', tenantId: t, occurredAt: '2026-02-20T00:00:00.000Z', data: { subscriptionId: 'sub-anchor', planId: 'p', billingAnchorDay: 15 } }]);
    json(['project', '--until-caught-up']);
    for (const [month, start, end, sent] of [['2026-02', '2026-02-15', '2026-03-15', 1], ['2026-03', '2026-03-15', '2026-04-15', 2]] as const) {
      const r = floe(db.url, ['billing', 'recompute', '--tenant', t, '--period', month, '--json']);
      expect(r.code, r.err).to.equal(0);
      const out = JSON.parse(r.out);
      expect(out).to.include({ periodStart: start, periodEnd: end, closed: null });
      expect(out.recomputed.emails_sent).to.equal(sent);
      expect(out.misalignedCloses).to.deep.equal([{ periodStart: '2026-03-01', periodEnd: '2026-04-01', figures: closed.figures }]);
      expect(r.err).to.contain('warning: 2026-03-01 – 2026-04-01 was closed, and overlaps this period without being one of the tenant\'s periods any more');
    }
    const later = JSON.parse(floe(db.url, ['billing', 'recompute', '--tenant', t, '--period', '2026-04', '--json']).out);
    expect(later.misalignedCloses, 'a period the close does not overlap').to.deep.equal([]);
  });

  it('close and recompute refuse, with a readable error, billing_analytics projected from Kafka', async () => {
    const { Pool } = await import('pg');
    const pool = new Pool({ connectionString: db.url, max: 1 });
    // A checkpoint as `floe project --source kafka` writes one (test-only: removed below).
    await pool.query(`INSERT INTO floe.projection_checkpoints (projection, shard, lane, version, position) VALUES ('billing_analytics', 'kafka:floe.events/0', 'kafka-test', 1, 1)`);
    try {
      for (const args of [
        ['billing', 'close', '--tenant', tenant.tenantId, '--period', month],
        ['billing', 'recompute', '--tenant', tenant.tenantId, '--period', month],
      ]) {
        const r = floe(db.url, args);
        expect(r.code, `${args.join(' ')}: ${r.err}`).to.not.equal(0);
        expect(r.err, args.join(' ')).to.contain('billing_analytics is projected from Kafka').and.not.match(/\n\s+at /);
      }
    } finally {
      await pool.query(`DELETE FROM floe.projection_checkpoints WHERE shard = 'kafka:floe.events/0'`);
      await pool.end();
    }
  });
});
