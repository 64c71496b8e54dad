import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { BloomFilter } from '../../projections/runtime/bloom';

describe('BloomFilter', () => {
  it('never rules out a key it holds, and rules out nearly all others', () => {
    const b = new BloomFilter(1 << 20, 5);
    const held = Array.from({ length: 50_000 }, () => randomUUID());
    held.forEach((k) => b.add(k));
    expect(held.filter((k) => !b.mayContain(k))).to.deep.equal([]);
    const others = Array.from({ length: 50_000 }, () => randomUUID()).filter((k) => b.mayContain(k)).length;
    expect(others, 'false positives').to.be.lessThan(2_500);
  });
});
