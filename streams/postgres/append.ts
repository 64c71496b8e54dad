/**
 * Atomic batch append on PostgreSQL.
 *
 * One transaction per call: take the append lock, look up which ids are already stored
 * and where each stream stands (one query), check expected versions, insert every new event
 * with one COPY, notify followers, commit. The append lock is a
 * transaction-scoped advisory lock held until commit, so global positions are drawn in
 * commit order: a reader paging by position never skips an event that a slower writer
 * commits later, and stream versions cannot race.
 */
import { isDeepStrictEqual } from 'node:util';
import type { PoolClient } from 'pg';
import { EventIdConflictError, WrongExpectedVersionError } from '../errors';
import type { PreparedEvent } from '../prepare';
import type { AppendResult, ExpectedVersion } from '../store';
import { copyEvents } from './copyEvents';

/** Key of the advisory lock that serialises appends (any constant unique to Floe). */
export const APPEND_LOCK_KEY = 0x466c6f65; // "Floe"
export const EVENTS_CHANNEL = 'floe_events';

const BEGIN_AND_LOCK_SQL = `BEGIN; SELECT pg_advisory_xact_lock(${APPEND_LOCK_KEY})`;

export const STORED_BY_ID_SQL = `
  SELECT event_id::text AS key, type, tenant_id, stream_id, occurred_at, data, metadata
    FROM floe.events WHERE event_id = ANY($1::uuid[])`;

const LOOKUP_SQL = `
  SELECT 'id' AS kind, event_id::text AS key, type, tenant_id, stream_id, occurred_at, data, metadata, NULL::bigint AS version
    FROM floe.events WHERE event_id = ANY($1::uuid[])
  UNION ALL
  SELECT 'stream', s, NULL, NULL, NULL, NULL, NULL, NULL,
         (SELECT stream_position FROM floe.events WHERE stream_id = s ORDER BY stream_position DESC LIMIT 1)
    FROM unnest($2::text[]) AS s`;


export interface StoredRow {
  kind: 'id' | 'stream';
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

/** Append prepared events atomically on a dedicated client. */
export async function appendPrepared(
  client: PoolClient,
  events: PreparedEvent[],
  callExpected: ExpectedVersion | undefined,
  beforeCommit?: () => Promise<void>,
): Promise<AppendResult> {
  const ids = [...new Set(events.map((e) => e.id))];
  const streams = [...new Set(events.map((e) => e.stream))];
  await client.query(BEGIN_AND_LOCK_SQL);
  try {
    const { rows } = await client.query<StoredRow>(LOOKUP_SQL, [ids, streams]);
    const stored = new Map<string, StoredRow>();
    const versions = new Map<string, number>();
    for (const r of rows) {
      if (r.kind === 'id') stored.set(r.key, r);
      else if (r.version !== null) versions.set(r.key, Number(r.version));
    }
    const conflicts: Array<{ id: string; index: number; reason: string }> = [];
    const seen = new Map<string, PreparedEvent>();
    const fresh: Array<{ e: PreparedEvent; streamPosition: number; index: number }> = [];
    const results: AppendResult['results'] = [];
    const touched = new Set<string>();
    events.forEach((e, index) => {
      const prior = stored.get(e.id);
      const earlier = seen.get(e.id);
      if (prior || earlier) {
        const reason = prior ? differences(prior, e) : earlier!.data.equals(e.data) && earlier!.type === e.type && earlier!.tenantId === e.tenantId && earlier!.occurredAt.getTime() === e.occurredAt.getTime() && earlier!.stream === e.stream && isDeepStrictEqual(earlier!.metadata, e.metadata) ? undefined : 'repeated in the same append with different content';
        if (reason) conflicts.push({ id: e.id, index, reason });
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
      const first = await copyEvents(client, fresh);
      fresh.forEach((f, i) => (results[f.index].position = first + BigInt(i)));
      firstPosition = first;
      lastPosition = first + BigInt(fresh.length - 1);
      await beforeCommit?.();
      await client.query(`SELECT pg_notify('${EVENTS_CHANNEL}', '${lastPosition}'); COMMIT`);
    } else {
      await client.query('COMMIT');
    }
    return { appended: fresh.length, duplicates: events.length - fresh.length, firstPosition, lastPosition, results };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}
