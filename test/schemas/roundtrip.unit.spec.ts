import { expect } from 'chai';
import { Decoder, defaultCatalog, encode, readFingerprint, validatePayload } from '../../schemas';
import { SAMPLE_PAYLOADS } from '../fixtures/sample-payloads';

describe('catalog round trip (validate → encode → decode)', () => {
  const catalog = defaultCatalog();
  const decoder = new Decoder(catalog);

  it('has a sample payload for every catalog type', () => {
    expect(Object.keys(SAMPLE_PAYLOADS).sort()).to.deep.equal(catalog.types());
  });

  for (const type of Object.keys(SAMPLE_PAYLOADS)) {
    it(`${type} round-trips with a C3 01 header and its fingerprint`, () => {
      const schema = catalog.current(type);
      const { value, issues } = validatePayload(schema, SAMPLE_PAYLOADS[type]);
      expect(issues).to.deep.equal([]);
      const bytes = encode(schema, value);
      expect([...bytes.subarray(0, 2)]).to.deep.equal([0xc3, 0x01]);
      expect(bytes.subarray(2, 10).equals(schema.fingerprint)).to.equal(true);
      expect(readFingerprint(bytes)).to.equal(schema.fingerprintHex);
      const decoded = decoder.decode(type, bytes);
      expect(decoded.version).to.equal(1);
      expect(decoded.data).to.deep.equal(SAMPLE_PAYLOADS[type]);
      expect(Object.getPrototypeOf(decoded.data)).to.equal(Object.prototype);
      expect(JSON.parse(JSON.stringify(decoded.data))).to.deep.equal(SAMPLE_PAYLOADS[type]);
    });
  }

  it('decodes absent optional fields as null and absent defaulted fields as their default', () => {
    const schema = catalog.current('email.opened');
    const bytes = encode(schema, validatePayload(schema, { emailId: 'eml_1' }).value);
    expect(decoder.decode('email.opened', bytes).data).to.deep.equal({ emailId: 'eml_1', ip: null, userAgent: null, machine: false });
  });

  it('produces the bytes any Avro implementation expects: header, then the plain binary body', () => {
    const schema = catalog.current('lead.erased');
    const bytes = encode(schema, { leadId: 'ab' });
    // string "ab": zig-zag varint length 4, then the UTF-8 bytes.
    expect(bytes.toString('hex')).to.equal(`c301${schema.fingerprintHex}046162`);
  });
});
