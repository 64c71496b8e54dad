/**
 * The OLTP state projections (projections/oltp): `emails` against the oracle; the other
 * tables against what the generator's ground truth says they must hold, derived here from
 * `workload(opts).truth` (the oracle has no such tables); the same tables whatever the
 * batch size; and hand-written events for every precedence rule and out-of-order arrival.
 */
import { expect } from 'chai';
import { Pool } from 'pg';
import { OLTP_PROJECTIONS } from '../../projections/oltp';
import { beforeInC } from '../../projections/oltp/leads';
import '../../projections/runtime/pgTypes';
import { runProjector } from '../../projections/runtime/runner';
import type { EventInput } from '../../streams/envelope';
import { PostgresEventStore } from '../../streams/postgres';
import type { WorkloadTruth } from '../../ops/generate';
import { useDatabase } from '../helpers/backends';
import { appendLines, expectSameRows, expectSameSnapshot, snapshot, tableRows, workload } from '../helpers/pipeline';

const OPTS = { seed: 'proj-spec', tenants: 4, emails: 1500, start: '2026-03-01', days: 30 };
const projections = [...OLTP_PROJECTIONS];

type Row = Record<string, unknown>;

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());
const normalize = (v: unknown): unknown => (v instanceof Date ? v.toISOString() : v);

/** The named columns of every row of `table`, timestamps as ISO strings. */
async function rowsOf(pool: Pool, table: string, columns: string[]): Promise<Row[]> {
  const { rows } = await pool.query(`SELECT ${columns.join(', ')} FROM ${table}`);
  return rows.map((r: Row) => Object.fromEntries(columns.map((c) => [c, normalize(r[c])])));
}

/** The same rows by key, reporting the first differences. */
function expectRows(table: string, key: string[], actual: Row[], expected: Row[]): void {
  const k = (r: Row) => key.map((c) => String(r[c])).join('|');
  const got = new Map(actual.map((r) => [k(r), r]));
  const problems: string[] = [];
  for (const want of expected) {
    const a = got.get(k(want));
    if (!a) problems.push(`missing ${k(want)}: ${JSON.stringify(want)}`);
    else if (JSON.stringify(a) !== JSON.stringify(want)) problems.push(`${k(want)}:\n    got  ${JSON.stringify(a)}\n    want ${JSON.stringify(want)}`);
    got.delete(k(want));
  }
  for (const [key_, a] of got) problems.push(`unexpected ${key_}: ${JSON.stringify(a)}`);
  if (problems.length) expect.fail(`${table}: ${problems.length} difference(s); first ones:\n  ${problems.slice(0, 6).join('\n  ')}`);
}

// --- what the ground truth says the tables hold ----------------------------------------

const LEAD_STATUSES = ['active', 'replied', 'bounced', 'unsubscribed', 'complained'];

function expectedLeadTables(truth: WorkloadTruth): { leads: Row[]; suppression: Row[] } {
  const rank = new Map<string, number>();
  const suppressed = new Map<string, { type: number; at: number; emailId: string }>();
  for (const e of truth.emails) {
    const key = `${e.tenantId}|${e.leadId}`;
    for (const f of e.events) {
      const status =
        f.type === 'email.complained' ? 4 : f.type === 'email.unsubscribed' ? 3 : f.type === 'email.bounced' && f.bounceType === 'hard' ? 2 : f.type === 'email.replied' ? 1 : 0;
      rank.set(key, Math.max(rank.get(key) ?? 0, status));
      if (status < 2) continue;
      const type = status - 2; // hard_bounce 0 < unsubscribe 1 < complaint 2
      const cur = suppressed.get(key);
      if (!cur) suppressed.set(key, { type, at: f.at, emailId: e.emailId });
      else {
        cur.type = Math.max(cur.type, type);
        if (f.at < cur.at || (f.at === cur.at && e.emailId < cur.emailId)) Object.assign(cur, { at: f.at, emailId: e.emailId });
      }
    }
  }
  const byKey = new Map(truth.leads.map((l) => [`${l.tenantId}|${l.leadId}`, l]));
  const leads = truth.leads.map((l) => ({
    tenant_id: l.tenantId,
    lead_id: l.leadId,
    email: l.erasedAt === null ? l.email : null,
    status: LEAD_STATUSES[rank.get(`${l.tenantId}|${l.leadId}`) ?? 0],
    imported_at: iso(l.importedAt),
    erased_at: iso(l.erasedAt),
  }));
  const suppression = [...suppressed].map(([key, s]) => {
    const l = byKey.get(key)!;
    return {
      tenant_id: l.tenantId,
      lead_id: l.leadId,
      email: l.erasedAt === null ? l.email : null,
      type: ['hard_bounce', 'unsubscribe', 'complaint'][s.type],
      created_at: iso(s.at),
      source_email_id: s.emailId,
    };
  });
  return { leads, suppression };
}

