/**
 * `floe kafka publish` against a real broker, read back by an independent consumer (plain
 * kafkajs, payloads decoded with avsc and the schema JSON registered in floe.event_schemas):
 * every stored event once per event id, in store order within each tenant; a re-sent tail
 * after a lost checkpoint is deduplicated by floe-event-id; a caught-up publisher follows live.
 */
import { expect } from 'chai';
import * as avro from 'avsc';
import { ConfigResourceTypes, type KafkaMessage } from 'kafkajs';
import { Pool } from 'pg';
import { useDatabase } from '../helpers/backends';
import { exited, floe, floeChild } from '../helpers/cli';
import { useKafka } from '../helpers/kafka';

type Msg = KafkaMessage & { partition: number };
const header = (m: Msg, name: string) => m.headers?.[name]?.toString();

describe('kafka publish (real broker)', function () {
  this.timeout(300_000);
  const db = useDatabase();
  const k = useKafka();
  let pool: Pool;
  let topic: string;
  before(function () {
    process.env.KAFKA_BROKERS = k.brokers.join(',');
    pool = new Pool({ connectionString: db.url });
    pool.on('error', () => {});
    topic = k.unique('events');
  });
  after(() => pool?.end());

  const storedIds = async () => (await pool.query<{ id: string }>('SELECT event_id::text AS id FROM floe.events ORDER BY global_position')).rows.map((r) => r.id);

  function publishUntilCaughtUp(): { published: number; position: number } {
    const r = floe(db.url, ['kafka', 'publish', '--topic', topic, '--partitions', '3', '--batch-size', '250', '--until-caught-up', '--json']);
    expect(r.code, r.err).to.equal(0);
    return JSON.parse(r.out.trim().split('\n').pop()!);
  }

  it('publishes every stored event once, in store order per tenant, decodable with the registered schemas', async () => {
    const gen = floe(db.url, ['generate', '--seed', '21', '--tenants', '3', '--emails', '200', '--days', '3']);
    const extra = JSON.stringify({ type: 'company.created', tenantId: 'pub-meta', occurredAt: '2026-02-01T10:00:00.000Z', data: { companyId: 'c1', name: 'Meta' }, metadata: { source: 'test', correlationId: 'x1' } });
    expect(floe(db.url, ['append'], gen.out + extra + '\n').code).to.equal(0);
    const ids = await storedIds();

    const r = publishUntilCaughtUp();
    expect(r.published).to.equal(ids.length);
    // The topic Floe created keeps its log forever.
    const admin = k.kafka.admin();
    await admin.connect();
    try {
      const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }] });
      expect(resources[0].configEntries.find((c) => c.configName === 'retention.ms')?.configValue).to.equal('-1');
    } finally {
      await admin.disconnect();
    }
    const messages = await k.consume(topic, ids.length);
    expect(messages.map((m) => header(m, 'floe-event-id')).sort()).to.deep.equal([...ids].sort());

    // Order: a tenant's events are all on one partition (key = tenant), positions increasing.
    const tenantPartition = new Map<string, number>();
    const lastPosition = new Map<string, bigint>();
    for (const m of [...messages].sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))) {
      const tenant = m.key!.toString();
      expect(header(m, 'floe-tenant')).to.equal(tenant);
      expect(tenantPartition.get(tenant) ?? m.partition).to.equal(m.partition);
      tenantPartition.set(tenant, m.partition);
      const pos = BigInt(header(m, 'floe-position')!);
      expect(pos > (lastPosition.get(tenant) ?? 0n), `tenant ${tenant}: position ${pos} after ${lastPosition.get(tenant)}`).to.equal(true);
      lastPosition.set(tenant, pos);
    }

    // Values: Avro single-object encoding; decode as an independent client would.
    const { rows } = await pool.query<{ fingerprint: Buffer; schema: object }>('SELECT fingerprint, schema FROM floe.event_schemas');
    const types = new Map(rows.map((s) => [s.fingerprint.toString('hex'), avro.Type.forSchema(s.schema as avro.Schema)]));
    const read = floe(db.url, ['read', '--limit', String(ids.length + 10)]);
    const byId = new Map(read.out.trim().split('\n').map((l) => JSON.parse(l)).map((e) => [e.id, e]));
    for (const m of messages) {
      const v = m.value!;
      expect(v.subarray(0, 2).toString('hex')).to.equal('c301');
      const type = types.get(v.subarray(2, 10).toString('hex'));
      expect(type, 'writer schema registered').to.exist;
      const e = byId.get(header(m, 'floe-event-id'));
      expect(JSON.parse(JSON.stringify(type!.fromBuffer(v.subarray(10))))).to.deep.equal(e.data);
      expect(header(m, 'floe-type')).to.equal(e.type);
      expect(header(m, 'floe-stream')).to.equal(e.stream);
      expect(header(m, 'floe-occurred-at')).to.equal(e.occurredAt);
      if (e.metadata) expect(JSON.parse(header(m, 'floe-metadata')!)).to.deep.equal(e.metadata);
    }
    const cp = await pool.query('SELECT position FROM floe.kafka_publish_checkpoints WHERE topic = $1', [topic]);
    expect(cp.rows[0].position).to.equal(String(r.position));
  });

  it('re-sends the tail after a lost checkpoint (at-least-once); deduplicating by floe-event-id leaves each event once', async () => {
    const ids = await storedIds();
    // As if the publisher crashed after the broker acknowledged the last 100 events, before its checkpoint.
    await pool.query('UPDATE floe.kafka_publish_checkpoints SET position = position - 100 WHERE topic = $1', [topic]);
    expect(publishUntilCaughtUp().published).to.equal(100);
    const messages = await k.consume(topic, ids.length + 100);
    const counts = new Map<string, number>();
    for (const m of messages) counts.set(header(m, 'floe-event-id')!, (counts.get(header(m, 'floe-event-id')!) ?? 0) + 1);
    expect([...counts.keys()].sort()).to.deep.equal([...ids].sort());
    expect(ids.filter((id) => counts.get(id) === 2)).to.deep.equal(ids.slice(-100));
  });

  it('follows new events live, refuses a second publisher for the topic, and stops on SIGTERM', async () => {
    const before = (await storedIds()).length;
    const child = floeChild(db.url, ['kafka', 'publish', '--topic', topic]);
    const done = exited(child);
    await new Promise((r) => setTimeout(r, 3000));
    const second = floe(db.url, ['kafka', 'publish', '--topic', topic, '--until-caught-up']);
    expect(second.code).to.equal(1);
    expect(second.err).to.match(/another floe kafka publish is already publishing/);

    const live = [1, 2, 3].map((i) => JSON.stringify({ type: 'company.created', tenantId: 'pub-live', occurredAt: `2026-02-02T10:00:0${i}.000Z`, data: { companyId: `l${i}`, name: `Live ${i}` } }));
    expect(floe(db.url, ['append'], live.join('\n') + '\n').code).to.equal(0);
    const messages = await k.consume(topic, before + 100 + 3);
    expect(messages.filter((m) => m.key!.toString() === 'pub-live')).to.have.length(3);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code, r.err).to.equal(0);
  });
});
