/**
 * Billing periods (DESIGN §6): a tenant's periods run from the `billingAnchorDay` of its
 * first `subscription.started` to the same day next month, calendar months (anchor 1)
 * when it has none. An anchor past a month's end is clamped to that month's last day.
 * Periods start at midnight UTC and `end` is exclusive, so a UTC day lies wholly in one
 * period: the projection keeps its usage facts by day and maps days to periods.
 *
 * This file is the only place period boundaries are computed: the projection, the
 * history recompute (`recompute.ts`) and `floe billing recompute --period` share it.
 *
 * @example
 *   periodOf(Date.parse('2026-03-14T23:59:59Z'), 15); // { start: '2026-02-15', end: '2026-03-15' }
 *   periodsBetween(Date.parse('2026-01-20'), Date.parse('2026-03-02'), 1).length; // 3
 */

import { FloeError } from '../../schemas/errors';
import { memoized } from '../../streams/memo';
import { utcDay } from '../utc';

/** The anchor of a tenant without a subscription: calendar months. */
export const CALENDAR_ANCHOR = 1;

/** One billing period: UTC dates 'YYYY-MM-DD', `end` exclusive. */
export interface Period {
  start: string;
  end: string;
}

const DAY_MS = 86_400_000;

/** Midnight UTC of (year, month, anchor), the anchor clamped to the month's length. */
function anchored(year: number, month: number, anchor: number): number {
  const last = new Date(utcDay(year, month + 1, 0)).getUTCDate();
  return utcDay(year, month, Math.min(anchor, last));
}

/** Start (epoch ms) of the period holding the instant `at`. */
export function periodStartMs(at: number, anchor: number): number {
  const d = new Date(at);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const start = anchored(y, m, anchor);
  return at >= start ? start : anchored(y, m - 1, anchor);
}

/** Start (epoch ms) of the period after the one starting at `start`. */
export function periodEndMs(start: number, anchor: number): number {
  const d = new Date(start);
  return anchored(d.getUTCFullYear(), d.getUTCMonth() + 1, anchor);
}

/** 'YYYY-MM-DD' of an epoch-ms instant (UTC). */
export const ymd = (ms: number): string => new Date(ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS)).toISOString().slice(0, 10);

/** Midnight UTC (epoch ms) of a 'YYYY-MM-DD' date (memoised: the billing fold asks per send). */
export const dayMs = memoized((day: string): number => Date.parse(`${day}T00:00:00.000Z`));

/** The period holding the instant `at`. */
export function periodOf(at: number, anchor: number): Period {
  const start = periodStartMs(at, anchor);
  return { start: ymd(start), end: ymd(periodEndMs(start, anchor)) };
}

const periodsOfAnchor = memoized((anchor: number) => memoized((day: string): Period => periodOf(dayMs(day), anchor)));

/** The period holding the UTC day 'YYYY-MM-DD' (memoised: a batch asks once per usage fact). */
export const periodOfDay = (day: string, anchor: number): Period => periodsOfAnchor(anchor)(day);

/**
 * The periods considered for a tenant whose billing-relevant instants span [first, last]:
 * from the one holding `first` to the one holding `last`, in order.
 */
export function periodsBetween(first: number, last: number, anchor: number): Period[] {
  const out: Period[] = [];
  for (let start = periodStartMs(first, anchor); start <= last; ) {
    const end = periodEndMs(start, anchor);
    out.push({ start: ymd(start), end: ymd(end) });
    start = end;
  }
  return out;
}

/** Year and month (0-11) of 'YYYY-MM', as `--period` takes it; a BAD_PERIOD error otherwise. */
export function parseMonth(month: string): { year: number; month: number } {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) throw new FloeError('BAD_PERIOD', `--period must be YYYY-MM, got ${JSON.stringify(month)}`);
  return { year: Number(m[1]), month: Number(m[2]) - 1 };
}

/** The period starting in calendar month 'YYYY-MM' (how `--period YYYY-MM` names one). */
export function periodOfMonth(month: string, anchor: number): Period {
  const m = parseMonth(month);
  const start = anchored(m.year, m.month, anchor);
  return { start: ymd(start), end: ymd(periodEndMs(start, anchor)) };
}
