/**
 * The per-email counters of DESIGN §5 and the in-memory accumulator every counter table
 * folds into. A fact moves a counter when it changes the email's ledger entry: the first
 * delivery sets `delivered`, the first machine-free open sets `human_opened`, each open
 * adds to `open_events`, and so on, so duplicates and late arrivals never double count.
 */
import type { ClientBase } from 'pg';
import type { Column } from '../runtime/sql';
import { EMAIL_COUNTER_NAMES } from '../tables/ddl';
import { Rows, upsert } from '../runtime/sql';
import type { EmailState, Fact } from '../runtime/types';

/** The §5 counters, in column order (the tables' definition is the one list). */
export const COUNTERS = EMAIL_COUNTER_NAMES;

/** The email events that move a §5 counter. */
export const COUNTED_EMAIL_TYPES = [
  'email.sent',
  'email.delivered',
  'email.bounced',
  'email.opened',
  'email.clicked',
  'email.replied',
  'email.unsubscribed',
  'email.complained',
] as const;

export const COUNTER_COLUMNS: Column[] = COUNTERS.map((name) => ({ name, type: 'int' }));

const became = (prev: unknown, next: unknown): number => (prev === null && next !== null ? 1 : 0);

const SENT: readonly number[] = Object.freeze(COUNTERS.map((_, i) => (i === 0 ? 1 : 0)));

/**
 * How one fact moves the counters of its email (indexed like COUNTERS), or null when it moves
 * none: worked out by the first projection that asks, and shared (read-only) with the others.
 */
export function counterDelta(f: Fact): readonly number[] | null {
  const m = f.email;
  if (!m) return null;
  if (m.delta === undefined) m.delta = movedCounters(m.prev, m.next);
  return m.delta;
}

function movedCounters(prev: EmailState | null, next: EmailState): readonly number[] | null {
  if (prev === null) return SENT;
  const d = [
    0,
    became(prev.deliveredAt, next.deliveredAt),
    became(prev.bouncedAt, next.bouncedAt),
    became(prev.firstOpenedAt, next.firstOpenedAt),
    !prev.humanOpened && next.humanOpened ? 1 : 0,
    became(prev.firstClickedAt, next.firstClickedAt),
    became(prev.repliedAt, next.repliedAt),
    became(prev.unsubscribedAt, next.unsubscribedAt),
    became(prev.complainedAt, next.complainedAt),
    next.openCount - prev.openCount,
    next.clickCount - prev.clickCount,
  ];
  return d.some((x) => x !== 0) ? d : null;
}

/**
 * Rows keyed by some columns, with counters that add up and other columns set once (the
 * first value seen wins, as on insert). Rows are found through one Map level per key column
 * (every key of one accumulator has the same columns): no key string is built per event, which
 * made joining the columns the largest cost of a fold.
 */
export class KeyedCounters {
  private readonly index: Level = new Map();
  private readonly rows: CounterRow[] = [];
  constructor(readonly width: number) {}

  add(key: unknown[], attrs: unknown[], delta: readonly number[], offset = 0): void {
    let level = this.index;
    const last = key.length - 1;
    for (let i = 0; i < last; i++) {
      let next = level.get(key[i]) as Level | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(key[i], next);
      }
      level = next;
    }
    let r = level.get(key[last]) as CounterRow | undefined;
    if (r === undefined) {
      r = { key, attrs, counts: new Array(this.width).fill(0) };
      level.set(key[last], r);
      this.rows.push(r);
    } else {
      // Each attribute is the first one given that is not null, as the tables' upserts keep
      // theirs (COALESCE(cur, new)): a row's attributes do not depend on where batches began.
      for (let i = 0; i < attrs.length; i++) if (r.attrs[i] == null && attrs[i] != null) r.attrs[i] = attrs[i];
    }
    for (let i = 0; i < delta.length; i++) r.counts[offset + i] += delta[i];
  }

  get size(): number {
    return this.rows.length;
  }

  /** Column-major arrays: key columns, then attributes, then counters. */
  columns(): unknown[][] {
    const first = this.rows[0];
    const out = new Rows(first ? first.key.length + first.attrs.length + this.width : 0);
    for (const r of this.rows) out.push(...r.key, ...r.attrs, ...r.counts);
    return out.columns;
  }
}

interface CounterRow {
  key: unknown[];
  attrs: unknown[];
  counts: number[];
}
type Level = Map<unknown, Level | CounterRow>;

/**
 * The companies a batch's `campaign.created` or `mailbox.created` events give: one per (tenant,
 * id), the first given that is not null (an upsert must not name a row twice), written to a
 * projection's private (tenant_id, `key`, company_id) table where, likewise, the first company
 * given that is not null stays.
 */
export class GivenCompanies {
  private readonly rows = new Map<string, [string, string, string | null]>();

  note(tenantId: string, id: string, companyId: string | null): void {
    const key = `${tenantId}\u001f${id}`;
    const row = this.rows.get(key);
    if (!row) this.rows.set(key, [tenantId, id, companyId]);
    else row[2] ??= companyId;
  }

  get size(): number {
    return this.rows.size;
  }

  /** Column-major: tenant ids, ids, companies. */
  columns(): [string[], string[], Array<string | null>] {
    const out: [string[], string[], Array<string | null>] = [[], [], []];
    for (const [t, id, c] of this.rows.values()) {
      out[0].push(t);
      out[1].push(id);
      out[2].push(c);
    }
    return out;
  }

  save(client: ClientBase, table: string, key: string): Promise<number> {
    const columns: Column[] = [
      { name: 'tenant_id', type: 'text' },
      { name: key, type: 'text' },
      { name: 'company_id', type: 'text' },
    ];
    return upsert(client, table, columns, this.columns(), { conflict: ['tenant_id', key], update: { company_id: 'COALESCE(cur.company_id, EXCLUDED.company_id)' } });
  }
}

/** The email's counters land on its cohort day (DESIGN §5). */
export const cohortDay = (s: EmailState): string => s.cohortDay;
