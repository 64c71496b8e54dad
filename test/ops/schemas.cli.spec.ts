import { expect } from 'chai';
import * as path from 'node:path';
import { Pool } from 'pg';
import { Catalog } from '../../schemas';
import { registeredSchemas, registerSchemas } from '../../streams/postgres/schemaRegistry';
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

  it('registers a breaking version never (it would be there for good), a compatible one once checked', async () => {
    const pool = new Pool({ connectionString: db.url, max: 1 });
    try {
      const before = (await registeredSchemas(pool)).length;
      const error = await registerSchemas(pool, Catalog.load(path.join(fixtures, 'schemas-breaking'))).then(
        () => undefined,
        (e: Error & { code?: string }) => e,
      );
      expect(error?.code).to.equal('SCHEMA_INCOMPATIBLE');
      expect(error?.message).to.contain('email.opened').and.contain('Nothing was registered');
      expect((await registeredSchemas(pool)).length, 'nothing registered').to.equal(before);
      // Checking the breaking files does not register them either, and the store stays usable.
      expect(floe(db.url, ['schemas', 'check', '--dir', path.join(fixtures, 'schemas-breaking')]).code).to.equal(1);
      expect(floe(db.url, ['status', '--json']).code).to.equal(0);
      expect(await registerSchemas(pool, Catalog.load(path.join(fixtures, 'schemas-v2')))).to.deep.equal(['email.opened v2']);
      expect(await registerSchemas(pool, Catalog.load(path.join(fixtures, 'schemas-v2'))), 'registered once').to.deep.equal([]);
      const opened = (await registeredSchemas(pool)).filter((r) => r.type === 'email.opened').map((r) => r.version);
      expect(opened).to.deep.equal([1, 2]);
      // v2 is registered but not among the shipped files: listed as such.
      const listed = JSON.parse(floe(db.url, ['schemas', 'list', '--json']).out).filter((r: { type: string }) => r.type === 'email.opened');
      expect(listed.map((r: { version: number; registered: boolean; file: boolean }) => [r.version, r.registered, r.file])).to.deep.equal([
        [1, true, true],
        [2, true, false],
      ]);
    } finally {
      await pool.end();
    }
  });
});
