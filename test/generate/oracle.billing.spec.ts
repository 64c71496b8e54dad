import { expect } from 'chai';
import { computeTruthTables, type Row } from '../../ops/generate/oracle';
import { at, TruthBuilder } from './oracleTruth';

const COLS = ['period_start', 'period_end', 'subscription_id', 'emails_sent', 'mailboxes_used', 'domains_used', 'campaigns_used', 'leads_used', 'warmups_active'];
const rowsOf = (rows: Row[], tenantId: string): unknown[][] => rows.filter((r) => r.tenant_id === tenantId).map((r) => COLS.map((c) => r[c]));

describe('oracle: billing_analytics (DESIGN §6)', () => {
  it('runs periods from the subscription anchor day, calendar months without one', () => {
    const b = new TruthBuilder();
    const anchored = b.tenant('t-anchor', { anchor: 15, startedAt: '2026-03-01T00:10:00Z' });
    const calendar = b.tenant('t-calendar');
    const ma = b.mailbox(anchored, 'mba');
    const mc = b.mailbox(calendar, 'mbc');
    for (const sentAt of ['2026-03-14T23:59:59.999Z', '2026-03-15T00:00:00Z', '2026-04-14T10:00:00Z']) b.email({ mailbox: ma, leadId: 'l1', sentAt });
    for (const sentAt of ['2026-03-14T10:00:00Z', '2026-03-31T23:59:59Z', '2026-04-01T00:00:00Z']) b.email({ mailbox: mc, leadId: 'l1', sentAt });
    const rows = computeTruthTables(b.truth).billing_analytics;
    expect(rowsOf(rows, 't-anchor')).to.deep.equal([
      ['2026-02-15', '2026-03-15', 'sub-t-anchor', 1, 1, 1, 0, 1, 0],
      ['2026-03-15', '2026-04-15', 'sub-t-anchor', 2, 1, 1, 0, 1, 0],
    ]);
    expect(rowsOf(rows, 't-calendar')).to.deep.equal([
      ['2026-03-01', '2026-04-01', null, 2, 1, 1, 0, 1, 0],
      ['2026-04-01', '2026-05-01', null, 1, 1, 1, 0, 1, 0],
    ]);
  });

  it('counts a warm-up active in every period it spans, not the one it stopped at the start of', () => {
    const b = new TruthBuilder();
    const t = b.tenant('t1');
    b.mailbox(t, 'w1', { warmup: { startedAt: '2026-01-20T00:00:00Z', stoppedAt: '2026-03-01T00:00:00Z' } });
    b.mailbox(t, 'w2', { warmup: { startedAt: '2026-02-10T00:00:00Z' } });
    const m3 = b.mailbox(t, 'm3');
    b.email({ mailbox: m3, leadId: 'l1', sentAt: '2026-04-03T10:00:00Z' });
    const rows = computeTruthTables(b.truth).billing_analytics;
    expect(rowsOf(rows, 't1').map((r) => [r[0], r[3], r[8]])).to.deep.equal([
      ['2026-01-01', 0, 1],
      ['2026-02-01', 0, 2],
      ['2026-03-01', 0, 1],
      ['2026-04-01', 1, 1],
    ]);
  });

  it('counts distinct mailboxes, domains, campaigns and leads of first sends and warm-up sends', () => {
    const b = new TruthBuilder();
    const t = b.tenant('t1', { anchor: 1, startedAt: '2026-03-01T00:00:00Z' });
    const mb1 = b.mailbox(t, 'mb1', { domainId: 'dom-a' });
    const mb2 = b.mailbox(t, 'mb2', { domainId: 'dom-a' });
    const mb3 = b.mailbox(t, 'mb3', { domainId: 'dom-b' });
    b.mailbox(t, 'mb4', {
      domainId: 'dom-c',
      warmup: { startedAt: '2026-03-02T00:00:00Z', stoppedAt: '2026-03-20T00:00:00Z', events: [{ type: 'warmup.email_sent', at: at('2026-03-03T08:00:00Z') }] },
    });
    b.mailbox(t, 'mb5', { domainId: 'dom-d' });
    const c1 = b.campaign(t, 'c1', [mb1]);
    const c2 = b.campaign(t, 'c2', [mb2]);
    for (const d of ['05', '06', '07']) b.email({ mailbox: mb1, campaign: c1, leadId: 'l1', sentAt: `2026-03-${d}T10:00:00Z` });
    b.email({ mailbox: mb2, campaign: c2, leadId: 'l2', sentAt: '2026-03-05T10:00:00Z' });
    b.email({ mailbox: mb3, leadId: 'l1', sentAt: '2026-03-05T10:00:00Z' }, [], [
      { type: 'email.sent', at: '2026-04-02T10:00:00Z', tenantId: 't1', reason: 'duplicate_send' },
    ]);
    const rows = computeTruthTables(b.truth).billing_analytics;
    expect(rowsOf(rows, 't1')).to.deep.equal([['2026-03-01', '2026-04-01', 'sub-t1', 5, 4, 3, 2, 2, 1]]);
  });

  it('clamps an anchor past a month’s end to its last day', () => {
    const b = new TruthBuilder();
    const t = b.tenant('t1', { anchor: 31, startedAt: '2026-01-01T00:00:00Z' });
    const m = b.mailbox(t, 'mb1');
    b.email({ mailbox: m, leadId: 'l1', sentAt: '2026-03-01T10:00:00Z' });
    const rows = computeTruthTables(b.truth).billing_analytics;
    expect(rowsOf(rows, 't1').map((r) => [r[0], r[1]])).to.deep.equal([['2026-02-28', '2026-03-31']]);
  });
});
