/**
 * What every oracle table needs: the per-email outcome by DESIGN §5 counting rules,
 * UTC day/hour keys, row sorting and the "no all-zero row" filter.
 */
import type { TruthEmail } from '../truth';

export type Row = Record<string, unknown>;

/** The §5 counters, in column order. */
export const COUNTERS = [
  'sent',
  'delivered',
  'bounced',
  'opened_tracked',
  'human_opened',
  'clicked_tracked',
  'replied',
  'unsubscribed',
  'spam_complaints',
  'open_events',
  'click_events',
] as const;

export type Counter = (typeof COUNTERS)[number];
export type Counters = Record<Counter, number>;

/** One counted email folded over all its counted facts; ignored lines never reach it. */
export interface EmailOutcome {
  email: TruthEmail;
  cohortDay: string;
  counters: Counters;
  /** Earliest occurredAt per event type (ms), absent when none. */
  first: Partial<Record<string, number>>;
  /** Bounce type of the earliest bounce. */
  bounceType: 'hard' | 'soft' | null;
  hardBounced: boolean;
}

export const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
export const hour = (ms: number): string => new Date(Math.floor(ms / 3_600_000) * 3_600_000).toISOString();
export const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

export const zeroCounters = (): Counters => ({
  sent: 0,
  delivered: 0,
  bounced: 0,
  opened_tracked: 0,
  human_opened: 0,
  clicked_tracked: 0,
  replied: 0,
  unsubscribed: 0,
  spam_complaints: 0,
  open_events: 0,
  click_events: 0,
});

export function addCounters(into: Counters, from: Counters): void {
  for (const c of COUNTERS) into[c] += from[c];
}

export function outcome(email: TruthEmail): EmailOutcome {
  const c = zeroCounters();
  c.sent = 1;
  const first: Partial<Record<string, number>> = {};
  let bounceType: 'hard' | 'soft' | null = null;
  let hardBounced = false;
  for (const f of email.events) {
    const prev = first[f.type];
    if (prev === undefined || f.at < prev) {
      first[f.type] = f.at;
      if (f.type === 'email.bounced') bounceType = f.bounceType ?? null;
    }
    switch (f.type) {
      case 'email.delivered': c.delivered = 1; break;
      case 'email.bounced':
        c.bounced = 1;
        if (f.bounceType === 'hard') hardBounced = true;
        break;
      case 'email.opened':
        c.opened_tracked = 1;
        c.open_events++;
        if (f.machine !== true) c.human_opened = 1;
        break;
      case 'email.clicked':
        c.clicked_tracked = 1;
        c.click_events++;
        break;
      case 'email.replied': c.replied = 1; break;
      case 'email.unsubscribed': c.unsubscribed = 1; break;
      case 'email.complained': c.spam_complaints = 1; break;
      default: break; // deferred and failed feed no §5 counter
    }
  }
  return { email, cohortDay: day(email.sentAt), counters: c, first, bounceType, hardBounced };
}

/** Rows whose named counters are all zero do not exist. */
export const counted = (row: Row, counters: readonly string[]): boolean => counters.some((c) => (row[c] as number) > 0);

/** Sorts in place by the given key columns (string order, NULL first) and returns the rows. */
export function sortRows(rows: Row[], keys: readonly string[]): Row[] {
  // One composite string per row: \u0000 separates columns and marks NULL, so comparing
  // the strings compares column by column (values never contain \u0000).
  const keyed = rows.map((row) => ({
    row,
    key: keys.map((k) => (row[k] === null || row[k] === undefined ? '\u0000' : '\u0001' + String(row[k]))).join('\u0000'),
  }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  keyed.forEach(({ row }, i) => (rows[i] = row));
  return rows;
}

/** A Map that creates its entries on first use. */
export function upsert<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}
