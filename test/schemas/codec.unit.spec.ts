import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Catalog, Decoder, defaultCatalog, encode, FloeError, readFingerprint, ValidationError } from '../../schemas';

const FIXTURE_V2 = path.join(__dirname, '..', 'fixtures', 'schemas-v2');

function thrown(fn: () => unknown): FloeError {
  try {
    fn();
  } catch (e) {
    return e as FloeError;
  }
  throw new Error('expected an error');
}

describe('codec (single-object encoding)', () => {
  const catalog = defaultCatalog();
  const opened = catalog.current('email.opened');
  const bytes = encode(opened, { emailId: 'eml_1', ip: null, userAgent: null, machine: false });

  it('refuses a payload without the C3 01 header or shorter than the header', () => {
    for (const bad of [Buffer.alloc(0), Buffer.from('c301aabb', 'hex'), Buffer.from('{"emailId":"eml_1"}')]) {
      const e = thrown(() => readFingerprint(bad));
      expect(e.code).to.equal('BAD_ENCODING');
      expect(thrown(() => new Decoder(catalog).decode('email.opened', bad)).code).to.equal('BAD_ENCODING');
    }
  });

  it('reports an unknown fingerprint as UNKNOWN_SCHEMA naming fingerprint and type', () => {
    const unknown = Buffer.from(bytes);
    unknown.fill(0xab, 2, 10);
    const e = thrown(() => new Decoder(catalog).decode('email.opened', unknown));
    expect(e.code).to.equal('UNKNOWN_SCHEMA');
    expect(e.message).to.contain('abababababababab').and.to.contain('email.opened');
  });

  it('refuses a payload written with another type’s schema', () => {
    const e = thrown(() => new Decoder(catalog).decode('email.clicked', bytes));
    expect(e.code).to.equal('SCHEMA_TYPE_MISMATCH');
    expect(e.message).to.contain('email.opened v1');
  });

  it('reports truncated and trailing bytes as BAD_ENCODING', () => {
    const decoder = new Decoder(catalog);
    expect(thrown(() => decoder.decode('email.opened', bytes.subarray(0, bytes.length - 2))).message).to.contain('truncated');
    expect(thrown(() => decoder.decode('email.opened', Buffer.concat([bytes, Buffer.from([0])]))).message).to.contain('1 trailing bytes');
  });

  it('throws a ValidationError with paths when asked to encode a value that does not fit', () => {
    const e = thrown(() => encode(catalog.current('email.bounced'), { emailId: 'eml_1', bounceType: 'medium' }));
    expect(e).to.be.instanceOf(ValidationError);
    expect((e as ValidationError).issues).to.deep.equal([{ path: 'data.bounceType', message: '"medium" is not one of hard, soft' }]);
  });

  it('encodes payloads larger than its scratch buffer', () => {
    const url = `https://acme.example/${'x'.repeat(100_000)}`;
    const clicked = catalog.current('email.clicked');
    const big = encode(clicked, { emailId: 'eml_1', url, ip: null, userAgent: null });
    expect(new Decoder(catalog).decode('email.clicked', big).data.url).to.equal(url);
  });

  it('decodes the events of a writer learned later through addWriter (the store’s registry path)', () => {
    const v2 = Catalog.load(FIXTURE_V2).current('email.opened');
    const written = encode(v2, { emailId: 'eml_1', ip: null, userAgent: null, machine: true, country: 'DE' });
    const local = Catalog.load();
    const decoder = new Decoder(local);
    expect(thrown(() => decoder.decode('email.opened', written)).code).to.equal('UNKNOWN_SCHEMA');
    local.addWriter('email.opened', 2, fs.readFileSync(path.join(FIXTURE_V2, 'email.opened.v2.avsc'), 'utf8'));
    // The v1 reader skips the field it does not know (forward compatibility).
    expect(decoder.decode('email.opened', written)).to.deep.equal({
      data: { emailId: 'eml_1', ip: null, userAgent: null, machine: true },
      version: 2,
    });
  });

  it('decodes nested and recursive records, arrays and maps into plain objects', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floe-schemas-'));
    const schema = {
      type: 'record',
      name: 'Thread',
      namespace: 'floe.test',
      fields: [
        { name: 'head', type: { type: 'record', name: 'Msg', fields: [{ name: 'id', type: 'string' }, { name: 'reply', type: ['null', 'Msg'], default: null }] } },
        { name: 'all', type: { type: 'array', items: 'Msg' } },
        { name: 'byId', type: { type: 'map', values: 'Msg' } },
      ],
    };
    fs.writeFileSync(path.join(dir, 'test.thread.v1.avsc'), JSON.stringify(schema));
    const nested = Catalog.load(dir);
    const value = {
      head: { id: 'a', reply: { id: 'b', reply: null } },
      all: [{ id: 'c', reply: null }],
      byId: { d: { id: 'd', reply: { id: 'e', reply: null } } },
    };
    const { data } = new Decoder(nested).decode('test.thread', encode(nested.current('test.thread'), value));
    expect(data).to.deep.equal(value);
    const reply = (data.head as { reply: object }).reply;
    const inMap = (data.byId as Record<string, object>).d;
    for (const o of [data, data.head, reply, (data.all as object[])[0], data.byId, inMap]) {
      expect(Object.getPrototypeOf(o)).to.equal(Object.prototype);
    }
  });
});