const last = <T extends { at: number }>(xs: T[]): T | undefined => [...xs].sort((a, b) => a.at - b.at).at(-1);

function expectedEmailAccounts(truth: WorkloadTruth): Row[] {
  return truth.mailboxes.map((m) => {
    const status = last(m.statuses);
    const progress = last((m.warmup?.events ?? []).filter((e) => e.type === 'warmup.progressed'));
    return {
      tenant_id: m.tenant.tenantId,
      mailbox_id: m.mailboxId,
      domain_id: m.domain.domainId,
      company_id: m.companyId,
      provider: m.provider,
      status: status?.status ?? 'active',
      warmup_status: m.warmup ? (m.warmup.stoppedAt === null ? 'active' : 'stopped') : null,
      health_score: progress?.type === 'warmup.progressed' ? progress.healthScore : null,
      progress_percentage: progress?.type === 'warmup.progressed' ? progress.progressPercentage : null,
      target_daily_volume: m.warmup?.targetDailyVolume ?? null,
      created_at: iso(m.createdAt),
      status_changed_at: iso(status?.at),
    };
  });
}

function expectedCampaignTables(truth: WorkloadTruth): { campaigns: Row[]; steps: Row[] } {
  const campaigns = truth.campaigns.map((c) => {
    const status = last(c.statuses)!;
    return {
      tenant_id: c.tenant.tenantId,
      campaign_id: c.campaignId,
      company_id: c.companyId,
      name: c.name,
      status: status.status,
      status_changed_at: iso(status.at),
      created_at: iso(c.createdAt),
    };
  });
  const executed = new Map<string, { count: number; last: number }>();
  for (const e of truth.emails) {
    if (e.stepId === null) continue;
    const x = executed.get(e.stepId) ?? { count: 0, last: 0 };
    executed.set(e.stepId, { count: x.count + 1, last: Math.max(x.last, e.sentAt) });
  }
  const steps = truth.campaigns.flatMap((c) =>
    c.steps.map((s) => ({
      tenant_id: c.tenant.tenantId,
      campaign_id: c.campaignId,
      step_id: s.stepId,
      step_order: s.stepOrder,
      step_type: s.stepType,
      executed_count: executed.get(s.stepId)?.count ?? 0,
      last_executed_at: iso(executed.get(s.stepId)?.last),
    })),
  );
  return { campaigns, steps };
}

// --- generated workload -----------------------------------------------------------------

