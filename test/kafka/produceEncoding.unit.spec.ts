/**
 * Floe's produce-request encoder (streams/kafka/kafkajsProduce.ts) writes the very bytes
 * kafkajs' own encoder writes, and its CRC-32C is the standard one.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import Module from 'node:module';
import { spawnSync } from 'node:child_process';
import * as pathModule from 'node:path';
import { readFileSync } from 'node:fs';
import { crc32c, encodeProduceRequest, groupMessagesPerPartition, ProduceArgs } from '../../streams/kafka/kafkajsProduce';
import '../../streams/kafka/kafkajs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const kafkajsV3 = require('kafkajs/src/protocol/requests/produce/v3/request') as (a: ProduceArgs) => { encode(): Promise<{ buffer: Buffer }> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Long = require('kafkajs/src/utils/long');

async function kafkajsBytes(a: ProduceArgs, now: number): Promise<Buffer> {
  const real = Date.now;
  Date.now = () => now;
  try {
    return (await kafkajsV3(a).encode()).buffer;
  } finally {
    Date.now = real;
  }
}

const text = (n: number) => Array.from({ length: n }, (_, i) => 'aé€😀z'[i % 5]).join('');

describe('kafka produce encoding', () => {
  it('CRC-32C of "123456789" is 0xE3069283', () => {
    expect(crc32c(Buffer.from('123456789'))).to.equal(0xe3069283);
    const b = randomBytes(1001);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const theirs = require('kafkajs/src/protocol/recordBatch/crc32C')(b);
    expect(crc32c(b)).to.equal(theirs);
  });

  it('writes the bytes kafkajs writes: keys, values and headers as text, bytes or null, many records and partitions', async () => {
    const now = 1_767_225_600_123;
    const messages = (n: number, seed: number) =>
      Array.from({ length: n }, (_, i) => ({
        key: i % 7 === 0 ? null : i % 2 ? `tenant-${(seed + i) % 10}` : Buffer.from(`k${i}`),
        value: i % 11 === 0 ? null : i % 3 ? randomBytes((i * 37) % 300) : text(i % 200),
        headers:
          i % 5 === 0
            ? undefined
            : { 'floe-type': 'email.opened', 'floe-event-id': text(36), 'floe-position': String(1e12 + i), empty: '', raw: randomBytes(i % 150), ...(i % 4 ? {} : { 'floe-metadata': JSON.stringify({ x: text(i) }) }) },
      }));
    for (const producerId of [Long.fromInt(-1), Long.fromNumber(123456789012), 42]) {
      const args: ProduceArgs = {
        acks: -1,
        timeout: 30000,
        compression: 0,
        producerId,
        producerEpoch: 3,
        topicData: [
          { topic: 'floe.events', partitions: [{ partition: 0, firstSequence: 0, messages: messages(1, 1) }, { partition: 2, firstSequence: 77, messages: messages(400, 2) }] },
          { topic: 'other', partitions: [{ partition: 1, firstSequence: 2 ** 30, messages: messages(70, 3) }] },
        ],
      };
      const ours = encodeProduceRequest(args, now);
      expect(ours.equals(await kafkajsBytes(args, now)), `producerId ${producerId}`).to.equal(true);
    }
  });

  it("groups a send's messages by partition as kafkajs does, in one pass, and kafkajs' producer uses it", () => {
    const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition');
    // kafkajs' own grouping, compiled from its file beside the one in the module cache.
    const original = new Module(path) as Module & { _compile(code: string, file: string): void };
    original._compile(readFileSync(path, 'utf8'), path);
    const theirs = original.exports as (a: unknown) => Record<number, unknown[]>;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ours = groupMessagesPerPartition as unknown as typeof theirs;
    // Where Floe loads kafkajs (its transport, as the CLI does), kafkajs gets the one-pass grouping.
    const probe = spawnSync(
      process.execPath,
      ['-r', 'tsx/cjs', '-e', `require('./streams/kafka/kafkajs'); require('kafkajs'); console.log(require(${JSON.stringify(path)}) === require('./streams/kafka/kafkajsProduce').groupMessagesPerPartition && Boolean(require.cache[require.resolve('kafkajs/src/producer/sendMessages')]))`],
      { cwd: pathModule.join(__dirname, '..', '..'), encoding: 'utf8' },
    );
    expect(probe.stdout.trim(), probe.stderr).to.equal('true');
    const partitionMetadata = [{ partitionId: 0 }, { partitionId: 1 }, { partitionId: 2 }, { partitionId: 3 }];
    const messages = Array.from({ length: 500 }, (_, i) => ({ key: `tenant-${(i * 7919) % 13}`, value: String(i) }));
    const partitioner = ({ message }: { message: { key: string } }) => Number(message.key.slice(7)) % 4;
    const args = { topic: 'floe.events', partitionMetadata, messages, partitioner };
    const got = ours(args);
    expect(got).to.deep.equal(theirs(args));
    expect(Object.values(got).flat()).to.have.length(500);
    expect(ours({ ...args, partitionMetadata: [] })).to.deep.equal({});
  });
});

