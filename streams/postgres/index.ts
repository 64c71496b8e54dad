/**
 * The PostgreSQL backend of the event store (DESIGN §4).
 *
 * @example
 *   const store = await PostgresEventStore.open(url);
 *   await store.append(events);
 *   await store.close();
 */
import { Pool } from 'pg';
import { Catalog, defaultCatalog } from '../../schemas';
import type { RecordedEvent } from '../envelope';
import { prepareEvent, PreparedEvent } from '../prepare';
import { EarlierAppendFailedError } from '../errors';
import type { AppendInput, AppendOptions, AppendResult, EventStore, ReadOptions, StoreHead, SubscribeOptions, Subscription } from '../store';
import { appendPrepared, differences, lookup, STORED_BY_ID_SQL, StoredRow } from './append';
import { readEvents } from './read';
import { registerSchemas, SchemaResolver } from './schemaRegistry';
import { subscribe } from './subscribe';

export class PostgresEventStore implements EventStore {
  readonly schemas: SchemaResolver;
  private constructor(
    readonly pool: Pool,
    private readonly url: string,
    readonly catalog: Catalog,
    private readonly ownsPool: boolean,
  ) {
    this.schemas = new SchemaResolver(pool, catalog);
  }

  /** Open on a migrated database; registers the catalog's schemas. */
  static async open(url: string, options: { pool?: Pool; catalog?: Catalog } = {}): Promise<PostgresEventStore> {
    const pool = options.pool ?? new Pool({ connectionString: url, max: 10 });
    const store = new PostgresEventStore(pool, url, options.catalog ?? defaultCatalog(), !options.pool);
    await registerSchemas(pool, store.catalog);
    return store;
  }

  /** Validate, encode and append; throws ValidationError for the first invalid event. */
  async append(events: AppendInput[], options: AppendOptions = {}): Promise<AppendResult> {
    return this.appendPrepared(events.map((e) => prepareEvent(this.catalog, e)), options);
  }

  /**
   * Append events already prepared by `prepareEvent` (bulk loaders validate first).
   *
   * `after`: this writer's previous append, still in flight (its result, or null when it
   * stored nothing). The batch is then looked up while that one holds the append lock, and is
   * committed only after it: when `after` rejects, nothing of this batch is appended
   * (`EarlierAppendFailedError`).
   */
  async appendPrepared(events: PreparedEvent[], options: AppendOptions & { after?: Promise<AppendResult | null> } = {}): Promise<AppendResult> {
    const previous = options.after?.catch((e) => {
      throw new EarlierAppendFailedError(e);
    });
    previous?.catch(() => undefined); // awaited below, unless this call fails first
    if (events.length === 0) {
      await previous;
      return { appended: 0, duplicates: 0, firstPosition: null, lastPosition: null, results: [] };
    }
    let ahead: Parameters<typeof appendPrepared>[4];
    if (previous) {
      // On the pool: no connection is held while waiting for the previous append.
      const early = await lookup(this.pool, events).catch(async (e) => {
        await previous; // the earlier failure first: it is the one that stopped the writer
        throw e;
      });
      ahead = { lookup: early, previous: await previous };
    }
    const client = await this.pool.connect();
    try {
      return await appendPrepared(client, events, options.expectedVersion, options.beforeCommit, ahead);
    } finally {
      client.release();
    }
  }

  /**
   * Which of these events' ids are stored, and which events are stored with other content
   * (checked without appending).
   */
  async findIdConflicts(events: PreparedEvent[]): Promise<{ stored: Set<string>; conflicts: Array<{ id: string; index: number; reason: string }> }> {
    const { rows } = await this.pool.query<StoredRow>(STORED_BY_ID_SQL, [events.map((e) => e.id)]);
    const stored = new Map(rows.map((r) => [r.key, r]));
    const conflicts: Array<{ id: string; index: number; reason: string }> = [];
    events.forEach((e, index) => {
      const prior = stored.get(e.id);
      const differ = prior && differences(prior, e);
      if (differ) conflicts.push({ id: e.id, index, reason: `already stored with different content (${differ})` });
    });
    return { stored: new Set(stored.keys()), conflicts };
  }

  async read(options: ReadOptions = {}): Promise<RecordedEvent[]> {
    return readEvents(this.pool, options, this.schemas);
  }

  async *readAll(options: ReadOptions & { batchSize?: number } = {}): AsyncIterable<RecordedEvent[]> {
    let after = options.after ?? 0n;
    let remaining = options.limit ?? Infinity;
    for (;;) {
      const limit = Math.min(options.batchSize ?? 1000, remaining);
      if (limit <= 0) return;
      const page = await this.read({ ...options, after, limit });
      if (page.length) yield page;
      if (page.length < limit) return;
      after = page[page.length - 1].position;
      remaining -= page.length;
    }
  }

  async head(): Promise<StoreHead> {
    const { rows } = await this.pool.query<{ position: string | null; count: string }>(
      'SELECT max(global_position) AS position, count(*) AS count FROM floe.events',
    );
    return { position: BigInt(rows[0].position ?? 0), count: Number(rows[0].count) };
  }

  subscribe(options: SubscribeOptions, handler: (batch: RecordedEvent[]) => Promise<void>): Subscription {
    return subscribe(this.url, (after, limit) => this.read({ ...options, after, limit }), options, handler);
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}
