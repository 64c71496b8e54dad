/**
 * Append comparison against Emmett's PostgreSQL event store
 * (`@event-driven-io/emmett-postgresql`), through its public API only:
 * `getPostgreSQLEventStore(url, { connectionOptions: { pool } })`, `schema.migrate()`,
 * `appendToStream(stream, events)`, `close()`.
 *
 * The same generated NDJSON lines Floe appends are grouped by Floe's stream naming
 * (`streamFor`); each stream's events go in ONE appendToStream call (Emmett appends per
 * stream: one transaction per call, running its `emt_append_to_stream` function), from
 * `writers` concurrent callers pulling streams off a shared queue. Fresh database,
 * schema created before the clock starts; only the appends are timed.
 *
 * Emmett creates its schema itself (CreateOrUpdate auto-migration on first use, or
 * `schema.migrate()`): tables `emt_streams` and `emt_messages` (LIST-partitioned by
 * `partition`, a default partition), `emt_processors`, `emt_projections`, the sequence
 * `emt_global_message_position` and plpgsql functions (`emt_append_to_stream`, ...).
 */
import { types, Client, Pool } from 'pg';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { streamFor } from '../../streams/envelope';
import { withDatabase } from './shared';

export interface EmmettAppendResult {
  /** Events appended per second (distinct events / seconds). */
  rate: number;
  /** Events stored (checked against `emt_messages`). */
  events: number;
  /** Streams appended to, i.e. appendToStream calls. */
  streams: number;
  /** Wall time of the appends. */
  seconds: number;
}

/** What Emmett takes per event: `{ type, data, metadata }`; `metadata.messageId` becomes its `message_id`. */
interface EmmettEvent {
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown> & { messageId: string };
}

/**
 * Emmett's connection layer (dumbo) sets process-wide pg type parsers the first time a
 * store is created: int8 → BigInt, json/jsonb → its own JSON parser. Floe's code in the
 * same process (`floe bench`, mocha) expects pg's defaults, so they are put back after
 * every run; and since dumbo only installs them once per process, Emmett's are
 * re-installed for later runs so that every Emmett run sees the same parsers.
 */
const EMMETT_PARSED_OIDS = [20, 114, 3802]; // int8, json, jsonb
type Parsers = Array<(v: string) => unknown>;
const parsers = (): Parsers => EMMETT_PARSED_OIDS.map((oid) => types.getTypeParser(oid, 'text') as (v: string) => unknown);
const install = (ps: Parsers) => EMMETT_PARSED_OIDS.forEach((oid, i) => types.setTypeParser(oid, 'text', ps[i]));
let emmettParsers: Parsers | undefined;

/** The lines as Emmett events grouped by Floe's stream name, in first-seen order. */
function groupByStream(lines: string[]): { streams: Array<[string, EmmettEvent[]]>; events: number } {
  const seen = new Set<string>();
  const byStream = new Map<string, EmmettEvent[]>();
  let events = 0;
  for (const line of lines) {
    const e = JSON.parse(line);
    // Floe is idempotent by event id: the generator's retried duplicates (same id, sent
    // again) are no-ops there. Emmett has no such check (message_id is not unique; a
    // second call would store the event again), so exact duplicate ids are dropped here,
    // before timing, keeping the first: both stores then hold the same events.
    if (typeof e.id !== 'string') throw new Error('emmett bench: every generated event must carry an id');
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const stream: string | undefined = e.stream ?? streamFor(e.type, e.tenantId, e.data);
    if (!stream) throw new Error(`emmett bench: cannot derive the stream of ${e.type} ${e.id}`);
    // The same information Floe stores: id, type, stream, tenantId, occurredAt, data, metadata.
    const ev: EmmettEvent = {
      type: e.type,
      data: { ...e.data, tenantId: e.tenantId, occurredAt: e.occurredAt },
      metadata: { ...(e.metadata ?? {}), messageId: e.id },
    };
    const list = byStream.get(stream);
    if (list) list.push(ev);
    else byStream.set(stream, [ev]);
    events++;
  }
  return { streams: [...byStream], events };
}

/**
 * Append the generated `lines` to Emmett's PostgreSQL event store on a fresh database on
 * the server of `url`, one appendToStream call per stream, `writers` concurrent callers
 * (and as many pooled connections). Throws unless `emt_messages` ends up holding every
 * distinct event exactly once.
 */
export async function emmettAppend(url: string, lines: string[], writers = 1): Promise<EmmettAppendResult> {
  if (!Number.isInteger(writers) || writers < 1) throw new Error(`emmett bench: writers must be a positive integer, got ${writers}`);
  const { streams, events } = groupByStream(lines);
  return withDatabase(
    url,
    async (u) => {
      const floeParsers = parsers();
      const pool = new Pool({ connectionString: u, max: writers });
      try {
        if (emmettParsers) install(emmettParsers);
        const store = getPostgreSQLEventStore(u, { connectionOptions: { pool } });
        emmettParsers ??= parsers();
        try {
          await store.schema.migrate(); // before the clock; appendToStream reuses this migration
          let next = 0;
          const worker = async () => {
            while (next < streams.length) {
              const [stream, evs] = streams[next++];
              await store.appendToStream(stream, evs);
            }
          };
          const t0 = process.hrtime.bigint();
          await Promise.all(Array.from({ length: writers }, worker));
          const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

          const c = new Client({ connectionString: u });
          await c.connect();
          try {
            const { rows } = await c.query(
              'SELECT count(*)::int AS n, count(DISTINCT message_id)::int AS ids, (SELECT count(*)::int FROM emt_streams) AS streams FROM emt_messages',
            );
            const { n, ids, streams: stored } = rows[0] as { n: number; ids: number; streams: number };
            if (n !== events || ids !== events || stored !== streams.length) {
              throw new Error(`emmett stored ${n} events (${ids} distinct ids) in ${stored} streams, expected ${events} in ${streams.length}`);
            }
          } finally {
            await c.end();
          }
          return { rate: events / seconds, events, streams: streams.length, seconds };
        } finally {
          await store.close();
        }
      } finally {
        await pool.end();
        install(floeParsers);
      }
    },
    'emmett',
  );
}
