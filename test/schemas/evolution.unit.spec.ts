import { expect } from 'chai';
import * as path from 'path';
import { Catalog, createSchemaVersion, Decoder, encode, validatePayload } from '../../schemas';

const FIXTURE_V2 = path.join(__dirname, '..', 'fixtures', 'schemas-v2');

describe('schema evolution (writer resolved to the current reader)', () => {
  const catalog = Catalog.load(FIXTURE_V2);
  const [v1, v2] = catalog.versions('email.opened');

  it('decodes a v1-written event through the v2 reader, the new field taking its default', () => {
    const bytes = encode(v1, validatePayload(v1, { emailId: 'eml_1', ip: '17.58.101.4' }).value);
    const decoded = new Decoder(catalog).decode('email.opened', bytes);
    expect(decoded).to.deep.equal({
      data: { emailId: 'eml_1', ip: '17.58.101.4', userAgent: null, machine: false, country: 'ZZ' },
      version: 1,
    });
  });

  it('decodes v2-written events with the v2 reader as written', () => {
    const bytes = encode(v2, validatePayload(v2, { emailId: 'eml_2', machine: true, country: 'FR' }).value);
    expect(new Decoder(catalog).decode('email.opened', bytes)).to.deep.equal({
      data: { emailId: 'eml_2', ip: null, userAgent: null, machine: true, country: 'FR' },
      version: 2,
    });
  });

  it('keeps decoding both versions interleaved with one decoder', () => {
    const decoder = new Decoder(catalog);
    const old = encode(v1, { emailId: 'a', ip: null, userAgent: null, machine: false });
    const cur = encode(v2, { emailId: 'b', ip: null, userAgent: null, machine: false, country: 'NL' });
    const countries = [old, cur, old, cur].map((b) => decoder.decode('email.opened', b).data.country);
    expect(countries).to.deep.equal(['ZZ', 'NL', 'ZZ', 'NL']);
  });

  it('refuses to decode data the reader cannot resolve, explaining why', () => {
    const withWriter = Catalog.load(FIXTURE_V2);
    const v3 = withWriter.addWriter('email.opened', 3, { ...(v1.schema as object), fields: [{ name: 'emailId', type: 'long' }] });
    const bytes = encode(v3, { emailId: 42 });
    expect(() => new Decoder(withWriter).decode('email.opened', bytes)).to.throw(
      'email.opened v2 cannot read v3 data: field "emailId" changed type from string to long',
    );
  });

  it('builds a standalone SchemaVersion from JSON text', () => {
    const sv = createSchemaVersion('lead.erased', 1, '{"type":"record","name":"LeadErased","namespace":"floe.lead","fields":[{"name":"leadId","type":"string"}]}');
    expect(sv.canonical).to.equal('{"name":"floe.lead.LeadErased","type":"record","fields":[{"name":"leadId","type":"string"}]}');
  });
});
