/**
 * Mailbox day rows with gauges, shared by `mailbox_analytics` and `warmup_analytics`:
 * rows keyed by (tenant_id, mailbox_id, day) whose counters add up, and whose gauge
 * columns (`warmup_status`, `health_score`, `progress_percentage`) take the value of the
 * day's latest event of their kind by (occurredAt, position), NULL when none (DESIGN §5).
 *
 * A row exists for every day on which an event counts in it or sets one of its gauges (a
 * day whose only warm-up event is `warmup.progressed` has its health score on record). The
 * day's gauges must be the latest of the day whatever the arrival order and however the
 * events fall into batches, so every gauge is kept in a private table per (tenant,
 * mailbox, day) with the (occurredAt, position) of the event that set it; the day-row
 * upsert then reads the gauges from that table for every key the batch touched. A gauge
 * is a *slot*: one or more columns set together by one event (`warmup.progressed` sets
 * both health_score and progress_percentage).
 *
 * @example
 *   const days = new MailboxDays(['sent'], [{ name: 'progress', columns: [{ name: 'health_score', type: 'int' }] }]);
 *   days.count(tenantId, mailboxId, day, [1]);                      // fold
 *   days.gauge('progress', tenantId, mailboxId, day, [80], event);  // fold
 *   await days.saveGauges(tx.client, tx.table(GAUGES));             // write: gauges first,
 *   await days.upsertRows(tx.client, { table: tx.table(TABLE), gauges: tx.table(GAUGES) }); // then rows
 */
import type { ClientBase } from 'pg';
import type { StoredEvent } from '../../streams/envelope';
import { Column, iso, queryArrays, Rows, upsert } from '../runtime/sql';
import { KeyedCounters } from './counters';

/** Gauge columns set together by one event. In the private table: its columns, `${name}_at`, `${name}_position`. */
export interface GaugeSlot {
  name: string;
  columns: Column[];
}

interface Setting {
  values: unknown[];
  at: number;
  position: bigint;
}

const KEY_COLUMNS: Column[] = [
  { name: 'tenant_id', type: 'text' },
  { name: 'mailbox_id', type: 'text' },
  { name: 'day', type: 'date' },
];
const KEY = KEY_COLUMNS.map((c) => c.name);
const keyOf = (tenantId: string, mailboxId: string, day: string): string => `${tenantId}\u0000${mailboxId}\u0000${day}`;
const later = (a: Setting, b: Setting): boolean => a.at > b.at || (a.at === b.at && a.position > b.position);

/** Per-row attribute columns a projection adds between the key and the counters (e.g. company_id). */
export interface DayRowAttributes {
  columns: Column[];
  /** The batch's values of the attributes for one key. */
  values(tenantId: string, mailboxId: string, day: string): unknown[];
  /** SQL per column for the inserted value, over `u.<column>` and the tables of `join`. */
  insert: string[];
  /** SQL per column for the value on conflict, over `cur` and `EXCLUDED`. */
  update: string[];
  /** Extra `LEFT JOIN … ON …` clauses for `insert`. */
  join?: string;
}

export interface DayRowsTarget {
  /** Physical name of the public day table. */
  table: string;
  /** Physical name of the private gauge table (written by `saveGauges` earlier in the batch). */
  gauges: string;
  attributes?: DayRowAttributes;
}

/** One batch's mailbox day rows: counter deltas and gauge settings by (tenant, mailbox, day). */
export class MailboxDays {
  private readonly counters: KeyedCounters;
  private readonly settings = new Map<string, { key: [string, string, string]; slots: Array<Setting | null> }>();

  constructor(
    readonly counterNames: readonly string[],
    readonly slots: readonly GaugeSlot[],
  ) {
    this.counters = new KeyedCounters(counterNames.length);
  }

  /** Add `delta` to the counters from `offset` on (indexed like `counterNames`). */
  count(tenantId: string, mailboxId: string, day: string, delta: readonly number[], offset = 0): void {
    this.counters.add([tenantId, mailboxId, day], [], delta, offset);
  }

