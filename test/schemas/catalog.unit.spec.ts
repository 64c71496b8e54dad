import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Catalog, checkTypeHistory, defaultCatalog, FloeError } from '../../schemas';

const FIXTURE_V2 = path.join(__dirname, '..', 'fixtures', 'schemas-v2');

/** The 31 types of DESIGN §3, catalog v1. */
const CATALOG_V1 = [
  'email.sent', 'email.delivered', 'email.deferred', 'email.bounced', 'email.failed', 'email.opened',
  'email.clicked', 'email.replied', 'email.unsubscribed', 'email.complained', 'warmup.started',
  'warmup.email_sent', 'warmup.interaction', 'warmup.progressed', 'warmup.stopped', 'mailbox.created',
  'mailbox.status_changed', 'domain.added', 'company.created', 'tenant.created', 'subscription.started',
  'subscription.changed', 'campaign.created', 'campaign.status_changed', 'sequence_step.defined',
  'campaign.lead_completed', 'lead.imported', 'lead.erased', 'admin.action', 'billing.period_closed',
  'billing.period_recomputed',
];

function thrown(fn: () => unknown): FloeError {
  try {
    fn();
  } catch (e) {
    return e as FloeError;
  }
  throw new Error('expected an error');
}

describe('Catalog', () => {
  it('holds exactly the 31 types of catalog v1, each at version 1', () => {
    const catalog = defaultCatalog();
    expect(catalog.types()).to.deep.equal([...CATALOG_V1].sort());
    for (const type of CATALOG_V1) expect(catalog.current(type).version, type).to.equal(1);
  });

  it('names records floe.<family>.<PascalType> so every type has its own fingerprint', () => {
    const catalog = defaultCatalog();
    expect(catalog.current('email.opened').canonical).to.match(/^\{"name":"floe\.email\.EmailOpened"/);
    expect(catalog.current('sequence_step.defined').canonical).to.match(/^\{"name":"floe\.sequence_step\.SequenceStepDefined"/);
    expect(new Set(catalog.all().map((v) => v.fingerprintHex)).size).to.equal(31);
  });

  it('finds a version by fingerprint hex, in either case', () => {
    const opened = defaultCatalog().current('email.opened');
    expect(defaultCatalog().byFingerprint(opened.fingerprintHex)).to.equal(opened);
    expect(defaultCatalog().byFingerprint(opened.fingerprintHex.toUpperCase())).to.equal(opened);
    expect(defaultCatalog().byFingerprint('0000000000000000')).to.equal(undefined);
  });

  it('keeps 8-byte fingerprints whose hex is fingerprintHex', () => {
    for (const v of defaultCatalog().all()) {
      expect(v.fingerprint.length).to.equal(8);
      expect(v.fingerprint.toString('hex')).to.equal(v.fingerprintHex);
    }
  });

  it('throws UNKNOWN_TYPE naming the type', () => {
    const e = thrown(() => defaultCatalog().current('email.teleported'));
    expect(e.code).to.equal('UNKNOWN_TYPE');
    expect(e.message).to.contain('email.teleported');
    expect(defaultCatalog().has('email.teleported')).to.equal(false);
    expect(defaultCatalog().has('email.opened')).to.equal(true);
  });

  it('makes the highest file version current and lists versions ascending', () => {
    const catalog = Catalog.load(FIXTURE_V2);
    expect(catalog.types()).to.deep.equal(['email.opened']);
    expect(catalog.current('email.opened').version).to.equal(2);
    expect(catalog.versions('email.opened').map((v) => v.version)).to.deep.equal([1, 2]);
  });

  it('registers a writer known only from the store without making it current', () => {
    const catalog = Catalog.load(path.join(__dirname, '..', '..', 'schemas', 'avro'));
    const v2 = fs.readFileSync(path.join(FIXTURE_V2, 'email.opened.v2.avsc'), 'utf8');
    const writer = catalog.addWriter('email.opened', 2, v2);
    expect(catalog.byFingerprint(writer.fingerprintHex)).to.equal(writer);
    expect(catalog.current('email.opened').version).to.equal(1);
    expect(catalog.addWriter('email.opened', 2, JSON.parse(v2))).to.equal(writer);
  });

  it('refuses a writer that contradicts a known version', () => {
    const catalog = Catalog.load(FIXTURE_V2);
    const changed = { ...(catalog.current('email.opened').schema as object), fields: [{ name: 'emailId', type: 'string' }] };
    const e = thrown(() => catalog.addWriter('email.opened', 2, changed));
    expect(e.code).to.equal('SCHEMA_CONFLICT');
    expect(e.message).to.contain('email.opened v2');
  });

  it('rejects a schema file that is not a record, naming type and version', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floe-schemas-'));
    fs.writeFileSync(path.join(dir, 'email.opened.v1.avsc'), '"string"');
    const e = thrown(() => Catalog.load(dir));
    expect(e.code).to.equal('SCHEMA_INVALID');
    expect(e.message).to.contain('email.opened v1');
  });

  it('rejects a schema file with a malformed name', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floe-schemas-'));
    fs.writeFileSync(path.join(dir, 'EmailOpened.avsc'), '{}');
    expect(thrown(() => Catalog.load(dir)).message).to.contain('<type>.v<version>.avsc');
  });

  it('ships a catalog whose every type history is FULL compatible', () => {
    const catalog = defaultCatalog();
    expect(catalog.types().flatMap((t) => checkTypeHistory(catalog.versions(t)))).to.deep.equal([]);
  });
});
