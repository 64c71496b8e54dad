/**
 * UTC calendar arithmetic for any year. `Date.UTC` reads the years 0-99 as 1900-1999, so the
 * year 50 would be taken for 1950 (the store now takes only the years 1000-9998); these go
 * through `setUTCFullYear`, which takes the year as it is (and, like `Date.UTC`, carries a
 * month or day out of range into the next or previous one).
 */

/** Midnight UTC of (year, month 0-11, day), in epoch milliseconds. */
export function utcDay(year: number, month: number, day = 1): number {
  return new Date(0).setUTCFullYear(year, month, day);
}

/** The first instant of the UTC month `n` months after the one of `at`. */
export function monthStart(at: Date | number, n = 0): Date {
  const d = typeof at === 'number' ? new Date(at) : at;
  return new Date(utcDay(d.getUTCFullYear(), d.getUTCMonth() + n, 1));
}