  /** The gauge slot `slot` set to `values` by `event`; the latest by (occurredAt, position) wins. */
  gauge(slot: string, tenantId: string, mailboxId: string, day: string, values: unknown[], event: StoredEvent): void {
    const i = this.slots.findIndex((s) => s.name === slot);
    if (i < 0) throw new Error(`unknown gauge slot ${slot}`);
    const k = keyOf(tenantId, mailboxId, day);
    let entry = this.settings.get(k);
    if (!entry) {
      entry = { key: [tenantId, mailboxId, day], slots: this.slots.map(() => null) };
      this.settings.set(k, entry);
    }
    const next: Setting = { values, at: event.occurredAt.getTime(), position: event.position };
    const cur = entry.slots[i];
    if (!cur || later(next, cur)) entry.slots[i] = next;
    // Touch the row with zero deltas: the upsert creates it, or refreshes its gauges.
    this.counters.add([tenantId, mailboxId, day], [], []);
  }

  /** Merge the batch's gauge settings into the private gauge table: one upsert, the latest setting per slot wins. */
  async saveGauges(client: ClientBase, table: string): Promise<void> {
    if (this.settings.size === 0) return;
    const columns = [...KEY_COLUMNS];
    const update: Record<string, string> = {};
    for (const s of this.slots) {
      const at = `${s.name}_at`;
      const pos = `${s.name}_position`;
      columns.push(...s.columns, { name: at, type: 'timestamptz' }, { name: pos, type: 'bigint' });
      // Every SET expression reads the old row (`cur`), so the test holds for all of the slot's columns.
      const newer = `EXCLUDED.${at} IS NOT NULL AND (cur.${at} IS NULL OR (EXCLUDED.${at}, EXCLUDED.${pos}) > (cur.${at}, cur.${pos}))`;
      for (const c of [...s.columns.map((c) => c.name), at, pos]) update[c] = `CASE WHEN ${newer} THEN EXCLUDED.${c} ELSE cur.${c} END`;
    }
    const rows = new Rows(columns.length);
    for (const { key, slots } of this.settings.values()) {
      const row: unknown[] = [...key];
      this.slots.forEach((s, i) => {
        const set = slots[i];
        row.push(...(set ? set.values : s.columns.map(() => null)), set ? iso(set.at) : null, set ? String(set.position) : null);
      });
      rows.push(...row);
    }
    await upsert(client, table, columns, rows.columns, { conflict: KEY, update });
  }

  /**
   * Upsert the day rows the batch touched, with their gauges read from the gauge table:
   * every key inserts or increments its row (a key touched only by gauges has zero
   * counters), and every row takes the day's gauges as they now stand.
   */
  async upsertRows(client: ClientBase, target: DayRowsTarget): Promise<void> {
    if (this.counters.size === 0) return;
    const a = target.attributes;
    const counterNames = [...this.counterNames];
    const gaugeNames = this.slots.flatMap((s) => s.columns.map((c) => c.name));
    const input = [...KEY_COLUMNS, ...(a?.columns ?? []), ...counterNames.map((name) => ({ name, type: 'int' }))];
    const names = input.map((c) => c.name);
    const columns = this.counters.columns(); // key columns, then counters (no attrs)
    const attrValues = (a?.columns ?? []).map(() => [] as unknown[]);
    if (a) {
      for (let r = 0; r < columns[0].length; r++) {
        a.values(columns[0][r] as string, columns[1][r] as string, columns[2][r] as string).forEach((v, i) => attrValues[i].push(v));
      }
    }
    const sameKey = (x: string) => KEY.map((k) => `${x}.${k} = u.${k}`).join(' AND ');
    const set = [
      ...(a?.columns ?? []).map((c, i) => `${c.name} = ${a!.update[i]}`),
      ...counterNames.map((c) => `${c} = cur.${c} + EXCLUDED.${c}`),
      ...gaugeNames.map((c) => `${c} = EXCLUDED.${c}`),
      'updated_at = now()',
    ];
    await queryArrays(
      client,
      `INSERT INTO ${target.table} AS cur (${[...names, ...gaugeNames].join(', ')})
       SELECT ${[...KEY.map((k) => `u.${k}`), ...(a?.insert ?? []), ...counterNames.map((c) => `u.${c}`), ...gaugeNames.map((c) => `g.${c}`)].join(', ')}
         FROM unnest(${input.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')}) AS u(${names.join(', ')})
         LEFT JOIN ${target.gauges} g ON ${sameKey('g')}
         ${a?.join ?? ''}
       ON CONFLICT (${KEY.join(', ')}) DO UPDATE SET ${set.join(', ')}`,
      [...columns.slice(0, KEY.length), ...attrValues, ...columns.slice(KEY.length)],
    );
  }
}
