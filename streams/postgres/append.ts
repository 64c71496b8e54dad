/**
 * Atomic batch append on PostgreSQL.
 *
 * One transaction per call: take the append lock, see which ids are already stored and
 * where each stream stands, check expected versions, insert every new event with one COPY,
 * notify followers, commit. The append lock is a transaction-scoped advisory lock held
 * until commit, so global positions are drawn in commit order: a reader paging by position
 * never skips an event that a slower writer commits later, and stream versions cannot race.
 *
 * The lock is held for four round trips: lock (reading the store's head and the position
 * sequence), COPY (two: its start, then the rows), then move the sequence, notify and commit. The id and stream lookup runs
 * under the lock only when the caller could not look ahead: a writer that appends batch
 * after batch (`after`) looks the next batch up while the previous one holds the lock, and
 * that lookup stands when the store's head shows that nothing but that previous batch was
 * committed since (see `stillValid`).
 */
import { isDeepStrictEqual } from 'node:util';
import type { ClientBase, PoolClient, QueryResult } from 'pg';
import { EventIdConflictError, WrongExpectedVersionError } from '../errors';
import type { PreparedEvent } from '../prepare';
import type { AppendResult, ExpectedVersion } from '../store';
import { copyEvents } from './copyEvents';

/** Key of the advisory lock that serialises appends (any constant unique to Floe). */
export const APPEND_LOCK_KEY = 0x466c6f65; // "Floe"
export const EVENTS_CHANNEL = 'floe_events';

const SEQUENCE = `pg_get_serial_sequence('floe.events', 'global_position')`;

/**
 * Under the lock (READ COMMITTED, so the snapshot is taken once it is held): the newest
 * committed position, and the last position drawn, which is past it when an aborted append left
 * a gap (the sequence's last value; the head when the sequence has none, e.g. after a RESTART).
 */
const BEGIN_AND_LOCK_SQL = `BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(${APPEND_LOCK_KEY});
  SELECT h::text AS head, greatest(h, pg_sequence_last_value(${SEQUENCE}::regclass))::text AS drawn
    FROM (SELECT coalesce(max(global_position), 0) AS h FROM floe.events) head`;

export const STORED_BY_ID_SQL = `
  SELECT event_id::text AS key, type, tenant_id, stream_id, occurred_at, data, metadata
    FROM floe.events WHERE event_id = ANY($1::uuid[])`;

/** Stored events with these ids, each stream's last position, and the head, in one snapshot. */
const LOOKUP_SQL = `
  SELECT 'id' AS kind, event_id::text AS key, type, tenant_id, stream_id, occurred_at, data, metadata, NULL::bigint AS version
    FROM floe.events WHERE event_id = ANY($1::uuid[])
  UNION ALL
  SELECT 'stream', s, NULL, NULL, NULL, NULL, NULL, NULL,
         (SELECT stream_position FROM floe.events WHERE stream_id = s ORDER BY stream_position DESC LIMIT 1)
    FROM unnest($2::text[]) AS s
  UNION ALL
  SELECT 'head', '', NULL, NULL, NULL, NULL, NULL, NULL, (SELECT max(global_position) FROM floe.events)`;

export interface StoredRow {
  kind: 'id' | 'stream' | 'head';
  key: string;
  type: string;
  tenant_id: string;
  stream_id: string;
  occurred_at: Date;
  data: Buffer;
  metadata: Record<string, unknown> | null;
  version: string | null;
}

/** Why a stored event and a new one with the same id are not the same event, or undefined. */
export function differences(stored: StoredRow, e: PreparedEvent): string | undefined {
  if (stored.type !== e.type) return `type ${stored.type} vs ${e.type}`;
  if (stored.tenant_id !== e.tenantId) return `tenantId ${stored.tenant_id} vs ${e.tenantId}`;
  if (stored.stream_id !== e.stream) return `stream ${stored.stream_id} vs ${e.stream}`;
  if (stored.occurred_at.getTime() !== e.occurredAt.getTime()) return `occurredAt ${stored.occurred_at.toISOString()} vs ${e.occurredAt.toISOString()}`;
  if (!stored.data.equals(e.data)) return 'data differs';
  if (!isDeepStrictEqual(stored.metadata ?? null, e.metadata ?? null)) return 'metadata differs';
  return undefined;
}

function satisfies(expected: ExpectedVersion | undefined, actual: number): boolean {
  if (expected === undefined || expected === 'any') return true;
  if (expected === 'no_stream') return actual === -1;
  if (expected === 'stream_exists') return actual >= 0;
  return expected === actual;
}

/** What a lookup found: stored events by id, each stream's last position, the store's head. */
export interface Lookup {
  stored: Map<string, StoredRow>;
  versions: Map<string, number>;
  head: bigint;
}

/**
 * The events each append of this process stored, by its result: what the writer's next
 * append completes a lookup made before that commit with (`stillValid`).
 */
const appendedBy = new WeakMap<AppendResult, PreparedEvent[]>();

