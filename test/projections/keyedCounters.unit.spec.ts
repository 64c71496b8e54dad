/**
 * KeyedCounters, the accumulator every counter table folds into: equal keys add up, any
 * difference in any key column makes another row, the first attributes seen (not null) win, and the
 * columns come out in the order rows were first seen.
 */
import { expect } from 'chai';
import { KeyedCounters } from '../../projections/olap/counters';

describe('KeyedCounters', () => {
  it('adds equal keys, keeps keys that differ in any column apart, keeps the first attributes', () => {
    const acc = new KeyedCounters(3);
    acc.add(['t1', 'c1', '2026-01-05'], ['co1'], [1, 0, 2]);
    acc.add(['t1', 'c2', '2026-01-05'], ['co2'], [1, 1, 1]);
    acc.add(['t1', 'c1', '2026-01-05'], ['ignored'], [0, 1], 1); // offset 1: onto the 2nd and 3rd counters
    acc.add(['t2', 'c1', '2026-01-05'], ['co3'], [5]);
    acc.add(['t1', 'c1', '2026-01-06'], ['co1'], [0, 0, 1]);
    // Keys that would be one string if their columns were joined with U+0000 stay apart.
    acc.add(['a\u0000b', 'c', 'd'], [null], [7]);
    acc.add(['a', 'b\u0000c', 'd'], [null], [8]);
    expect(acc.size).to.equal(6);
    expect(acc.columns()).to.deep.equal([
      ['t1', 't1', 't2', 't1', 'a\u0000b', 'a'],
      ['c1', 'c2', 'c1', 'c1', 'c', 'b\u0000c'],
      ['2026-01-05', '2026-01-05', '2026-01-05', '2026-01-06', 'd', 'd'],
      ['co1', 'co2', 'co3', 'co1', null, null],
      [1, 1, 5, 0, 7, 8],
      [0, 1, 0, 0, 0, 0],
      [3, 1, 0, 1, 0, 0],
    ]);
  });

  it('takes each attribute from the first add that gives it (not null), as the tables keep theirs', () => {
    const acc = new KeyedCounters(1);
    acc.add(['t1', 's1', '2026-01-05'], [null, null], [1]);
    acc.add(['t1', 's1', '2026-01-05'], ['c7', null], [1]);
    acc.add(['t1', 's1', '2026-01-05'], ['c8', 'co2'], [1]);
    acc.add(['t1', 's1', '2026-01-05'], [null, 'co3'], [1]);
    expect(acc.columns()).to.deep.equal([['t1'], ['s1'], ['2026-01-05'], ['c7'], ['co2'], [4]]);
  });

  it('is empty until something is added', () => {
    const acc = new KeyedCounters(2);
    expect(acc.size).to.equal(0);
    expect(acc.columns()).to.deep.equal([]);
  });
});
