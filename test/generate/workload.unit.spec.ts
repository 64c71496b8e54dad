import { expect } from 'chai';
import { generateWorkload, type EventLine, type WorkloadOptions } from '../../ops/generate';
import { defaultCatalog, isFloeError, validatePayload } from '../../schemas';
import { streamFor } from '../../streams/envelope';
import { generated, THOUSAND } from './workloads';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DAY = 86_400_000;
/** Wide enough for the rare types (complaints, plan changes, erasures) to occur. */
const WIDE: WorkloadOptions = { seed: 'wide', tenants: 20, emails: 5000, start: '2026-01-20', days: 45 };

const sentEmails = (lines: EventLine[]): Set<unknown> => new Set(lines.filter((l) => l.type === 'email.sent').map((l) => l.data.emailId));

describe('generateWorkload output', () => {
  const { lines, text } = generated(THOUSAND);

  it('sends exactly the requested number of distinct emails and creates every tenant', () => {
    expect(sentEmails(lines).size).to.equal(1000);
    expect(lines.filter((l) => l.type === 'tenant.created')).to.have.length(5);
  });

  it('meets the requested counts at the edges', () => {
    const cases: Array<Partial<WorkloadOptions>> = [
      { emails: 0 },
      { emails: 1 },
      { tenants: 7, emails: 3 },
      { tenants: 1, emails: 250, days: 1 },
    ];
    for (const c of cases) {
      const opts = { ...THOUSAND, ...c };
      const out = Array.from(generateWorkload(opts));
      expect(sentEmails(out).size, JSON.stringify(c)).to.equal(opts.emails);
      expect(out.filter((l) => l.type === 'tenant.created'), JSON.stringify(c)).to.have.length(opts.tenants);
    }
  });

  it('writes ISO-8601 UTC timestamps with milliseconds, inside the window plus the late tail', () => {
    const start = Date.parse('2026-03-01T00:00:00.000Z');
    for (const line of lines) {
      expect(line.occurredAt).to.match(ISO_MS);
      const at = Date.parse(line.occurredAt);
      expect(new Date(at).toISOString()).to.equal(line.occurredAt);
      expect(at).to.be.within(start, start + 40 * DAY - 1);
    }
  });

  it('gives every line a unique UUID, except retried duplicates, which repeat the line byte for byte', () => {
    const seen = new Map<string, string>();
    let repeats = 0;
    text.forEach((raw, i) => {
      const { id } = lines[i];
      expect(id).to.match(UUID);
      const earlier = seen.get(id);
      if (earlier === undefined) seen.set(id, raw);
      else {
        expect(raw).to.equal(earlier);
        repeats++;
      }
    });
    expect(repeats).to.be.above(0);
  });

  it('writes payloads valid against the catalog v1 schemas, with a derivable stream', () => {
    const catalog = defaultCatalog();
    for (const line of [...lines, ...generated(WIDE).lines]) {
      const { issues } = validatePayload(catalog.current(line.type), line.data);
      expect(issues, `${line.type} ${JSON.stringify(line.data)}`).to.deep.equal([]);
      expect(streamFor(line.type, line.tenantId, line.data), line.type).to.be.a('string');
    }
  });

  it('produces every type of the catalog a producer sends', () => {
    const types = new Set(generated(WIDE).lines.map((l) => l.type));
    // billing.* events are written by Floe itself, never by a producer.
    const produced = defaultCatalog().types().filter((t) => !t.startsWith('billing.'));
    expect([...types].sort()).to.deep.equal(produced);
  });

  it('uses every value of the enums the analytics branch on', () => {
    const values = (type: string, field: string): Set<unknown> => new Set(lines.filter((l) => l.type === type).map((l) => l.data[field]));
    expect([...values('email.bounced', 'bounceType')]).to.have.members(['hard', 'soft']);
    const kinds = ['delivered', 'opened', 'clicked', 'replied', 'bounced', 'unsubscribed', 'spam_complaint'];
    expect([...values('warmup.interaction', 'kind')]).to.have.members(kinds);
    expect([...values('campaign.status_changed', 'status')]).to.include.members(['draft', 'scheduled', 'sending', 'completed']);
    expect([...values('sequence_step.defined', 'stepType')]).to.include.members(['email', 'wait']);
    expect([...values('email.unsubscribed', 'method')].length).to.be.above(1);
    expect([...values('email.opened', 'machine')]).to.have.members([true, false]);
  });

  it('has realistic rates', () => {
    const emails = (type: string, where: (l: EventLine) => boolean = () => true): number =>
      new Set(lines.filter((l) => l.type === type && where(l)).map((l) => l.data.emailId)).size;
    const delivered = emails('email.delivered');
    expect(delivered / 1000).to.be.within(0.9, 0.99);
    expect(emails('email.bounced') / 1000).to.be.within(0.01, 0.06);
    expect(emails('email.opened') / delivered).to.be.within(0.3, 0.55);
    expect(emails('email.clicked') / delivered).to.be.within(0.03, 0.12);
    expect(emails('email.replied') / delivered).to.be.within(0.015, 0.06);
    const oneOffs = lines.filter((l) => l.type === 'email.sent' && l.data.campaignId === null);
    expect(oneOffs.length).to.be.within(10, 60);
  });

  it('bills most tenants from an anchor day and some by calendar month', () => {
    const { lines: many } = generated({ ...THOUSAND, tenants: 40 });
    const started = many.filter((l) => l.type === 'subscription.started');
    expect(started.length).to.be.within(25, 39);
    for (const s of started) expect(s.data.billingAnchorDay).to.be.within(1, 28);
  });

  it('rejects invalid options by name', () => {
    const bad: Array<[Partial<WorkloadOptions>, string]> = [
      [{ tenants: 0 }, '--tenants'],
      [{ emails: -1 }, '--emails'],
      [{ days: 1.5 }, '--days'],
      [{ start: '2026-02-30' }, '--start'],
      [{ start: '1 March' }, '--start'],
    ];
    for (const [change, flag] of bad) {
      try {
        generateWorkload({ ...THOUSAND, ...change }).next();
        expect.fail(`accepted ${JSON.stringify(change)}`);
      } catch (e) {
        expect(isFloeError(e) && e.code, JSON.stringify(change)).to.equal('INVALID_ARGUMENT');
        expect((e as Error).message).to.contain(flag);
      }
    }
  });
});
