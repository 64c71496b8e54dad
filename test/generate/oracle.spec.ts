import { expect } from 'chai';
import { computeTruthTables, type Row } from '../../ops/generate/oracle';
import { TruthBuilder } from './oracleTruth';

const only = (rows: Row[], where: Row): Row[] => rows.filter((r) => Object.entries(where).every(([k, v]) => r[k] === v));
const pick = (row: Row | undefined, cols: string[]): Row => Object.fromEntries(cols.map((c) => [c, row?.[c]]));

describe('oracle: counting rules (DESIGN §5)', () => {
  it('counts a late open on the cohort day, and in the hour it happened', () => {
    const b = new TruthBuilder();
    const t = b.tenant('t1');
    const m = b.mailbox(t, 'mb1');
    const c = b.campaign(t, 'c1', [m]);
    b.email({ mailbox: m, campaign: c, leadId: 'l1', sentAt: '2026-03-31T18:00:00Z' }, [
      ['email.delivered', '2026-03-31T18:00:02Z', { deliveryMs: 2000 }],
      ['email.opened', '2026-04-06T09:15:00Z', { machine: false }],
    ]);
    const tables = computeTruthTables(b.truth);
    const cols = ['day', 'sent', 'delivered', 'opened_tracked', 'human_opened', 'open_events'];
    expect(tables.campaign_analytics.map((r) => pick(r, cols))).to.deep.equal([
      { day: '2026-03-31', sent: 1, delivered: 1, opened_tracked: 1, human_opened: 1, open_events: 1 },
    ]);
    expect(tables.sequence_step_analytics.map((r) => [r.step_id, r.day, r.opened_tracked])).to.deep.equal([['c1-s1', '2026-03-31', 1]]);
    expect(tables.mailbox_analytics.map((r) => [r.day, r.opened_tracked, r.current_volume])).to.deep.equal([['2026-03-31', 1, 1]]);
    expect(tables.daily_analytics.map((r) => [r.day, r.emails_opened])).to.deep.equal([['2026-03-31', 1]]);
    const hourly = tables.analytics_hourly.map((r) => [r.hour, r.messages_sent, r.messages_opened, r.unique_opens]);
    expect(hourly).to.deep.equal([
      ['2026-03-31T18:00:00.000Z', 1, 0, 0],
      ['2026-04-06T09:00:00.000Z', 0, 1, 1],
    ]);
  });

  it('ignores a second email.sent and another tenant’s open everywhere', () => {
    const b = new TruthBuilder();
    const t1 = b.tenant('t1');
    const t2 = b.tenant('t2');
    const m1 = b.mailbox(t1, 'mb1');
    const m2 = b.mailbox(t1, 'mb2');
    b.mailbox(t2, 'mb-other');
    const c = b.campaign(t1, 'c1', [m1, m2]);
    b.email(
      { mailbox: m1, campaign: c, leadId: 'l1', sentAt: '2026-03-10T10:00:00Z' },
      [['email.delivered', '2026-03-10T10:00:01Z']],
      [
        { type: 'email.sent', at: '2026-03-11T12:00:00Z', tenantId: 't1', reason: 'duplicate_send' },
        { type: 'email.opened', at: '2026-03-10T11:00:00Z', tenantId: 't2', reason: 'foreign_tenant' },
      ],
    );
    const tables = computeTruthTables(b.truth);
    for (const [name, rows] of Object.entries(tables)) {
      expect(rows.filter((r) => r.tenant_id === 't2'), name).to.deep.equal([]);
    }
    expect(tables.mailbox_analytics.map((r) => [r.mailbox_id, r.day, r.sent])).to.deep.equal([['mb1', '2026-03-10', 1]]);
    expect(tables.campaign_analytics.map((r) => [r.day, r.sent, r.opened_tracked, r.open_events])).to.deep.equal([['2026-03-10', 1, 0, 0]]);
    expect(tables.emails.map((r) => [r.sent_at, r.status, r.open_count])).to.deep.equal([['2026-03-10T10:00:00.000Z', 'delivered', 0]]);
    expect(tables.analytics_hourly.map((r) => [r.hour, r.messages_sent, r.messages_opened])).to.deep.equal([['2026-03-10T10:00:00.000Z', 1, 0]]);
    const [bill] = tables.billing_analytics;
    expect(pick(bill, ['emails_sent', 'mailboxes_used'])).to.deep.equal({ emails_sent: 1, mailboxes_used: 1 });
  });

  it('counts machine opens as tracked but not human, and open events one by one', () => {
    const b = new TruthBuilder();
    const t = b.tenant('t1');
    const m = b.mailbox(t, 'mb1');
    const c = b.campaign(t, 'c1', [m]);
    const ctx = { mailbox: m, campaign: c, sentAt: '2026-03-10T10:00:00Z' };
    b.email({ ...ctx, leadId: 'l1' }, [['email.opened', '2026-03-10T10:01:00Z', { machine: true }]]);
    b.email({ ...ctx, leadId: 'l2' }, [
      ['email.opened', '2026-03-10T10:01:00Z', { machine: true }],
      ['email.opened', '2026-03-10T12:00:00Z', { machine: false }],
      ['email.clicked', '2026-03-10T12:01:00Z', { url: 'https://x.test' }],
      ['email.clicked', '2026-03-10T12:02:00Z', { url: 'https://x.test' }],
    ]);
    b.email({ ...ctx, leadId: 'l3' });
    const tables = computeTruthTables(b.truth);
    const cols = ['sent', 'opened_tracked', 'human_opened', 'open_events', 'clicked_tracked', 'click_events'];
    expect(pick(tables.campaign_analytics[0], cols)).to.deep.equal({ sent: 3, opened_tracked: 2, human_opened: 1, open_events: 3, clicked_tracked: 1, click_events: 2 });
    expect(tables.daily_analytics.map((r) => [r.emails_sent, r.emails_opened, r.emails_clicked])).to.deep.equal([[3, 2, 1]]);
    const hourly = tables.analytics_hourly.map((r) => [String(r.hour).slice(11, 13), r.messages_opened, r.unique_opens, r.messages_clicked, r.unique_clicks]);
    expect(hourly).to.deep.equal([
      ['10', 2, 2, 0, 0],
      ['12', 1, 0, 2, 1],
    ]);
    expect(tables.emails.map((r) => [r.lead_id, r.open_count, r.click_count, r.first_opened_at])).to.deep.equal([
      ['l1', 1, 0, '2026-03-10T10:01:00.000Z'],
      ['l2', 2, 2, '2026-03-10T10:01:00.000Z'],
      ['l3', 0, 0, null],
    ]);
  });

  it('gives emails their status by precedence and earliest timestamps', () => {
    const b = new TruthBuilder();
    const t = b.tenant('t1');
    const m = b.mailbox(t, 'mb1');
    const ctx = { mailbox: m, leadId: 'l1', sentAt: '2026-03-10T10:00:00Z' };
    b.email(ctx, [
      ['email.delivered', '2026-03-10T10:00:01Z'],
      ['email.replied', '2026-03-10T11:00:00Z'],
      ['email.clicked', '2026-03-10T12:00:00Z'],
      ['email.opened', '2026-03-10T13:00:00Z'],
    ]);
    b.email(ctx, [['email.bounced', '2026-03-10T10:00:05Z', { bounceType: 'soft' }], ['email.bounced', '2026-03-10T11:00:05Z', { bounceType: 'hard' }], ['email.opened', '2026-03-12T10:00:00Z', { machine: true }]]);
    b.email(ctx, [['email.failed', '2026-03-10T10:00:03Z'], ['email.delivered', '2026-03-10T10:00:04Z']]);
    b.email(ctx, [['email.delivered', '2026-03-10T10:00:04Z'], ['email.unsubscribed', '2026-03-10T10:30:00Z'], ['email.complained', '2026-03-10T10:40:00Z']]);
    b.email(ctx);
    const rows = computeTruthTables(b.truth).emails;
    expect(rows.map((r) => r.status)).to.deep.equal(['replied', 'opened', 'failed', 'delivered', 'sent']);
    expect(pick(rows[1], ['bounced_at', 'bounce_type', 'first_opened_at'])).to.deep.equal({
      bounced_at: '2026-03-10T10:00:05.000Z',
      bounce_type: 'soft',
      first_opened_at: '2026-03-12T10:00:00.000Z',
    });
    expect(pick(rows[3], ['unsubscribed_at', 'complained_at', 'replied_at'])).to.deep.equal({
      unsubscribed_at: '2026-03-10T10:30:00.000Z',
      complained_at: '2026-03-10T10:40:00.000Z',
      replied_at: null,
    });
    expect(rows.map((r) => r.campaign_id)).to.deep.equal([null, null, null, null, null]);
  });

  it('gives leads their status by precedence, per campaign over all time', () => {
    const b = new TruthBuilder();
    const t = b.tenant('t1');
    const m = b.mailbox(t, 'mb1');
    const c = b.campaign(t, 'c1', [m]);
    const c2 = b.campaign(t, 'c2', [m]);
    const send = (leadId: string, facts: Parameters<TruthBuilder['email']>[1], campaign = c, day = '10') =>
      b.email({ mailbox: m, campaign, leadId, sentAt: `2026-03-${day}T10:00:00Z` }, facts);
    send('a', [['email.replied', '2026-03-10T11:00:00Z']]);
    send('a', [['email.complained', '2026-03-20T11:00:00Z']], c, '14');
    send('b', [['email.bounced', '2026-03-10T10:00:01Z', { bounceType: 'hard' }], ['email.unsubscribed', '2026-03-11T10:00:00Z']]);
    send('c', [['email.bounced', '2026-03-10T10:00:01Z', { bounceType: 'hard' }], ['email.replied', '2026-03-11T10:00:00Z']]);
    send('d', [['email.bounced', '2026-03-10T10:00:01Z', { bounceType: 'soft' }]]);
    send('e', [['email.replied', '2026-03-10T11:00:00Z']]);
    send('e', [], c2);
    b.email({ mailbox: m, leadId: 'e', sentAt: '2026-03-10T10:00:00Z' });
    const rows = computeTruthTables(b.truth).lead_analytics;
    expect(rows.map((r) => [r.lead_id, r.campaign_id, r.status, r.sent, r.bounced])).to.deep.equal([
      ['a', 'c1', 'complained', 2, 0],
      ['b', 'c1', 'unsubscribed', 1, 1],
      ['c', 'c1', 'bounced', 1, 1],
      ['d', 'c1', 'active', 1, 1],
      ['e', '', 'active', 1, 0],
      ['e', 'c1', 'replied', 1, 0],
      ['e', 'c2', 'active', 1, 0],
    ]);
  });

  it('counts distinct completed leads per campaign and completion day', () => {
    const b = new TruthBuilder();
    const t = b.tenant('t1');
    const m = b.mailbox(t, 'mb1');
    const c = b.campaign(t, 'c1', [m]);
    b.email({ mailbox: m, campaign: c, leadId: 'l1', sentAt: '2026-03-10T10:00:00Z' });
    b.complete(t, 'l1', 'c1', '2026-03-10T20:00:00Z');
    b.complete(t, 'l2', 'c1', '2026-03-12T08:00:00Z');
    b.complete(t, 'l3', 'c1', '2026-03-12T09:00:00Z');
    b.complete(t, 'l3', 'c1', '2026-03-12T10:00:00Z');
    const rows = computeTruthTables(b.truth).campaign_analytics;
    expect(rows.map((r) => [r.day, r.sent, r.completed_leads, r.company_id])).to.deep.equal([
      ['2026-03-10', 1, 1, 'co-t1'],
      ['2026-03-12', 0, 2, 'co-t1'],
    ]);
  });
});
