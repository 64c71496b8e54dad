import { expect } from 'chai';
import {
  CRC64_AVRO_EMPTY,
  fingerprintBytes,
  parsingCanonicalForm,
  rabinFingerprint,
} from '../../schemas/fingerprint';

/**
 * Vectors from the Avro project's share/test/data/schema-tests.txt (input, Parsing Canonical
 * Form, CRC-64-AVRO as a signed Java long), cross-checked there by Java's direct implementation.
 */
const AVRO_VECTORS: Array<[input: string, canonical: string, fingerprint?: string]> = [
  ['"null"', '"null"', '7195948357588979594'],
  ['{"type":"null"}', '"null"'],
  ['"boolean"', '"boolean"', '-6970731678124411036'],
  ['"int"', '"int"', '8247732601305521295'],
  ['{"type":"int"}', '"int"'],
  ['"long"', '"long"', '-3434872931120570953'],
  ['"float"', '"float"', '5583340709985441680'],
  ['"double"', '"double"', '-8181574048448539266'],
  ['"bytes"', '"bytes"', '5746618253357095269'],
  ['"string"', '"string"', '-8142146995180207161'],
  ['[  ]', '[]', '-1241056759729112623'],
  ['[ "int"  ]', '["int"]', '-5232228896498058493'],
  ['[ "int" , {"type":"boolean"} ]', '["int","boolean"]', '5392556393470105090'],
  ['{"fields":[], "type":"record", "name":"foo"}', '{"name":"foo","type":"record","fields":[]}', '-4824392279771201922'],
  ['{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}', '{"name":"x.y.foo","type":"record","fields":[]}', '5916914534497305771'],
  ['{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}', '{"name":"a.b.foo","type":"record","fields":[]}', '-4616218487480524110'],
  ['{"fields":[], "type":"record", "name":"foo", "doc":"foo", "aliases":["foo","bar"]}', '{"name":"foo","type":"record","fields":[]}', '-4824392279771201922'],
  ['{"fields":[{"type":{"type":"boolean"}, "name":"f1"}], "type":"record", "name":"foo"}', '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}', '7843277075252814651'],
  [
    '{"fields":[{"type":"boolean","aliases":[],"name":"f1","default":"true"},{"order":"descending","name":"f2","doc":"Hello","type":"int"}],"type":"record","name":"foo"}',
    '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}',
    '-4860222112080293046',
  ],
  ['{"type":"enum", "name":"foo", "symbols":["A1"]}', '{"name":"foo","type":"enum","symbols":["A1"]}', '-6342190197741309591'],
  ['{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}', '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}', '-4448647247586288245'],
  ['{"name":"foo","type":"fixed","size":15}', '{"name":"foo","type":"fixed","size":15}', '1756455273707447556'],
  ['{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}', '{"name":"x.y.z.foo","type":"fixed","size":32}', '-3064184465700546786'],
  ['{ "items":{"type":"null"}, "type":"array"}', '{"type":"array","items":"null"}', '-589620603366471059'],
  ['{ "values":"string", "type":"map"}', '{"type":"map","values":"string"}', '-8732877298790414990'],
  [
    '{"name":"PigValue","type":"record","fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}',
    '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
    '-1759257747318642341',
  ],
];

/** The CRC-64-AVRO polynomial division done bit by bit, with no table: an independent reference. */
function bitByBit(bytes: Uint8Array): bigint {
  let fp = CRC64_AVRO_EMPTY;
  for (const byte of bytes) {
    fp ^= BigInt(byte);
    for (let bit = 0; bit < 8; bit++) {
      const low = fp & 1n;
      fp >>= 1n;
      if (low) fp ^= CRC64_AVRO_EMPTY;
    }
  }
  return fp;
}

describe('fingerprint (Parsing Canonical Form, CRC-64-AVRO)', () => {
  for (const [input, canonical, fingerprint] of AVRO_VECTORS) {
    it(`canonicalizes ${input}${fingerprint ? ' and fingerprints it' : ''} as the Avro spec tests say`, () => {
      const pcf = parsingCanonicalForm(JSON.parse(input));
      expect(pcf).to.equal(canonical);
      if (fingerprint) expect(rabinFingerprint(pcf)).to.equal(BigInt.asUintN(64, BigInt(fingerprint)));
    });
  }

  it('knows "int" as 0x7275d51a3f395c8f, written little-endian in the header', () => {
    expect(rabinFingerprint('"int"')).to.equal(0x7275d51a3f395c8fn);
    expect(fingerprintBytes(0x7275d51a3f395c8fn).toString('hex')).to.equal('8f5c393f1ad57572');
  });

  it('returns EMPTY for no bytes', () => {
    expect(rabinFingerprint(new Uint8Array(0))).to.equal(0xc15d213aa4d7a795n);
  });

  it('agrees with a bit-by-bit implementation on every byte value and on random inputs', () => {
    const inputs = [Uint8Array.from({ length: 256 }, (_, i) => i)];
    let seed = 12345;
    for (let n = 0; n < 200; n++) {
      inputs.push(Uint8Array.from({ length: n % 97 }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff));
    }
    for (const bytes of inputs) expect(rabinFingerprint(bytes)).to.equal(bitByBit(bytes));
  });

  it('hashes strings as UTF-8', () => {
    const text = '{"name":"Zoë","type":"record","fields":[]}';
    expect(rabinFingerprint(text)).to.equal(bitByBit(Buffer.from(text, 'utf8')));
  });

  it('resolves names inside a namespace to full names and strips doc, default and custom attributes', () => {
    const pcf = parsingCanonicalForm({
      type: 'record',
      name: 'WarmupProgressed',
      namespace: 'floe.warmup',
      doc: 'x',
      fields: [
        { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['a'] } },
        { name: 'again', type: 'Kind' },
        { name: 'score', type: 'int', default: 0, 'floe.min': 0, 'floe.max': 100 },
      ],
    });
    expect(pcf).to.equal(
      '{"name":"floe.warmup.WarmupProgressed","type":"record","fields":[' +
        '{"name":"kind","type":{"name":"floe.warmup.Kind","type":"enum","symbols":["a"]}},' +
        '{"name":"again","type":"floe.warmup.Kind"},{"name":"score","type":"int"}]}',
    );
  });
});
