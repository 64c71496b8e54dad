import { expect } from 'chai';
import { createSchemaVersion, defaultCatalog, validatePayload } from '../../schemas';

describe('validatePayload', () => {
  const catalog = defaultCatalog();
  const issuesOf = (type: string, data: unknown, prefix?: string) => validatePayload(catalog.current(type), data, prefix).issues;

  it('reports a missing required field', () => {
    expect(issuesOf('email.clicked', { emailId: 'eml_1' })).to.deep.equal([{ path: 'data.url', message: 'required field is missing' }]);
  });

  it('reports a wrong type, showing the value', () => {
    expect(issuesOf('email.bounced', { emailId: 'eml_1', bounceType: 'hard', smtpCode: '550' })).to.deep.equal([
      { path: 'data.smtpCode', message: 'expected int, got string "550"' },
    ]);
  });

  it('reports ints that are not integers or do not fit 32 bits', () => {
    expect(issuesOf('email.delivered', { emailId: 'eml_1', deliveryMs: 1.5 })).to.deep.equal([
      { path: 'data.deliveryMs', message: 'expected int, got number 1.5' },
    ]);
    expect(issuesOf('email.delivered', { emailId: 'eml_1', deliveryMs: 3_000_000_000 })).to.deep.equal([
      { path: 'data.deliveryMs', message: 'expected int, got number 3000000000 (outside the 32-bit range)' },
    ]);
  });

  it('reports an enum value out of its symbols', () => {
    expect(issuesOf('email.bounced', { emailId: 'eml_1', bounceType: 'medium' })).to.deep.equal([
      { path: 'data.bounceType', message: '"medium" is not one of hard, soft' },
    ]);
    expect(issuesOf('email.unsubscribed', { emailId: 'eml_1', method: 3 })).to.deep.equal([
      { path: 'data.method', message: 'expected one of link, list_unsubscribe, reply, manual, got number 3' },
    ]);
  });

  it('enforces floe.min / floe.max ranges', () => {
    expect(issuesOf('subscription.started', { subscriptionId: 's', planId: 'p', billingAnchorDay: 29 })).to.deep.equal([
      { path: 'data.billingAnchorDay', message: 'must be between 1 and 28, got 29' },
    ]);
    expect(issuesOf('warmup.progressed', { mailboxId: 'm', healthScore: -1, progressPercentage: 100 })).to.deep.equal([
      { path: 'data.healthScore', message: 'must be between 0 and 100, got -1' },
    ]);
  });

  it('rejects unknown fields', () => {
    expect(issuesOf('lead.erased', { leadId: 'lead_1', foo: 1, constructor: 2 })).to.deep.equal([
      { path: 'data.foo', message: 'unknown field' },
      { path: 'data.constructor', message: 'unknown field' },
    ]);
  });

  it('rejects data that is not an object', () => {
    for (const data of [null, 'x', [1], 42]) {
      const { value, issues } = validatePayload(catalog.current('lead.erased'), data);
      expect(value).to.equal(undefined);
      expect(issues).to.have.length(1);
      expect(issues[0].path).to.equal('data');
      expect(issues[0].message).to.match(/^expected an object, got /);
    }
  });

  it('rejects null for a required field but accepts it for an optional one', () => {
    expect(issuesOf('email.clicked', { emailId: 'eml_1', url: null, ip: null })).to.deep.equal([
      { path: 'data.url', message: 'expected string, got null' },
    ]);
  });

  it('reports every problem at once, under the given path prefix', () => {
    const issues = issuesOf('email.bounced', { bounceType: 'medium', smtpCode: 'x', extra: true }, 'line 3 data');
    expect(issues.map((i) => i.path)).to.deep.equal([
      'line 3 data.emailId',
      'line 3 data.bounceType',
      'line 3 data.smtpCode',
      'line 3 data.extra',
    ]);
  });

  it('fills absent optional fields with null and defaulted fields with their default', () => {
    expect(validatePayload(catalog.current('email.opened'), { emailId: 'eml_1', ip: '1.2.3.4' })).to.deep.equal({
      value: { emailId: 'eml_1', ip: '1.2.3.4', userAgent: null, machine: false },
      issues: [],
    });
  });

  it('walks nested records, arrays and maps with dotted and indexed paths', () => {
    const nested = createSchemaVersion('test.nested', 1, {
      type: 'record',
      name: 'Outer',
      namespace: 'floe.test',
      fields: [
        { name: 'inner', type: { type: 'record', name: 'Inner', fields: [{ name: 'n', type: 'int' }] } },
        { name: 'list', type: { type: 'array', items: 'Inner' } },
        { name: 'tags', type: { type: 'map', values: 'string' } },
        { name: 'either', type: ['null', 'int', 'string'], default: null },
      ],
    });
    const { issues } = validatePayload(nested, { inner: { n: 'one' }, list: [{ n: 1 }, { m: 2 }], tags: { a: 1 }, either: true });
    expect(issues).to.deep.equal([
      { path: 'data.inner.n', message: 'expected int, got string "one"' },
      { path: 'data.list[1].n', message: 'required field is missing' },
      { path: 'data.list[1].m', message: 'unknown field' },
      { path: 'data.tags.a', message: 'expected string, got number 1' },
      { path: 'data.either', message: 'expected null or int or string, got boolean true' },
    ]);
    expect(validatePayload(nested, { inner: { n: 1 }, list: [], tags: {}, either: 'x' }).issues).to.deep.equal([]);
  });
});
