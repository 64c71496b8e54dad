/**
 * Floe's produce-request encoder (streams/kafka/kafkajsProduce.ts) writes the very bytes
 * kafkajs' own encoder writes, and its CRC-32C is the standard one.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { crc32c, encodeProduceRequest, ProduceArgs } from '../../streams/kafka/kafkajsProduce';

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
});
