/** Ingest message decoding and derived ids, without a broker. */
import { expect } from 'chai';
import { Decoder, defaultCatalog, encode, validatePayload } from '../../schemas';
import { decodeIngestMessage, ingestEventId, uuidv5 } from '../../streams/kafka';
import type { InboundMessage } from '../../streams/kafka';
import { slices } from '../../streams/kafka/kafkajs';

const catalog = defaultCatalog();
const decoder = new Decoder(catalog);
const payloads = { decode: async (type: string, data: Buffer) => decoder.decode(type, data) };
const msg = (value: Buffer | string | null, headers: Record<string, string> = {}, offset = '7'): InboundMessage => ({
  topic: 'floe.ingest',
  partition: 2,
  offset,
  key: null,
  value: value === null ? null : Buffer.from(value),
  headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)])),
});

describe('kafka ingest messages', () => {
  it('computes RFC 9562 UUIDv5 (the RFC example: DNS namespace, www.example.com)', () => {
    expect(uuidv5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).to.equal('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });

  it('gives an id-less message the id of its (topic, partition, offset), the same on redelivery', async () => {
    const e = { type: 'company.created', tenantId: 't1', occurredAt: '2026-03-01T10:00:00.000Z', data: { companyId: 'c1', name: 'Acme' } };
    const a = await decodeIngestMessage(msg(JSON.stringify(e)), catalog, payloads);
    const b = await decodeIngestMessage(msg(JSON.stringify(e)), catalog, payloads);
    const c = await decodeIngestMessage(msg(JSON.stringify(e), {}, '8'), catalog, payloads);
    expect(a.ok && b.ok && c.ok).to.equal(true);
    if (!a.ok || !b.ok || !c.ok) return;
    expect(a.event.id).to.equal(ingestEventId('floe.ingest', 2, '7')).and.to.equal(b.event.id);
    expect(c.event.id).to.not.equal(a.event.id);
    expect(a.event.stream).to.equal('tenant-t1');
  });

  it('reads Avro single-object payloads with the envelope in headers', async () => {
    const schema = catalog.current('email.opened');
    const value = encode(schema, validatePayload(schema, { emailId: 'e1', machine: true }).value);
    const id = '5f0e6c1a-2b3c-4d5e-8f90-0123456789ab';
    const d = await decodeIngestMessage(msg(value, { 'floe-type': 'email.opened', 'floe-tenant': 't1', 'floe-occurred-at': '2026-03-01T10:00:00.000Z', 'floe-event-id': id, 'floe-metadata': '{"source":"pixel"}' }), catalog, payloads);
    expect(d.ok).to.equal(true);
    if (!d.ok) return;
    expect(d.event).to.include({ id, type: 'email.opened', tenantId: 't1', stream: 'email-e1' });
    expect(d.event.metadata).to.deep.equal({ source: 'pixel' });
    expect(d.event.data.equals(value)).to.equal(true);
  });

  it('explains what is wrong with a message', async () => {
    const schema = catalog.current('email.opened');
    const avro = encode(schema, validatePayload(schema, { emailId: 'e1' }).value);
    const cases: Array<[InboundMessage, RegExp]> = [
      [msg(null), /empty message/],
      [msg('{"type":'), /neither Avro single-object encoding .* nor JSON/],
      [msg('[1,2]'), /must be a JSON object/],
      [msg(JSON.stringify({ type: 'email.opened', tenantId: 't1', occurredAt: '2026-03-01T10:00:00.000Z', data: { emailId: 5 } })), /^email\.opened, id [0-9a-f-]{36}: data\.emailId/],
      [msg(avro), /without a floe-type header/],
      [msg(avro, { 'floe-type': 'email.opened' }), /missing header floe-tenant, floe-occurred-at/],
      [msg(avro, { 'floe-type': 'email.clicked', 'floe-tenant': 't', 'floe-occurred-at': '2026-03-01T10:00:00.000Z' }), /written with the schema of email\.opened/],
      [msg(avro, { 'floe-type': 'email.opened', 'floe-tenant': 't', 'floe-occurred-at': '2026-03-01T10:00:00.000Z', 'floe-metadata': 'nope' }), /floe-metadata: not JSON/],
    ];
    for (const [m, reason] of cases) {
      const d = await decodeIngestMessage(m, catalog, payloads);
      expect(d.ok, String(reason)).to.equal(false);
      if (!d.ok) expect(d.reason).to.match(reason);
    }
  });

  it('sends in slices that stay under the broker\'s message.max.bytes, in order', () => {
    const big = Buffer.alloc(200 * 1024);
    const messages = Array.from({ length: 12 }, (_v, i) => ({ key: `k${i}`, value: big, headers: { 'floe-type': 'email.opened' } }));
    const parts = slices(messages, 512 * 1024);
    expect(parts.map((p) => p.length)).to.deep.equal([2, 2, 2, 2, 2, 2]);
    expect(parts.flat().map((m) => m.key)).to.deep.equal(messages.map((m) => m.key));
    expect(slices([{ value: Buffer.alloc(600 * 1024) }], 512 * 1024)).to.have.length(1);
    expect(slices([], 512 * 1024)).to.deep.equal([]);
  });
});
