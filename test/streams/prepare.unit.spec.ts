/**
 * `occurredAt` as the store takes it: an ISO-8601 date-time with a time zone, every field in
 * its range. JavaScript's Date alone takes 2026-02-30 as 2026-03-02 and 24:00 as the next
 * day; an event on a day its producer did not write would count on the wrong cohort day and
 * billing period, so such timestamps are refused with the field and the reason.
 */
import { expect } from 'chai';
import { defaultCatalog } from '../../schemas';
import { ValidationError } from '../../schemas/errors';
import { parseInstant, prepareEvent } from '../../streams/prepare';

const catalog = defaultCatalog();
const opened = (occurredAt: unknown) => ({ type: 'email.opened', tenantId: 't1', occurredAt, data: { emailId: 'e1' } });

function refusal(occurredAt: unknown): string {
  try {
    prepareEvent(catalog, opened(occurredAt));
  } catch (e) {
    expect(e).to.be.instanceOf(ValidationError);
    const issues = (e as ValidationError).issues;
    expect(issues.map((i) => i.path)).to.deep.equal(['occurredAt']);
    return issues[0].message;
  }
  expect.fail(`${JSON.stringify(occurredAt)} was accepted`);
}

describe('occurredAt', () => {
  it('takes every valid form: Z or an offset with or without a colon, 0 to 9 fractional digits, leap days', () => {
    const cases: Array<[string, string]> = [
      ['2026-03-02T10:00:00Z', '2026-03-02T10:00:00.000Z'],
      ['2026-03-02T10:00:00.123Z', '2026-03-02T10:00:00.123Z'],
      ['2026-03-02T12:30:00+02:30', '2026-03-02T10:00:00.000Z'],
      ['2026-03-02T05:00:00-0500', '2026-03-02T10:00:00.000Z'],
      ['2026-03-02T10:00:00.123456789Z', '2026-03-02T10:00:00.123Z'],
      ['2024-02-29T23:59:59Z', '2024-02-29T23:59:59.000Z'],
      ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
      ['2026-12-31T23:59:59.999Z', '2026-12-31T23:59:59.999Z'],
    ];
    for (const [text, iso] of cases) {
      const at = parseInstant(text);
      expect(at, text).to.be.instanceOf(Date);
      expect((at as Date).toISOString(), text).to.equal(iso);
      expect(prepareEvent(catalog, opened(text)).occurredAt.toISOString(), text).to.equal(iso);
    }
  });

  it('refuses days past the end of their month, naming the month and the day', () => {
    expect(refusal('2026-02-30T10:00:00.000Z')).to.equal('not a valid timestamp: "2026-02-30T10:00:00.000Z" (2026-02 has no day 30)');
    expect(refusal('2026-02-29T10:00:00Z')).to.contain('2026-02 has no day 29'); // not a leap year
    expect(refusal('2100-02-29T10:00:00Z')).to.contain('2100-02 has no day 29'); // a century, not a leap year
    expect(refusal('2026-04-31T10:00:00Z')).to.contain('2026-04 has no day 31');
    expect(refusal('2026-03-00T10:00:00Z')).to.contain('2026-03 has no day 00');
  });

  it('refuses months, hours, minutes, seconds and offsets out of range', () => {
    expect(refusal('2026-13-01T10:00:00Z')).to.contain('month 13');
    expect(refusal('2026-00-01T10:00:00Z')).to.contain('month 00');
    expect(refusal('2026-03-02T24:00:00Z')).to.contain('time 24:00:00');
    expect(refusal('2026-03-02T10:60:00Z')).to.contain('time 10:60:00');
    expect(refusal('2026-03-02T10:00:60Z')).to.contain('time 10:00:60');
    expect(refusal('2026-03-02T10:00:00+24:00')).to.contain('offset +24:00');
    expect(refusal('2026-03-02T10:00:00+01:60')).to.contain('offset +01:60');
  });

  it('takes the years 1000-9998 in UTC, and refuses others and instants an offset moves outside them', () => {
    expect((parseInstant('1000-01-01T00:00:00.000Z') as Date).toISOString()).to.equal('1000-01-01T00:00:00.000Z');
    expect((parseInstant('9998-12-31T23:59:59.999Z') as Date).toISOString()).to.equal('9998-12-31T23:59:59.999Z');
    for (const bad of ['0000-06-15T07:30:10Z', '0050-06-15T07:30:10Z', '0999-12-31T23:59:59Z', '9999-01-01T00:00:00Z', '1000-01-01T00:30:00+01:00', '9998-12-31T23:00:00-02:00']) {
      expect(refusal(bad), bad).to.contain('outside the years 1000-9998 in UTC');
    }
  });

  it('refuses what is not an ISO-8601 date-time with a time zone', () => {
    for (const bad of ['yesterday', '2026-03-02T10:00:00', '2026-03-02', '2026-03-02 10:00:00Z', 1772445600000, true]) {
      expect(refusal(bad), String(bad)).to.equal(`not an ISO-8601 timestamp with a time zone: ${JSON.stringify(bad)}`);
    }
  });
});

describe('U+0000 (NUL) in strings', () => {
  const refused = (input: Record<string, unknown>): Array<{ path: string; message: string }> => {
    try {
      prepareEvent(catalog, input);
    } catch (e) {
      expect(e).to.be.instanceOf(ValidationError);
      return (e as ValidationError).issues.map((i) => ({ path: i.path, message: i.message }));
    }
    return expect.fail('accepted');
  };
  const sent = { type: 'email.sent', tenantId: 't1', occurredAt: '2026-03-02T10:00:00Z', data: { emailId: 'e1', mailboxId: 'm1', leadId: 'l1' } };

  it('is refused wherever PostgreSQL would have to store it, naming the field', () => {
    const why = 'contains the character U+0000 (NUL), which PostgreSQL cannot store in text';
    expect(refused({ ...sent, data: { ...sent.data, emailId: 'e\u00001' } })).to.deep.equal([{ path: 'data.emailId', message: why }]);
    expect(refused({ ...sent, tenantId: 't\u0000' })).to.deep.equal([{ path: 'tenantId', message: why }]);
    expect(refused({ ...sent, stream: 'email-\u0000' })).to.deep.equal([{ path: 'stream', message: why }]);
    expect(refused({ ...sent, metadata: { trace: { hops: ['a', 'b\u0000'] } } })).to.deep.equal([{ path: 'metadata.trace.hops[1]', message: why }]);
    expect(refused({ ...sent, metadata: { 'k\u0000': 1 } })).to.deep.equal([{ path: 'metadata.k\u0000', message: why }]);
    const company = { type: 'company.created', tenantId: 't1', occurredAt: '2026-03-02T10:00:00Z', data: { companyId: 'c1', name: 'A\u0000B' } };
    expect(refused(company)).to.deep.equal([{ path: 'data.name', message: why }]);
  });

  it('is the only thing refused: other control characters and any other text are kept', () => {
    const e = prepareEvent(catalog, { ...sent, data: { ...sent.data, emailId: 'e\u0001\t\u00e9\ud83d\ude00' }, metadata: { note: '\u0007' } });
    expect(e.stream).to.equal('email-e\u0001\t\u00e9\ud83d\ude00');
    expect(e.metadata).to.deep.equal({ note: '\u0007' });
  });
});
