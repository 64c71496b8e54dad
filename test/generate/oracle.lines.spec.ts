/**
 * Cross-checks the oracle (computed from the ground truth) against a naive fold of the
 * NDJSON lines the generator wrote, for the tables where the two paths differ most.
 */
import { expect } from 'chai';
import type { EventLine } from '../../ops/generate';
import { computeTruthTables, type Row } from '../../ops/generate/oracle';
import { generated, THOUSAND } from './workloads';

type Data = Record<string, unknown>;
const day = (iso: string): string => iso.slice(0, 10);
const get = <V>(m: Map<string, V>, k: string, make: () => V): V => {
  if (!m.has(k)) m.set(k, make());
  return m.get(k) as V;
};
const sortByKey = (rows: Row[], keys: string[]): Row[] =>
  rows.sort((a, b) => (keys.map((k) => String(a[k])).join('\u0000') < keys.map((k) => String(b[k])).join('\u0000') ? -1 : 1));

function campaignAnalyticsFromLines(lines: EventLine[]): Row[] {
  const firstSent = new Map<string, EventLine>();
  const events = new Map<string, EventLine[]>();
  for (const l of lines) {
    const emailId = (l.data as Data).emailId as string | undefined;
    if (l.type === 'email.sent' && !firstSent.has(emailId as string)) firstSent.set(emailId as string, l);
    else if (l.type.startsWith('email.') && l.type !== 'email.sent') get(events, emailId as string, () => []).push(l);
  }
  const rows = new Map<string, Row & { leads?: Set<string> }>();
  const row = (tenantId: string, campaignId: string, d: string, companyId: unknown) =>
    get(rows, `${tenantId}|${campaignId}|${d}`, () => ({
      tenant_id: tenantId, campaign_id: campaignId, day: d, company_id: companyId,
      sent: 0, delivered: 0, bounced: 0, opened_tracked: 0, human_opened: 0, clicked_tracked: 0,
      replied: 0, unsubscribed: 0, spam_complaints: 0, open_events: 0, click_events: 0, completed_leads: 0, leads: new Set<string>(),
    }));
  for (const [emailId, sent] of firstSent) {
    const d = sent.data as Data;
    if (d.campaignId === null) continue;
    const r = row(sent.tenantId, d.campaignId as string, day(sent.occurredAt), d.companyId);
    const mine = (events.get(emailId) ?? []).filter((l) => l.tenantId === sent.tenantId);
    const has = (type: string, pred: (l: EventLine) => boolean = () => true): number => (mine.some((l) => l.type === type && pred(l)) ? 1 : 0);
    const n = (type: string): number => mine.filter((l) => l.type === type).length;
    (r.sent as number) += 1;
    (r.delivered as number) += has('email.delivered');
    (r.bounced as number) += has('email.bounced');
    (r.opened_tracked as number) += has('email.opened');
    (r.human_opened as number) += has('email.opened', (l) => (l.data as Data).machine === false);
    (r.clicked_tracked as number) += has('email.clicked');
    (r.replied as number) += has('email.replied');
    (r.unsubscribed as number) += has('email.unsubscribed');
    (r.spam_complaints as number) += has('email.complained');
    (r.open_events as number) += n('email.opened');
    (r.click_events as number) += n('email.clicked');
  }
  const companyOf = new Map(lines.filter((l) => l.type === 'campaign.created').map((l) => [(l.data as Data).campaignId, (l.data as Data).companyId]));
  for (const l of lines.filter((x) => x.type === 'campaign.lead_completed')) {
    const d = l.data as Data;
    row(l.tenantId, d.campaignId as string, day(l.occurredAt), companyOf.get(d.campaignId)).leads?.add(d.leadId as string);
  }
  return sortByKey(
    [...rows.values()].map(({ leads, ...r }) => ({ ...r, completed_leads: leads?.size ?? 0 })),
    ['tenant_id', 'campaign_id', 'day'],
  );
}

function warmupAnalyticsFromLines(lines: EventLine[]): Row[] {
  const column: Record<string, string> = { opened: 'opened_tracked', clicked: 'clicked_tracked', spam_complaint: 'spam_complaints' };
  const rows = new Map<string, Row>();
  for (const l of [...lines].sort((a, b) => a.occurredAt.localeCompare(b.occurredAt))) {
    if (!['warmup.email_sent', 'warmup.interaction', 'warmup.progressed'].includes(l.type)) continue;
    const d = l.data as Data;
    const r = get(rows, `${l.tenantId}|${d.mailboxId}|${day(l.occurredAt)}`, () => ({
      tenant_id: l.tenantId, mailbox_id: d.mailboxId, day: day(l.occurredAt),
      sent: 0, delivered: 0, opened_tracked: 0, clicked_tracked: 0, replied: 0, bounced: 0, unsubscribed: 0, spam_complaints: 0,
      health_score: null, progress_percentage: null,
    }));
    if (l.type === 'warmup.email_sent') (r.sent as number)++;
    else if (l.type === 'warmup.interaction') (r[column[d.kind as string] ?? (d.kind as string)] as number)++;
    else Object.assign(r, { health_score: d.healthScore, progress_percentage: d.progressPercentage });
  }
  // Every day with one of these events has its row (a progress-only day too, counters zero).
  return sortByKey([...rows.values()], ['tenant_id', 'mailbox_id', 'day']);
}

describe('oracle: agrees with a naive fold of the NDJSON lines', () => {
  const { lines, truth } = generated(THOUSAND);
  const stored = [...new Map(lines.map((l) => [l.id, l])).values()];
  const tables = computeTruthTables(truth);

  it('campaign_analytics', () => {
    expect(tables.campaign_analytics.length).to.be.greaterThan(50);
    expect(campaignAnalyticsFromLines(stored)).to.deep.equal(tables.campaign_analytics);
  });

  it('warmup_analytics', () => {
    expect(tables.warmup_analytics.length).to.be.greaterThan(50);
    expect(warmupAnalyticsFromLines(stored)).to.deep.equal(tables.warmup_analytics);
  });
});
