import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { generateWorkload, WorkloadTruth } from '../../ops/generate';
import { computeTruthTables, TRUTH_TABLE_COLUMNS, type Row } from '../../ops/generate/oracle';
import { writeTruthTables } from '../../ops/generate/oracle/write';
import { at, TruthBuilder } from './oracleTruth';

const rowsOf = (rows: Row[], cols: string[]): unknown[][] => rows.map((r) => cols.map((c) => r[c]));

describe('oracle: mailboxes, warm-up and hours', () => {
  const b = new TruthBuilder();
  const t = b.tenant('t1');
  const m = b.mailbox(t, 'mb1', {
    warmup: {
      startedAt: '2026-03-10T00:30:00Z',
      stoppedAt: '2026-03-12T12:00:00Z',
      events: [
        { type: 'warmup.email_sent', at: at('2026-03-10T08:00:00Z') },
        { type: 'warmup.interaction', at: at('2026-03-10T09:00:00Z'), kind: 'opened' },
        { type: 'warmup.progressed', at: at('2026-03-10T23:30:00Z'), healthScore: 55, progressPercentage: 20 },
        { type: 'warmup.email_sent', at: at('2026-03-11T08:00:00Z') },
        { type: 'warmup.interaction', at: at('2026-03-11T09:00:00Z'), kind: 'spam_complaint' },
        { type: 'warmup.progressed', at: at('2026-03-11T23:30:00Z'), healthScore: 60, progressPercentage: 30 },
        { type: 'warmup.email_sent', at: at('2026-03-12T08:00:00Z') },
        { type: 'warmup.interaction', at: at('2026-03-13T09:00:00Z'), kind: 'replied' },
        { type: 'warmup.progressed', at: at('2026-03-14T23:30:00Z'), healthScore: 61, progressPercentage: 31 },
      ],
    },
  });
  const ctx = { mailbox: m, leadId: 'l1', sentAt: '2026-03-11T10:00:00Z' };
  b.email(ctx, [['email.delivered', '2026-03-11T10:00:01Z', { deliveryMs: 1000 }]]);
  b.email(ctx, [['email.delivered', '2026-03-11T10:20:01Z', { deliveryMs: 1001 }]]);
  b.email(ctx, [['email.delivered', '2026-03-11T10:30:00Z']]);
  b.email(ctx, [['email.failed', '2026-03-11T10:40:00Z']]);
  b.email(ctx, [['email.delivered', '2026-03-11T11:00:00Z']]);
  const tables = computeTruthTables(b.truth);

  it('adds warm-up sends to the volume, takes the day’s latest gauges (status from start and stop), and makes a row for a gauge day', () => {
    const cols = ['day', 'sent', 'delivered', 'current_volume', 'warmup_status', 'health_score'];
    expect(rowsOf(tables.mailbox_analytics, cols)).to.deep.equal([
      ['2026-03-10', 0, 0, 1, 'active', 55],
      ['2026-03-11', 5, 4, 6, null, 60],
      ['2026-03-12', 0, 0, 1, 'stopped', null],
      ['2026-03-14', 0, 0, 0, null, 61],
    ]);
  });

  it('counts warm-up sends and interactions by event day, gauges from warmup.progressed (a day of its own too)', () => {
    const cols = ['day', 'sent', 'opened_tracked', 'spam_complaints', 'replied', 'health_score', 'progress_percentage'];
    expect(rowsOf(tables.warmup_analytics, cols)).to.deep.equal([
      ['2026-03-10', 1, 1, 0, 0, 55, 20],
      ['2026-03-11', 1, 0, 1, 0, 60, 30],
      ['2026-03-12', 1, 0, 0, 0, null, null],
      ['2026-03-13', 0, 0, 0, 1, null, null],
      ['2026-03-14', 0, 0, 0, 0, 61, 31],
    ]);
  });

  it('averages delivery times per hour, rounded, NULL without any', () => {
    const cols = ['hour', 'messages_sent', 'messages_delivered', 'messages_failed', 'avg_delivery_ms'];
    expect(rowsOf(tables.analytics_hourly, cols)).to.deep.equal([
      ['2026-03-11T10:00:00.000Z', 5, 3, 1, 1001],
      ['2026-03-11T11:00:00.000Z', 0, 1, 0, null],
    ]);
  });

  it('keys one-off emails in daily_analytics under campaign_id \'\'', () => {
    expect(rowsOf(tables.daily_analytics, ['campaign_id', 'mailbox_id', 'day', 'emails_sent'])).to.deep.equal([['', 'mb1', '2026-03-11', 5]]);
    expect(tables.campaign_analytics).to.deep.equal([]);
    expect(tables.sequence_step_analytics).to.deep.equal([]);
  });
});

