import { expect } from 'chai';
import type { WorkloadOptions } from '../../ops/generate';
import { generated, THOUSAND } from './workloads';

const DAY = 86_400_000;

/** Finds each anomaly kind in NDJSON lines as a projection would meet it, without the generator's truth. */
function findAnomalies(text: string[]): Record<string, number> {
  const found: Record<string, number> = {
    late_open: 0,
    machine_open: 0,
    retried_duplicate: 0,
    out_of_order: 0,
    before_sent: 0,
    duplicate_send: 0,
    foreign_tenant: 0,
  };
  const seen = new Set<string>();
  const first = new Map<string, { tenantId: string; at: number }>();
  const lastAt = new Map<string, number>();
  const early: Array<{ emailId: string; tenantId: string }> = [];
  for (const raw of text) {
    const line = JSON.parse(raw) as { id: string; type: string; tenantId: string; occurredAt: string; data: Record<string, unknown> };
    if (seen.has(line.id)) {
      found.retried_duplicate++;
      continue;
    }
    seen.add(line.id);
    if (!line.type.startsWith('email.')) continue;
    const emailId = line.data.emailId as string;
    const at = Date.parse(line.occurredAt);
    if ((lastAt.get(emailId) ?? -Infinity) > at) found.out_of_order++;
    lastAt.set(emailId, Math.max(at, lastAt.get(emailId) ?? -Infinity));
    const sent = first.get(emailId);
    if (line.type === 'email.sent') {
      if (sent) found.duplicate_send++;
      else first.set(emailId, { tenantId: line.tenantId, at });
      continue;
    }
    if (!sent) {
      if (line.type === 'email.opened' || line.type === 'email.clicked') early.push({ emailId, tenantId: line.tenantId });
      continue;
    }
    if (sent.tenantId !== line.tenantId) found.foreign_tenant++;
    if (line.type === 'email.opened' && line.data.machine === true) found.machine_open++;
    if (line.type === 'email.opened' && at - sent.at > 2 * DAY) found.late_open++;
  }
  for (const { emailId, tenantId } of early) {
    if (first.get(emailId)?.tenantId === tenantId) found.before_sent++;
    else found.foreign_tenant++;
  }
  return found;
}

describe('generateWorkload anomalies', () => {
  it('puts every anomaly kind in a 1,000-email workload, at small rates', () => {
    const { text } = generated(THOUSAND);
    const found = findAnomalies(text);
    for (const [kind, count] of Object.entries(found)) expect(count, kind).to.be.above(0);
    expect(found.retried_duplicate / text.length).to.be.below(0.01);
    expect(found.duplicate_send).to.be.below(20);
    expect(found.foreign_tenant).to.be.below(20);
  });

  it('puts at least one of each in every workload of 200 emails, whatever the seed or shape', () => {
    const shapes: WorkloadOptions[] = [
      { seed: 1, tenants: 1, emails: 200, start: '2026-02-27', days: 1 },
      { seed: 2, tenants: 3, emails: 200, start: '2026-12-30', days: 3 },
      { seed: 'x', tenants: 50, emails: 200, start: '2026-06-01', days: 60 },
    ];
    for (const opts of shapes) {
      const found = findAnomalies(generated(opts).text);
      for (const [kind, count] of Object.entries(found)) expect(count, `${kind} in ${JSON.stringify(opts)}`).to.be.above(0);
    }
  });

  it('writes a second email.sent only after the first, later and with its own id', () => {
    const { lines } = generated(THOUSAND);
    const firstSend = new Map<unknown, { id: string; at: string }>();
    let repeats = 0;
    for (const line of lines) {
      if (line.type !== 'email.sent') continue;
      const first = firstSend.get(line.data.emailId);
      if (!first) firstSend.set(line.data.emailId, { id: line.id, at: line.occurredAt });
      else if (first.id !== line.id) {
        expect(line.occurredAt > first.at).to.equal(true);
        repeats++;
      }
    }
    expect(repeats).to.be.above(0);
  });

  it('lets some late opens land in a later month than their send', () => {
    const { truth } = generated(THOUSAND);
    const month = (ms: number): string => new Date(ms).toISOString().slice(0, 7);
    const crossing = truth.emails.filter((e) => e.events.some((f) => f.type === 'email.opened' && month(f.at) !== month(e.sentAt)));
    expect(crossing.length).to.be.above(0);
  });
});
