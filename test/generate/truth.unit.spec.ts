import { expect } from 'chai';
import { ANOMALY_KINDS, type EventLine } from '../../ops/generate';
import { generated, THOUSAND } from './workloads';

/** The lines once each (retried duplicates dropped), as the store keeps them. */
const unique = (lines: EventLine[]): EventLine[] => [...new Map(lines.map((l) => [l.id, l])).values()];
const count = (lines: EventLine[], type: string): number => lines.filter((l) => l.type === type).length;

describe('generateWorkload ground truth', () => {
  const { lines, truth } = generated(THOUSAND);
  const stored = unique(lines);
  const byId = new Map(stored.map((l) => [l.id, l]));

  it('counts the lines it wrote and knows which were retried', () => {
    expect(truth.lines).to.equal(lines.length);
    expect(truth.retriedEventIds.length).to.equal(lines.length - stored.length);
    expect(new Set(truth.retriedEventIds).size).to.equal(truth.retriedEventIds.length);
  });

  it('records each email with the context and time of its first email.sent line', () => {
    expect(truth.emails).to.have.length(1000);
    const firstSent = new Map<unknown, EventLine>();
    for (const l of lines) if (l.type === 'email.sent' && !firstSent.has(l.data.emailId)) firstSent.set(l.data.emailId, l);
    for (const email of truth.emails) {
      const line = firstSent.get(email.emailId) as EventLine;
      expect(line.id).to.equal(email.sentEventId);
      expect(line.tenantId).to.equal(email.tenantId);
      expect(Date.parse(line.occurredAt)).to.equal(email.sentAt);
      const { campaignId, stepId, mailboxId, leadId, companyId, messageId } = email;
      expect(line.data).to.deep.equal({ emailId: email.emailId, messageId, campaignId, stepId, mailboxId, leadId, companyId });
    }
  });

  it('accounts for every email line: the first send, a counted fact, or an ignored line', () => {
    const accounted = new Map<string, { type: string; at: number; tenantId: string }>();
    for (const email of truth.emails) {
      accounted.set(email.sentEventId, { type: 'email.sent', at: email.sentAt, tenantId: email.tenantId });
      for (const f of email.events) accounted.set(f.id, { type: f.type, at: f.at, tenantId: email.tenantId });
      for (const f of email.ignored) accounted.set(f.id, { type: f.type, at: f.at, tenantId: f.tenantId });
      expect(email.events.map((f) => f.at)).to.deep.equal(email.events.map((f) => f.at).sort((a, b) => a - b));
    }
    const emailLines = stored.filter((l) => l.type.startsWith('email.'));
    expect(accounted.size).to.equal(emailLines.length);
    for (const line of emailLines) {
      expect(accounted.get(line.id), line.id).to.deep.equal({ type: line.type, at: Date.parse(line.occurredAt), tenantId: line.tenantId });
    }
  });

  it('keeps the facts the analytics need on counted events', () => {
    for (const f of truth.emails.flatMap((e) => e.events)) {
      const data = (byId.get(f.id) as EventLine).data;
      if (f.type === 'email.opened') expect(f.machine).to.equal(data.machine);
      if (f.type === 'email.delivered') expect(f.deliveryMs).to.equal(data.deliveryMs);
      if (f.type === 'email.bounced') expect(f.bounceType).to.equal(data.bounceType);
      if (f.type === 'email.clicked') expect(f.url).to.equal(data.url);
    }
  });

  it('tags every anomaly kind on the emails it touches', () => {
    const tagged = new Set(truth.emails.flatMap((e) => e.anomalies));
    expect([...tagged].sort()).to.deep.equal([...ANOMALY_KINDS].sort());
    const ignoredFor = (reason: string): number => truth.emails.filter((e) => e.ignored.some((f) => f.reason === reason)).length;
    expect(ignoredFor('duplicate_send')).to.equal(truth.emails.filter((e) => e.anomalies.includes('duplicate_send')).length);
    expect(ignoredFor('foreign_tenant')).to.equal(truth.emails.filter((e) => e.anomalies.includes('foreign_tenant')).length);
    for (const email of truth.emails) {
      for (const f of email.ignored.filter((i) => i.reason === 'foreign_tenant')) expect(f.tenantId).to.not.equal(email.tenantId);
    }
  });

  it('records the world: tenants, subscriptions, mailboxes, warm-up, campaigns and leads as written', () => {
    expect(truth.tenants.length).to.equal(count(stored, 'tenant.created'));
    expect(truth.tenants.filter((t) => t.subscription).length).to.equal(count(stored, 'subscription.started'));
    expect(truth.tenants.flatMap((t) => t.subscription?.changes ?? []).length).to.equal(count(stored, 'subscription.changed'));
    expect(truth.tenants.flatMap((t) => t.adminActions).length).to.equal(count(stored, 'admin.action'));
    expect(truth.mailboxes.length).to.equal(count(stored, 'mailbox.created'));
    expect(truth.mailboxes.flatMap((m) => m.statuses).length).to.equal(count(stored, 'mailbox.status_changed'));
    const warmups = truth.mailboxes.flatMap((m) => (m.warmup ? [m.warmup] : []));
    expect(warmups.length).to.equal(count(stored, 'warmup.started'));
    expect(warmups.filter((w) => w.stoppedAt !== null).length).to.equal(count(stored, 'warmup.stopped'));
    for (const type of ['warmup.email_sent', 'warmup.interaction', 'warmup.progressed']) {
      expect(warmups.flatMap((w) => w.events).filter((f) => f.type === type).length, type).to.equal(count(stored, type));
    }
    expect(truth.campaigns.flatMap((c) => c.statuses).length).to.equal(count(stored, 'campaign.status_changed'));
    expect(truth.campaigns.flatMap((c) => c.steps).length).to.equal(count(stored, 'sequence_step.defined'));
    expect(truth.leads.length).to.equal(count(stored, 'lead.imported'));
    expect(truth.leads.filter((l) => l.erasedAt !== null).length).to.equal(count(stored, 'lead.erased'));
    expect(truth.leads.flatMap((l) => l.completions).length).to.equal(count(stored, 'campaign.lead_completed'));
  });

  it('gives gauge events of one stream distinct times, so time alone orders them', () => {
    for (const m of truth.mailboxes) {
      const progress = (m.warmup?.events ?? []).filter((f) => f.type === 'warmup.progressed').map((f) => f.at);
      expect(new Set(progress).size).to.equal(progress.length);
      expect(new Set(m.statuses.map((s) => s.at)).size).to.equal(m.statuses.length);
    }
    for (const c of truth.campaigns) expect(new Set(c.statuses.map((s) => s.at)).size).to.equal(c.statuses.length);
  });

  it('sets the window it generated in', () => {
    expect(truth.window).to.deep.equal({
      startMs: Date.parse('2026-03-01T00:00:00Z'),
      endMs: Date.parse('2026-03-31T00:00:00Z'),
      lateEndMs: Date.parse('2026-04-10T00:00:00Z'),
      days: 30,
    });
  });
});