describe('oracle: a generated workload', () => {
  const truth = new WorkloadTruth();
  for (const _ of generateWorkload({ seed: 'oracle', tenants: 3, emails: 400, start: '2026-01-20', days: 20 }, truth));
  const tables = computeTruthTables(truth);
  const keys: Record<string, string[]> = {
    campaign_analytics: ['tenant_id', 'campaign_id', 'day'],
    sequence_step_analytics: ['tenant_id', 'step_id', 'day'],
    mailbox_analytics: ['tenant_id', 'mailbox_id', 'day'],
    lead_analytics: ['tenant_id', 'lead_id', 'campaign_id'],
    warmup_analytics: ['tenant_id', 'mailbox_id', 'day'],
    daily_analytics: ['tenant_id', 'campaign_id', 'mailbox_id', 'day'],
    analytics_hourly: ['tenant_id', 'hour'],
    emails: ['tenant_id', 'email_id'],
    billing_analytics: ['tenant_id', 'period_start'],
  };

  it('has every table with exactly its documented columns, keys unique and sorted', () => {
    expect(Object.keys(tables)).to.deep.equal(Object.keys(TRUTH_TABLE_COLUMNS));
    for (const [name, rows] of Object.entries(tables)) {
      expect(rows.length, name).to.be.greaterThan(0);
      for (const r of rows) expect(Object.keys(r), name).to.deep.equal(TRUTH_TABLE_COLUMNS[name]);
      const k = rows.map((r) => JSON.stringify(keys[name].map((c) => r[c])));
      expect(new Set(k).size, name).to.equal(rows.length);
      expect(k, name).to.deep.equal([...k].sort());
    }
  });

  it('has no row whose counters are all zero, but for a gauge day', () => {
    const gauges = new Set(['health_score', 'progress_percentage', 'avg_delivery_ms', 'warmup_status']);
    let gaugeDays = 0;
    for (const [name, rows] of Object.entries(tables)) {
      if (name === 'emails') continue;
      for (const r of rows) {
        const counters = Object.entries(r).filter(([c, v]) => typeof v === 'number' && !gauges.has(c));
        if (counters.some(([, v]) => (v as number) > 0)) continue;
        // Only mailbox days hold gauges, and such a row holds one.
        expect(['mailbox_analytics', 'warmup_analytics'], `${name} ${JSON.stringify(r)}`).to.include(name);
        expect([r.warmup_status, r.health_score].some((v) => v !== null && v !== undefined), `${name} ${JSON.stringify(r)}`).to.equal(true);
        gaugeDays++;
      }
    }
    expect(gaugeDays, 'gauge-only days in the workload').to.be.greaterThan(0);
  });

  it('adds up to the emails of the truth in every per-email table', () => {
    const sum = (rows: Row[], c: string): number => rows.reduce((s, r) => s + (r[c] as number), 0);
    const inCampaigns = truth.emails.filter((e) => e.campaignId !== null).length;
    expect(tables.emails).to.have.length(400);
    expect(sum(tables.campaign_analytics, 'sent')).to.equal(inCampaigns);
    expect(sum(tables.sequence_step_analytics, 'sent')).to.equal(inCampaigns);
    expect(sum(tables.mailbox_analytics, 'sent')).to.equal(400);
    expect(sum(tables.lead_analytics, 'sent')).to.equal(400);
    expect(sum(tables.daily_analytics, 'emails_sent')).to.equal(400);
    expect(sum(tables.analytics_hourly, 'messages_sent')).to.equal(400);
    expect(sum(tables.billing_analytics, 'emails_sent')).to.equal(400);
    const opens = truth.emails.flatMap((e) => e.events).filter((f) => f.type === 'email.opened').length;
    const inCampaignOpens = truth.emails.filter((e) => e.campaignId !== null).flatMap((e) => e.events).filter((f) => f.type === 'email.opened').length;
    expect(sum(tables.campaign_analytics, 'open_events')).to.equal(inCampaignOpens);
    expect(sum(tables.mailbox_analytics, 'open_events')).to.equal(opens);
    expect(sum(tables.analytics_hourly, 'messages_opened')).to.equal(opens);
  });

  it('writes the same tables as NDJSON {table, row} lines', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const { rows } = await writeTruthTables(truth, out);
    const lines = Buffer.concat(chunks).toString('utf8').trimEnd().split('\n');
    expect(lines).to.have.length(rows);
    const back: Record<string, Row[]> = Object.fromEntries(Object.keys(tables).map((n) => [n, [] as Row[]]));
    for (const line of lines) {
      const { table, row } = JSON.parse(line) as { table: string; row: Row };
      back[table].push(row);
    }
    expect(back).to.deep.equal(tables);
  });
});