/** Look the ids and streams of a batch up (one statement, so one snapshot). */
export async function lookup(client: Pick<ClientBase, 'query'>, events: PreparedEvent[]): Promise<Lookup> {
  const ids = [...new Set(events.map((e) => e.id))];
  const streams = [...new Set(events.map((e) => e.stream))];
  const { rows } = await client.query<StoredRow>(LOOKUP_SQL, [ids, streams]);
  const found: Lookup = { stored: new Map(), versions: new Map(), head: 0n };
  for (const r of rows) {
    if (r.kind === 'id') found.stored.set(r.key, r);
    else if (r.kind === 'head') found.head = BigInt(r.version ?? 0);
    else if (r.version !== null) found.versions.set(r.key, Number(r.version));
  }
  return found;
}

/**
 * Whether a lookup made before the lock still describes the store at `head` (read under the
 * lock): nothing was committed since, or only `previous`, whose positions follow the head the
 * lookup saw without a gap. Positions are drawn under the lock in commit order, so any other
 * commit in between leaves the head elsewhere. The lookup is then completed with what
 * `previous` stored.
 */
export function stillValid(early: Lookup, head: bigint, previous: AppendResult | null, events: PreparedEvent[]): Lookup | null {
  if (head === early.head) return early;
  const stored = previous && appendedBy.get(previous); // a result of this process's own append only
  if (!stored || previous.firstPosition === null || head !== previous.lastPosition || early.head !== previous.firstPosition - 1n) return null;
  const ids = new Set(events.map((e) => e.id));
  const streams = new Set(events.map((e) => e.stream));
  stored.forEach((e, i) => {
    const { position, streamPosition } = previous.results[i];
    if (position === 'duplicate' || streamPosition === null) return;
    if (ids.has(e.id)) early.stored.set(e.id, storedRow(e));
    if (streams.has(e.stream) && streamPosition > (early.versions.get(e.stream) ?? -1)) early.versions.set(e.stream, streamPosition);
  });
  return early;
}

const storedRow = (e: PreparedEvent): StoredRow => ({
  kind: 'id',
  key: e.id,
  type: e.type,
  tenant_id: e.tenantId,
  stream_id: e.stream,
  occurred_at: e.occurredAt,
  data: e.data,
  metadata: (e.metadata ?? null) as Record<string, unknown> | null,
  version: null,
});

/**
 * Append prepared events atomically on a dedicated client. `ahead` is a lookup made before
 * the lock with the writer's previous append (`stillValid`); without it, or when it no longer
 * holds, the batch is looked up under the lock.
 */
export async function appendPrepared(
  client: PoolClient,
  events: PreparedEvent[],
  callExpected: ExpectedVersion | undefined,
  beforeCommit?: () => Promise<void>,
  ahead?: { lookup: Lookup; previous: AppendResult | null },
): Promise<AppendResult> {
  try {
    const locked = (await client.query(BEGIN_AND_LOCK_SQL)) as unknown as QueryResult<{ head: string; drawn: string }>[];
    const { head, drawn } = locked[2].rows[0];

    const found = (ahead && stillValid(ahead.lookup, BigInt(head), ahead.previous, events)) || (await lookup(client, events));
    const { stored, versions } = found;
    const conflicts: Array<{ id: string; index: number; reason: string }> = [];
    const seen = new Map<string, PreparedEvent>();
    const fresh: Array<{ e: PreparedEvent; streamPosition: number; index: number }> = [];
    const results: AppendResult['results'] = [];
    const touched = new Set<string>();
    events.forEach((e, index) => {
      const prior = stored.get(e.id);
      const earlier = seen.get(e.id);
      if (prior || earlier) {
        const differ = differences(prior ?? storedRow(earlier!), e);
        if (differ) {
          const reason = prior ? `already stored with different content (${differ})` : `repeated earlier in the same append with different content (${differ})`;
          conflicts.push({ id: e.id, index, reason });
        }
        results.push({ id: e.id, position: 'duplicate', stream: e.stream, streamPosition: null });
        return;
      }
      seen.set(e.id, e);
      const actual = versions.get(e.stream) ?? -1;
      const expected = e.expectedVersion ?? (touched.has(e.stream) ? undefined : callExpected);
      if (!satisfies(expected, actual)) throw new WrongExpectedVersionError(e.stream, expected!, actual, e.id);
      touched.add(e.stream);
      versions.set(e.stream, actual + 1);
      fresh.push({ e, streamPosition: actual + 1, index });
      results.push({ id: e.id, position: 0n, stream: e.stream, streamPosition: actual + 1 });
    });
    if (conflicts.length) throw new EventIdConflictError(conflicts);
    let firstPosition: bigint | null = null;
    let lastPosition: bigint | null = null;
    if (fresh.length) {
      // Positions drawn under the lock, so contiguous; the sequence follows at commit.
      const first = BigInt(drawn) + 1n;
      await copyEvents(client, fresh, first);
      fresh.forEach((f, i) => (results[f.index].position = first + BigInt(i)));
      firstPosition = first;
      lastPosition = first + BigInt(fresh.length - 1);
      await beforeCommit?.();
      await client.query(`SELECT setval(${SEQUENCE}, ${lastPosition}); SELECT pg_notify('${EVENTS_CHANNEL}', '${lastPosition}'); COMMIT`);
    } else {
      await client.query('COMMIT');
    }
    const result = { appended: fresh.length, duplicates: events.length - fresh.length, firstPosition, lastPosition, results };
    appendedBy.set(result, events);
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}
