/**
 * Entity state rows (one per mailbox, campaign, domain...) whose columns are set by
 * events, where several events may set the same columns and arrival order must not
 * matter. Columns set together by one kind of event form a *group* (`campaign.created`
 * sets company_id and name; `campaign.status_changed` sets status); each group keeps the
 * occurredAt of the event that set it in a timestamptz column, and either the latest or
 * the earliest event by (occurredAt, position) wins (DESIGN §5). Aggregates (`sum`,
 * `max`) merge across all events instead.
 *
 * Within a batch the fold compares (occurredAt, position). Across batches only occurredAt
 * is stored: the events these groups fold are never parked (parking is for `email.*`
 * events only), so within a lane every batch's events come after every stored one in the
 * store's order, and a tie on occurredAt goes to the incoming event for "latest" and to
 * the stored one for "earliest" — exactly the (occurredAt, position) order. (A dead letter
 * retried much later is the one exception: on an exact occurredAt tie it counts as later.)
 *
 * When a group's time column is not part of the public table, the registers live in a
 * private state table and every changed row is copied into the public table by the same
 * statement (`copyTo`).
 *
 * @example
 *   const campaigns = new Registers(CAMPAIGNS);              // in begin()
 *   campaigns.set([tenantId, campaignId], 'status', event, ['paused']); // in fold()
 *   await campaigns.write(tx);                               // in write(): one statement
 */
import type { StoredEvent } from '../../streams/envelope';
import { Column, iso, queryArrays, Rows } from '../runtime/sql';
import type { Fact, Projection, Tx } from '../runtime/types';

export interface Group {
  /** The timestamptz column holding the occurredAt of the event that set the group. */
  at: string;
  /** The columns the winning event sets, all of them (a NULL value included). */
  columns: Column[];
  /** Which event wins: the greatest (occurredAt, position), or the smallest. */
  wins: 'latest' | 'earliest';
  /** The columns' values on a row no event of the group has set yet (its time column stays NULL); default NULL. */
  defaults?: unknown[];
}

export interface Aggregate {
  column: Column;
  /** `sum` adds numbers; `max` keeps the greatest instant (epoch ms in memory, timestamptz in SQL). */
  merge: 'sum' | 'max';
}

export interface RegisterSpec {
  /** The table the registers are upserted into (public, or a private `floe.` state table). */
  table: string;
  key: Column[];
  groups: Record<string, Group>;
  aggregates?: Record<string, Aggregate>;
  /** Copy each upserted row's `columns` into this public table (same key), replacing them. */
  copyTo?: { table: string; columns: string[] };
}

interface Setting {
  at: number;
  position: bigint;
  values: unknown[];
}

interface Row {
  key: unknown[];
  groups: Map<string, Setting>;
  aggregates: Map<string, number>;
}

const wins = (g: Group, next: Setting, cur: Setting): boolean => {
  const later = next.at > cur.at || (next.at === cur.at && next.position > cur.position);
  return g.wins === 'latest' ? later : !later;
};

/**
 * SQL: does EXCLUDED's setting of the group beat the stored one? (Every SET expression
 * reads the old row.) A batch row that did not set the group carries its defaults and a
 * NULL time, so it never beats anything: the defaults only ever land on insert.
 */
const winsSql = (g: Group): string =>
  `EXCLUDED.${g.at} IS NOT NULL AND (cur.${g.at} IS NULL OR EXCLUDED.${g.at} ${g.wins === 'latest' ? '>=' : '<'} cur.${g.at})`;

/** One batch's settings of one register table. */
export class Registers {
  private readonly rows = new Map<string, Row>();
  private readonly groupNames: string[];
  private readonly aggregateNames: string[];

  constructor(readonly spec: RegisterSpec) {
    this.groupNames = Object.keys(spec.groups);
    this.aggregateNames = Object.keys(spec.aggregates ?? {});
  }

  get size(): number {
    return this.rows.size;
  }

  private row(key: unknown[]): Row {
    const k = key.join('\u0000');
    let r = this.rows.get(k);
    if (!r) {
      r = { key, groups: new Map(), aggregates: new Map() };
      this.rows.set(k, r);
    }
    return r;
  }

  /** `event` sets the group's columns to `values` (in the group's column order), if it wins. */
  set(key: unknown[], group: string, event: StoredEvent, values: unknown[]): void {
    const g = this.spec.groups[group];
    if (!g) throw new Error(`${this.spec.table}: unknown group ${group}`);
    if (values.length !== g.columns.length) throw new Error(`${this.spec.table}.${group}: ${values.length} values for ${g.columns.length} columns`);
    const r = this.row(key);
    const next: Setting = { at: event.occurredAt.getTime(), position: event.position, values };
    const cur = r.groups.get(group);
    if (!cur || wins(g, next, cur)) r.groups.set(group, next);
  }

