/**
 * Billing periods (projections/billing/periods.ts): known periods with anchor days and
 * clamping, and the memoised lookups (`dayMs`, `periodOfDay`) equal to computing afresh for
 * every day of three years and anchors that clamp differently (one cache entry per anchor).
 */
import { expect } from 'chai';
import { dayMs, periodOf, periodOfDay } from '../../projections/billing/periods';
import { monthStart } from '../../projections/utc';

describe('billing periods', () => {
  it('runs from the anchor day to the same day next month, clamped to short months', () => {
    expect(periodOfDay('2026-03-14', 15)).to.deep.equal({ start: '2026-02-15', end: '2026-03-15' });
    expect(periodOfDay('2026-03-15', 15)).to.deep.equal({ start: '2026-03-15', end: '2026-04-15' });
    expect(periodOfDay('2026-02-27', 31)).to.deep.equal({ start: '2026-01-31', end: '2026-02-28' });
    expect(periodOfDay('2026-02-28', 31)).to.deep.equal({ start: '2026-02-28', end: '2026-03-31' });
    expect(periodOfDay('2024-02-29', 30)).to.deep.equal({ start: '2024-02-29', end: '2024-03-30' });
    expect(periodOfDay('2026-01-01', 1)).to.deep.equal({ start: '2026-01-01', end: '2026-02-01' });
  });

  it('keeps the years 1-99 as they are (Date.UTC would read them as 1901-1999)', () => {
    expect(periodOfDay('0050-06-15', 1)).to.deep.equal({ start: '0050-06-01', end: '0050-07-01' });
    expect(periodOfDay('0004-02-29', 31)).to.deep.equal({ start: '0004-02-29', end: '0004-03-31' });
    expect(periodOfDay('0099-12-31', 15)).to.deep.equal({ start: '0099-12-15', end: '0100-01-15' });
    expect(periodOf(Date.parse('0001-01-01T00:00:00.000Z'), 1)).to.deep.equal({ start: '0001-01-01', end: '0001-02-01' });
    // The months partitions and period swaps are cut by.
    expect(monthStart(new Date('0050-06-15T07:30:10.403Z')).toISOString()).to.equal('0050-06-01T00:00:00.000Z');
    expect(monthStart(Date.parse('0050-12-15T00:00:00Z'), 1).toISOString()).to.equal('0051-01-01T00:00:00.000Z');
    expect(monthStart(Date.parse('2026-01-15T00:00:00Z'), -2).toISOString()).to.equal('2025-11-01T00:00:00.000Z');
  });

  it('gives, memoised, what computing afresh gives for every day and anchor', () => {
    let mismatches = 0;
    for (let ms = Date.UTC(2024, 0, 1); ms < Date.UTC(2027, 0, 1); ms += 86_400_000) {
      const day = new Date(ms).toISOString().slice(0, 10);
      if (dayMs(day) !== ms) mismatches++;
      for (const anchor of [1, 15, 28, 29, 30, 31]) {
        // Asked twice: the second answer comes from the cache.
        for (let i = 0; i < 2; i++) if (JSON.stringify(periodOfDay(day, anchor)) !== JSON.stringify(periodOf(ms, anchor))) mismatches++;
      }
    }
    expect(mismatches).to.equal(0);
  });
});
