import { expect } from 'chai';
import * as path from 'node:path';
import { useDatabase } from '../helpers/backends';
import { floe } from '../helpers/cli';

const fixtures = path.join(__dirname, '..', 'fixtures');

describe('floe schemas list / check (CLI)', function () {
  this.timeout(60_000);
  const db = useDatabase();

  it('lists all 31 catalog types, registered, with fingerprints', () => {
    const r = floe(db.url, ['schemas', 'list', '--json']);
    expect(r.code, r.err).to.equal(0);
    const rows = JSON.parse(r.out);
    expect(rows.length).to.equal(31);
    expect(rows.every((x: { registered: boolean; fingerprint: string }) => x.registered && /^[0-9a-f]{16}$/.test(x.fingerprint))).to.equal(true);
  });

  it('passes the shipped catalog and a defaulted new field', () => {
    expect(floe(db.url, ['schemas', 'check']).code).to.equal(0);
    const r = floe(db.url, ['schemas', 'check', '--dir', path.join(fixtures, 'schemas-v2')]);
    expect(r.code, r.err).to.equal(0);
  });

  it('fails a breaking change with a readable explanation', () => {
    const r = floe(db.url, ['schemas', 'check', '--dir', path.join(fixtures, 'schemas-breaking')]);
    expect(r.code).to.equal(1);
    expect(r.err).to.contain('email.opened').and.contain('country').and.contain('machine');
    const j = JSON.parse(floe(db.url, ['schemas', 'check', '--json', '--dir', path.join(fixtures, 'schemas-breaking')]).out);
    expect(j.ok).to.equal(false);
    expect(j.problems.length).to.be.greaterThan(0);
  });
});
