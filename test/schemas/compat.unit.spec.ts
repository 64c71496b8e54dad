import { expect } from 'chai';
import * as path from 'path';
import { Catalog, checkTypeHistory, compatibilityProblems, createSchemaVersion, defaultCatalog, SchemaVersion } from '../../schemas';

const FIXTURE_V2 = path.join(__dirname, '..', 'fixtures', 'schemas-v2');

type Field = Record<string, unknown>;

/** A new version of `base` whose fields are edited by `edit`. */
function evolve(base: SchemaVersion, version: number, edit: (fields: Field[]) => Field[]): SchemaVersion {
  const schema = base.schema as { fields: Field[] };
  return createSchemaVersion(base.type, version, { ...schema, fields: edit(schema.fields.map((f) => ({ ...f }))) });
}

describe('compatibility (FULL, transitive)', () => {
  const [opened1, opened2] = Catalog.load(FIXTURE_V2).versions('email.opened');
  const bounced1 = defaultCatalog().current('email.bounced');

  it('accepts a new field with a default (the v2 fixture)', () => {
    expect(compatibilityProblems(opened1, opened2)).to.deep.equal([]);
  });

  it('rejects a new field without a default: the new version cannot read old data', () => {
    const required = evolve(opened1, 2, (fs) => [...fs, { name: 'country', type: 'string' }]);
    expect(compatibilityProblems(opened1, required)).to.deep.equal([
      'email.opened v2 cannot read v1 data: field "country" has no default',
    ]);
  });

  it('rejects removing a field without a default: old readers cannot read new data', () => {
    const removed = evolve(bounced1, 2, (fs) => fs.filter((f) => f.name !== 'bounceType'));
    expect(compatibilityProblems(bounced1, removed)).to.deep.equal([
      'email.bounced v1 cannot read v2 data: field "bounceType" was removed, and the older version has no default for it',
    ]);
  });

  it('rejects a changed field type in both directions, told from old type to new', () => {
    const retyped = evolve(bounced1, 2, (fs) => fs.map((f) => (f.name === 'smtpCode' ? { ...f, type: ['null', 'string'] } : f)));
    expect(compatibilityProblems(bounced1, retyped)).to.deep.equal([
      'email.bounced v2 cannot read v1 data: field "smtpCode" changed type from null | int to null | string',
      'email.bounced v1 cannot read v2 data: field "smtpCode" changed type from null | int to null | string',
    ]);
  });

  it('rejects a promotion that only works one way (int to long)', () => {
    const widened = evolve(bounced1, 2, (fs) => fs.map((f) => (f.name === 'smtpCode' ? { ...f, type: ['null', 'long'] } : f)));
    expect(compatibilityProblems(bounced1, widened)).to.deep.equal([
      'email.bounced v1 cannot read v2 data: field "smtpCode" changed type from null | int to null | long',
    ]);
  });

  it('rejects an added enum symbol unless the enum has a default symbol', () => {
    const symbols = (extra: Field) => (fs: Field[]) =>
      fs.map((f) => (f.name === 'bounceType' ? { ...f, type: { type: 'enum', name: 'BounceType', symbols: ['hard', 'soft', 'soft_block'], ...extra } } : f));
    expect(compatibilityProblems(bounced1, evolve(bounced1, 2, symbols({})))).to.deep.equal([
      'email.bounced v1 cannot read v2 data: field "bounceType" gained enum symbols soft_block (give enum floe.email.BounceType a default symbol for older readers)',
    ]);
    const v1WithDefault = evolve(bounced1, 1, (fs) =>
      fs.map((f) => (f.name === 'bounceType' ? { ...f, type: { type: 'enum', name: 'BounceType', symbols: ['hard', 'soft'], default: 'soft' } } : f)),
    );
    expect(compatibilityProblems(v1WithDefault, evolve(bounced1, 2, symbols({ default: 'soft' })))).to.deep.equal([]);
  });

  it('rejects a renamed record: an alias helps the new version read old data, never the old one read new data', () => {
    const renamed = createSchemaVersion('email.opened', 2, { ...(opened1.schema as object), name: 'Opened' });
    expect(compatibilityProblems(opened1, renamed)).to.deep.equal([
      'email.opened v2 cannot read v1 data: the record was renamed from floe.email.EmailOpened to floe.email.Opened (add an alias)',
      'email.opened v1 cannot read v2 data: the record was renamed from floe.email.EmailOpened to floe.email.Opened (the older version cannot be given an alias: keep the old name)',
    ]);
    const aliased = createSchemaVersion('email.opened', 2, { ...(opened1.schema as object), name: 'Opened', aliases: ['floe.email.EmailOpened'] });
    expect(compatibilityProblems(opened1, aliased)).to.deep.equal([
      'email.opened v1 cannot read v2 data: the record was renamed from floe.email.EmailOpened to floe.email.Opened (the older version cannot be given an alias: keep the old name)',
    ]);
  });

  it('checks the newest version against every older one (transitive)', () => {
    // v3 drops the default of v2's field: each step is fine, but v3 cannot read v1 data.
    const v3 = evolve(opened2, 3, (fs) => fs.map((f) => (f.name === 'country' ? { name: 'country', type: 'string' } : f)));
    expect(compatibilityProblems(opened2, v3)).to.deep.equal([]);
    expect(checkTypeHistory([v3, opened1, opened2])).to.deep.equal([
      'email.opened v3 cannot read v1 data: field "country" has no default',
    ]);
  });

  it('has nothing to say about a single version', () => {
    expect(checkTypeHistory([opened1])).to.deep.equal([]);
  });
});