describe('OLTP projections on a generated workload (PostgreSQL)', () => {
  const db = useDatabase();
  const small = useDatabase(); // the same events projected in batches of 97
  const pools: Pool[] = [];
  let pool: Pool;
  const truth = () => workload(OPTS).truth;

  before(async function () {
    if (!db.url) return this.skip();
    for (const url of [db.url, small.url]) {
      const p = new Pool({ connectionString: url, max: 4 });
      pools.push(p);
      const store = await PostgresEventStore.open(url, { pool: p });
      await appendLines(store, workload(OPTS).lines);
      const r = await runProjector({ pool: p, url, schemas: store.schemas, projections, untilCaughtUp: true, batchSize: url === db.url ? 5000 : 97 });
      expect(r.events).to.equal((await store.head()).count);
    }
    pool = pools[0];
  });
  after(async () => {
    for (const p of pools) await p.end();
  });

  it('emails equals the oracle', async () => {
    expectSameRows('emails', await tableRows(pool, 'emails'), workload(OPTS).tables.emails);
  });

  it('leads: every imported lead, erasures, status by precedence over all its emails', async () => {
    const { leads } = expectedLeadTables(truth());
    const cols = ['tenant_id', 'lead_id', 'email', 'status', 'imported_at', 'erased_at'];
    expectRows('leads', ['tenant_id', 'lead_id'], await rowsOf(pool, 'leads', cols), leads);
    const erased = truth().leads.filter((l) => l.erasedAt !== null).length;
    expect(erased, 'the workload erases some leads').to.be.greaterThan(0);
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM leads WHERE erased_at IS NOT NULL AND num_nulls(email, first_name, last_name, company) = 4`,
    );
    expect(rows[0].n).to.equal(erased);
    const { rows: named } = await pool.query(`SELECT count(*)::int AS n FROM leads WHERE erased_at IS NULL AND first_name IS NOT NULL`);
    expect(named[0].n).to.equal(truth().leads.length - erased);
  });

  it('suppression_list: one row per complained, unsubscribed or hard-bounced lead', async () => {
    const { suppression } = expectedLeadTables(truth());
    expect(new Set(suppression.map((s) => s.type)).size, 'the workload has every type').to.equal(3);
    const cols = ['tenant_id', 'lead_id', 'email', 'type', 'created_at', 'source_email_id'];
    expectRows('suppression_list', ['tenant_id', 'lead_id'], await rowsOf(pool, 'suppression_list', cols), suppression);
  });

  it('email_accounts: every mailbox with its latest status, warm-up and progress', async () => {
    const expected = expectedEmailAccounts(truth());
    expectRows('email_accounts', ['tenant_id', 'mailbox_id'], await rowsOf(pool, 'email_accounts', Object.keys(expected[0])), expected);
  });

  it('domains and companies', async () => {
    const domains = truth().tenants.flatMap((t) =>
      t.domains.map((d) => ({ tenant_id: t.tenantId, domain_id: d.domainId, domain: d.domain, company_id: d.companyId, created_at: iso(d.addedAt) })),
    );
    expectRows('domains', ['tenant_id', 'domain_id'], await rowsOf(pool, 'domains', Object.keys(domains[0])), domains);
    const companies = truth().tenants.flatMap((t) =>
      t.companies.map((c) => ({ tenant_id: t.tenantId, company_id: c.companyId, name: c.name, created_at: iso(c.createdAt) })),
    );
    expectRows('companies', ['tenant_id', 'company_id'], await rowsOf(pool, 'companies', Object.keys(companies[0])), companies);
  });

  it('campaigns: each campaign’s final status', async () => {
    const { campaigns } = expectedCampaignTables(truth());
    expect(new Set(campaigns.map((c) => c.status)).size, 'campaigns end in different statuses').to.be.greaterThan(1);
    expectRows('campaigns', ['tenant_id', 'campaign_id'], await rowsOf(pool, 'campaigns', Object.keys(campaigns[0])), campaigns);
  });

  it('campaign_sequence_steps: definitions, emails first sent per step, last send', async () => {
    const { steps } = expectedCampaignTables(truth());
    const cols = Object.keys(steps[0]);
    expectRows('campaign_sequence_steps', ['tenant_id', 'campaign_id', 'step_id'], await rowsOf(pool, 'campaign_sequence_steps', cols), steps);
    const { rows } = await pool.query('SELECT sum(executed_count)::int AS n FROM campaign_sequence_steps');
    expect(rows[0].n).to.equal(truth().emails.filter((e) => e.campaignId !== null).length);
  });

  it('the same tables in batches of 97 as of 5000', async () => {
    expectSameSnapshot(await snapshot(pools[1], projections), await snapshot(pool, projections), 'batch size 97');
  });
});

// --- hand-written events ----------------------------------------------------------------

/** Minutes after 2026-03-01T00:00Z as an ISO occurredAt. */
const at = (minutes: number): string => new Date(Date.UTC(2026, 2, 1) + minutes * 60_000).toISOString();

describe('OLTP projections: precedence and out-of-order arrival (PostgreSQL)', () => {
  const db = useDatabase();
  let pool: Pool;
  let store: PostgresEventStore;
  before(async function () {
    if (!db.url) return this.skip();
    pool = new Pool({ connectionString: db.url, max: 4 });
    store = await PostgresEventStore.open(db.url, { pool });
  });
  after(async () => {
    await pool?.end();
  });

  /** Append the events (in this order, one call) and project everything stored so far, in one batch. */
  async function project(...events: EventInput[]): Promise<void> {
    await store.append(events);
    await runProjector({ pool, url: db.url, schemas: store.schemas, projections, untilCaughtUp: true });
  }
  const ev = (type: string, tenantId: string, minutes: number, data: Record<string, unknown>): EventInput => ({
    type,
    tenantId,
    occurredAt: at(minutes),
    data,
  });
  const one = async (table: string, where: string, columns: string[]): Promise<Row> => {
    const rows = await rowsOf(pool, `${table} WHERE ${where}`, columns);
    expect(rows, `${table} WHERE ${where}`).to.have.length(1);
    return rows[0];
  };

  it('campaigns: the status with the greatest (occurredAt, position) wins; later-arriving older ones do not', async () => {
    const t = 'camp';
    const status = (minutes: number, s: string) => ev('campaign.status_changed', t, minutes, { campaignId: 'c1', status: s });
    // A status arrives before its campaign exists; the creation does not override it.
    await project(status(30, 'scheduled'), ev('campaign.created', t, 10, { campaignId: 'c1', companyId: 'co1', name: 'Spring' }));
    expect(await one('campaigns', `tenant_id = '${t}'`, ['name', 'company_id', 'status', 'status_changed_at', 'created_at'])).to.deep.equal({
      name: 'Spring',
      company_id: 'co1',
      status: 'scheduled',
      status_changed_at: at(30),
      created_at: at(10),
    });
    // In one batch: sending, then an older pause arrives after it.
    await project(status(60, 'sending'), status(50, 'paused'));
    expect(await one('campaigns', `tenant_id = '${t}'`, ['status', 'status_changed_at'])).to.deep.equal({ status: 'sending', status_changed_at: at(60) });
    // In a later batch: an even older one, and a second creation (a retry, later) that changes nothing.
    await project(status(40, 'draft'), ev('campaign.created', t, 70, { campaignId: 'c1', companyId: 'co2', name: 'Renamed' }));
    expect(await one('campaigns', `tenant_id = '${t}'`, ['name', 'company_id', 'status', 'created_at'])).to.deep.equal({
      name: 'Spring',
      company_id: 'co1',
      status: 'sending',
      created_at: at(10),
    });
    // Same occurredAt: the later store position wins, within a batch and across batches.
    await project(status(90, 'paused'), status(90, 'completed'));
    expect((await one('campaigns', `tenant_id = '${t}'`, ['status'])).status).to.equal('completed');
    await project(status(90, 'sending'));
    expect((await one('campaigns', `tenant_id = '${t}'`, ['status'])).status).to.equal('sending');
    // A campaign with no status event is a draft.
    await project(ev('campaign.created', t, 5, { campaignId: 'c2', name: 'Quiet' }));
    expect(await one('campaigns', `campaign_id = 'c2'`, ['status', 'status_changed_at', 'company_id'])).to.deep.equal({
      status: 'draft',
      status_changed_at: null,
      company_id: null,
    });
  });

  it('email_accounts: latest status, warm-up state and progress by occurredAt, whatever the arrival', async () => {
    const t = 'mbx';
    const m = { mailboxId: 'm1' };
    await project(
      ev('warmup.progressed', t, 300, { ...m, healthScore: 80, progressPercentage: 60 }),
      ev('mailbox.created', t, 10, { ...m, domainId: 'd1', companyId: 'co1', provider: 'google' }),
      ev('warmup.started', t, 20, { ...m, targetDailyVolume: 40 }),
      ev('mailbox.status_changed', t, 200, { ...m, status: 'suspended' }),
      ev('warmup.progressed', t, 100, { ...m, healthScore: 50, progressPercentage: 20 }),
    );
    const cols = ['domain_id', 'company_id', 'provider', 'status', 'status_changed_at', 'warmup_status', 'target_daily_volume', 'health_score', 'progress_percentage', 'created_at'];
    expect(await one('email_accounts', `tenant_id = '${t}'`, cols)).to.deep.equal({
      domain_id: 'd1',
      company_id: 'co1',
      provider: 'google',
      status: 'suspended',
      status_changed_at: at(200),
      warmup_status: 'active',
      target_daily_volume: 40,
      health_score: 80,
      progress_percentage: 60,
      created_at: at(10),
    });
    // Later batch: the warm-up stops; then older events arrive (reactivation, a start, progress).
    await project(ev('warmup.stopped', t, 400, { ...m, reason: 'done' }));
    await project(
      ev('mailbox.status_changed', t, 150, { ...m, status: 'active' }),
      ev('warmup.started', t, 350, { ...m, targetDailyVolume: 25 }),
      ev('warmup.progressed', t, 250, { ...m, healthScore: 10, progressPercentage: 5 }),
    );
    expect(await one('email_accounts', `tenant_id = '${t}'`, ['status', 'warmup_status', 'target_daily_volume', 'health_score'])).to.deep.equal({
      status: 'suspended',
      warmup_status: 'stopped',
      target_daily_volume: 25, // the latest start's target, though the warm-up is stopped
      health_score: 80,
    });
    // A mailbox whose status never changed is active.
    await project(ev('mailbox.created', t, 5, { mailboxId: 'm2', domainId: 'd1' }));
    expect(await one('email_accounts', `mailbox_id = 'm2'`, ['status', 'status_changed_at', 'warmup_status', 'provider'])).to.deep.equal({
      status: 'active',
      status_changed_at: null,
      warmup_status: null,
      provider: null,
    });
  });

  it('leads: status by precedence over all emails and campaigns; suppression type and earliest time', async () => {
    const t = 'lds';
    let n = 0;
    const sent = (lead: string, minutes: number, campaignId: string | null = 'c1') => {
      const emailId = `${lead}-e${++n}`;
      return { emailId, event: ev('email.sent', t, minutes, { emailId, campaignId, mailboxId: 'm1', leadId: lead }) };
    };
    const on = (emailId: string, type: string, minutes: number, data: Record<string, unknown> = {}) => ev(type, t, minutes, { emailId, ...data });
    const imported = (lead: string, minutes: number) => ev('lead.imported', t, minutes, { leadId: lead, email: `${lead}@x.test`, firstName: 'Ada', lastName: 'L', company: 'X' });

    // L1: a reply (campaign c1), a soft then hard bounce (c2), an unsubscribe (one-off) → unsubscribed.
    const a = sent('L1', 10);
    const b = sent('L1', 20, 'c2');
    const c = sent('L1', 30, null);
    // L2: a soft bounce only → active. L3: a complaint arrives before a reply (and before its send) → complained.
    const d = sent('L2', 10);
    const e = sent('L3', 10);
    await project(
      imported('L1', 0),
      imported('L2', 0),
      imported('L3', 0),
      on(e.emailId, 'email.complained', 50),
      a.event,
      on(a.emailId, 'email.replied', 40),
      b.event,
      on(b.emailId, 'email.bounced', 25, { bounceType: 'soft' }),
      d.event,
      on(d.emailId, 'email.bounced', 15, { bounceType: 'soft' }),
      e.event,
      on(e.emailId, 'email.replied', 45),
    );
    const status = async () =>
      Object.fromEntries((await rowsOf(pool, `leads WHERE tenant_id = '${t}'`, ['lead_id', 'status'])).map((r) => [r.lead_id, r.status]));
    expect(await status()).to.deep.equal({ L1: 'replied', L2: 'active', L3: 'complained' });
    await project(on(b.emailId, 'email.bounced', 35, { bounceType: 'hard' }));
    expect((await status()).L1).to.equal('bounced');
    expect(await one('suppression_list', `lead_id = 'L1'`, ['email', 'type', 'created_at', 'source_email_id'])).to.deep.equal({
      email: 'L1@x.test',
      type: 'hard_bounce',
      created_at: at(35),
      source_email_id: b.emailId,
    });
    // An unsubscribe outranks the bounce; an earlier complaint-free reply changes nothing.
    await project(c.event, on(c.emailId, 'email.unsubscribed', 60), on(a.emailId, 'email.replied', 12));
    expect((await status()).L1).to.equal('unsubscribed');
    expect(await one('suppression_list', `lead_id = 'L1'`, ['type', 'created_at', 'source_email_id'])).to.deep.equal({
      type: 'unsubscribe',
      created_at: at(35), // still the hard bounce: the earliest suppressing event
      source_email_id: b.emailId,
    });
    // A complaint arriving late with an earlier time: complaint, and created_at moves back.
    await project(on(a.emailId, 'email.complained', 33));
    expect((await status()).L1).to.equal('complained');
    expect(await one('suppression_list', `lead_id = 'L1'`, ['type', 'created_at', 'source_email_id'])).to.deep.equal({
      type: 'complaint',
      created_at: at(33),
      source_email_id: a.emailId,
    });
    expect(await one('suppression_list', `lead_id = 'L3'`, ['email', 'type', 'created_at'])).to.deep.equal({
      email: 'L3@x.test',
      type: 'complaint',
      created_at: at(50),
    });
    const { rows } = await pool.query(`SELECT lead_id FROM suppression_list WHERE tenant_id = $1 ORDER BY lead_id`, [t]);
    expect(rows.map((r) => r.lead_id)).to.deep.equal(['L1', 'L3']);
  });

  it('leads: erasure nulls personal fields for good, also in the suppression list; emails before the import', async () => {
    const t = 'gdpr';
    const lead = (id: string, minutes: number, email = `${id}@x.test`) =>
      ev('lead.imported', t, minutes, { leadId: id, email, firstName: 'Grace', lastName: 'H', company: 'Y' });
    const send = (emailId: string, leadId: string, minutes: number) => ev('email.sent', t, minutes, { emailId, mailboxId: 'm1', leadId });
    // E1: emailed and unsubscribed before its import arrives; imported twice (the earliest import wins).
    await project(send('e1', 'E1', 10), ev('email.unsubscribed', t, 20, { emailId: 'e1' }));
    const personal = ['email', 'first_name', 'last_name', 'company', 'status', 'imported_at', 'erased_at'];
    expect(await one('leads', `lead_id = 'E1'`, personal)).to.deep.equal({
      email: null,
      first_name: null,
      last_name: null,
      company: null,
      status: 'unsubscribed',
      imported_at: null,
      erased_at: null,
    });
    expect((await one('suppression_list', `lead_id = 'E1'`, ['email'])).email).to.equal(null);
    await project(lead('E1', 8, 'new@x.test'), lead('E1', 5));
    expect(await one('leads', `lead_id = 'E1'`, ['email', 'first_name', 'imported_at'])).to.deep.equal({
      email: 'E1@x.test',
      first_name: 'Grace',
      imported_at: at(5),
    });
    expect((await one('suppression_list', `lead_id = 'E1'`, ['email'])).email).to.equal('E1@x.test');
    // Erased; then an import (older, or newer) arrives: the personal fields stay NULL.
    await project(ev('lead.erased', t, 100, { leadId: 'E1' }));
    await project(lead('E1', 1), lead('E1', 200), ev('lead.erased', t, 150, { leadId: 'E1' }));
    expect(await one('leads', `lead_id = 'E1'`, personal)).to.deep.equal({
      email: null,
      first_name: null,
      last_name: null,
      company: null,
      status: 'unsubscribed',
      imported_at: at(1),
      erased_at: at(100),
    });
    expect((await one('suppression_list', `lead_id = 'E1'`, ['email', 'type'])).email).to.equal(null);
    // Erased and imported in one batch, erasure first.
    await project(ev('lead.erased', t, 50, { leadId: 'E2' }), lead('E2', 10));
    expect(await one('leads', `lead_id = 'E2'`, ['email', 'imported_at', 'erased_at'])).to.deep.equal({ email: null, imported_at: at(10), erased_at: at(50) });
  });

  it('campaign_sequence_steps: first sends per step, the latest definition; domains and companies: the first creation', async () => {
    const t = 'steps';
    const send = (emailId: string, minutes: number, stepId: string) =>
      ev('email.sent', t, minutes, { emailId, campaignId: 'c1', stepId, mailboxId: 'm1', leadId: 'l1' });
    await project(
      send('s1', 30, 'st1'), // executed before its definition arrives
      ev('sequence_step.defined', t, 10, { campaignId: 'c1', stepId: 'st1', stepOrder: 2, stepType: 'email' }),
      ev('sequence_step.defined', t, 5, { campaignId: 'c1', stepId: 'st1', stepOrder: 1, stepType: 'wait' }),
      send('s2', 20, 'st1'),
      send('s1', 90, 'st1'), // a second send of s1: ignored
    );
    await project(send('s3', 25, 'st1'), ev('sequence_step.defined', t, 7, { campaignId: 'c1', stepId: 'st1', stepOrder: 9, stepType: 'condition' }));
    expect(await one('campaign_sequence_steps', `tenant_id = '${t}'`, ['step_order', 'step_type', 'executed_count', 'last_executed_at'])).to.deep.equal({
      step_order: 2,
      step_type: 'email',
      executed_count: 3,
      last_executed_at: at(30),
    });

    await project(
      ev('domain.added', t, 20, { domainId: 'd1', domain: 'later.test' }),
      ev('domain.added', t, 10, { domainId: 'd1', domain: 'first.test', companyId: 'co1' }),
      ev('company.created', t, 10, { companyId: 'co1', name: 'First' }),
    );
    await project(ev('company.created', t, 10, { companyId: 'co1', name: 'Same time, later position' }), ev('company.created', t, 30, { companyId: 'co1', name: 'Later' }));
    expect(await one('domains', `tenant_id = '${t}'`, ['domain', 'company_id', 'created_at'])).to.deep.equal({
      domain: 'first.test',
      company_id: 'co1',
      created_at: at(10),
    });
    expect(await one('companies', `tenant_id = '${t}'`, ['name', 'created_at'])).to.deep.equal({ name: 'First', created_at: at(10) });
  });
});

describe('suppression_list ties broken as PostgreSQL breaks them (COLLATE "C")', () => {
  const db = useDatabase();

  it('orders email ids as the upsert does, characters above U+FFFF included', async function () {
    if (!db.url) return this.skip();
    const ids = ['', 'a', 'ab', 'b', 'é', 'eＡ', 'e😀', 'e\uE000', 'e\uFFFF', 'e𝔸', 'e\uD7FF', 'e😀x', 'eＡ😀'];
    const pool = new Pool({ connectionString: db.url, max: 1 });
    try {
      const a: string[] = [];
      const b: string[] = [];
      for (const x of ids) for (const y of ids) a.push(x), b.push(y);
      const { rows } = await pool.query<{ lt: boolean }>('SELECT x COLLATE "C" < y COLLATE "C" AS lt FROM unnest($1::text[], $2::text[]) AS u(x, y)', [a, b]);
      const wrong = rows.flatMap((r, i) => (beforeInC(a[i], b[i]) === r.lt ? [] : [`${a[i]} < ${b[i]}: PostgreSQL ${r.lt}`]));
      expect(wrong).to.deep.equal([]);
    } finally {
      await pool.end();
    }
  });
});