  /** Merge `value` into the aggregate (a count for `sum`, epoch ms for `max`). */
  merge(key: unknown[], aggregate: string, value: number): void {
    const a = this.spec.aggregates?.[aggregate];
    if (!a) throw new Error(`${this.spec.table}: unknown aggregate ${aggregate}`);
    const r = this.row(key);
    const cur = r.aggregates.get(aggregate);
    r.aggregates.set(aggregate, cur === undefined ? value : a.merge === 'sum' ? cur + value : Math.max(cur, value));
  }

  /** One statement: upsert every row the batch touched (and copy it to the public table). */
  async write(tx: Tx): Promise<void> {
    if (this.rows.size === 0) return;
    const { spec } = this;
    const groups = this.groupNames.map((n) => spec.groups[n]);
    const aggregates = this.aggregateNames.map((n) => spec.aggregates![n]);
    const columns: Column[] = [
      ...spec.key,
      ...groups.flatMap((g) => [{ name: g.at, type: 'timestamptz' }, ...g.columns]),
      ...aggregates.map((a) => a.column),
    ];
    const rows = new Rows(columns.length);
    for (const r of this.rows.values()) {
      const values: unknown[] = [...r.key];
      this.groupNames.forEach((name, i) => {
        const s = r.groups.get(name);
        values.push(s ? iso(s.at) : null, ...(s ? s.values : (groups[i].defaults ?? groups[i].columns.map(() => null))));
      });
      this.aggregateNames.forEach((name, i) => {
        const v = r.aggregates.get(name);
        if (aggregates[i].merge === 'sum') values.push(v ?? 0);
        else values.push(v === undefined ? null : iso(v));
      });
      rows.push(...values);
    }

    const keyNames = spec.key.map((c) => c.name);
    const names = columns.map((c) => c.name);
    const set: string[] = [];
    for (const g of groups) {
      const w = winsSql(g);
      for (const c of [g.at, ...g.columns.map((x) => x.name)]) set.push(`${c} = CASE WHEN ${w} THEN EXCLUDED.${c} ELSE cur.${c} END`);
    }
    for (const a of aggregates) {
      const c = a.column.name;
      set.push(a.merge === 'sum' ? `${c} = cur.${c} + EXCLUDED.${c}` : `${c} = GREATEST(cur.${c}, EXCLUDED.${c})`);
    }
    const table = tx.table(spec.table);
    const upsert =
      `INSERT INTO ${table} AS cur (${names.join(', ')})
       SELECT * FROM unnest(${columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')}) AS u(${names.join(', ')})
       ON CONFLICT (${keyNames.join(', ')}) DO UPDATE SET ${set.join(', ')}` + (spec.copyTo ? '' : ', updated_at = now()');
    if (!spec.copyTo) {
      await queryArrays(tx.client, upsert, rows.columns);
      return;
    }
    const copied = spec.copyTo.columns;
    const replace = copied.filter((c) => !keyNames.includes(c)).map((c) => `${c} = EXCLUDED.${c}`);
    await queryArrays(
      tx.client,
      `WITH s AS (${upsert} RETURNING ${copied.join(', ')})
       INSERT INTO ${tx.table(spec.copyTo.table)} AS cur (${copied.join(', ')}) SELECT ${copied.join(', ')} FROM s
       ON CONFLICT (${keyNames.join(', ')}) DO UPDATE SET ${[...replace, 'updated_at = now()'].join(', ')}`,
      rows.columns,
    );
  }
}

/** A projection that is one register table: its events only set groups and merge aggregates. */
export function registerProjection(o: {
  name: string;
  version: number;
  spec: RegisterSpec;
  types: readonly string[];
  fold(registers: Registers, fact: Fact): void;
}): Projection<Registers> {
  const { spec } = o;
  return {
    name: o.name,
    version: o.version,
    tables: spec.copyTo ? [spec.copyTo.table, spec.table] : [spec.table],
    types: o.types,
    begin: () => new Registers(spec),
    fold: o.fold,
    write: (registers, tx) => registers.write(tx),
  };
}

export const text = (name: string): Column => ({ name, type: 'text' });
export const int = (name: string): Column => ({ name, type: 'int' });
export const timestamptz = (name: string): Column => ({ name, type: 'timestamptz' });
