/**
 * One batch of one lane, inside one transaction: resolve every `email.*` event against
 * the ledger (park it when its email has not been sent yet, release what was parked when
 * the send arrives, dead-letter it when it names another tenant, ignore second sends),
 * fold the facts into each projection's accumulator, write every projection set-based,
 * then the ledger, parking, dead letters and checkpoints — all or nothing.
 */
import type { PoolClient } from 'pg';
import { FloeError } from '../../schemas/errors';
import type { StoredEvent } from '../../streams/envelope';
import { applyEmailEvent, firstSends, LaneLedger, loadLedger, MemoryLedger, Owner, ownedElsewhere, saveLedger, sentState, usesLedger } from './ledger';
import { arrayParams, Reader, Rows, upsert } from './sql';
import { timings } from './timings';
import type { AnyProjection, EmailState, Fact, Tx } from './types';

/** A fold that threw: the runtime excludes the event and retries the batch. */
export class FoldError extends Error {
  constructor(readonly event: StoredEvent, readonly projection: string, override readonly cause: unknown) {
    super(`projection ${projection} failed on event ${event.id} (${event.type} at position ${event.position}): ${describe(cause)}`);
  }
}

export const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** A state the projector must not go past (the runtime neither retries nor dead-letters it): the run stops. */
export class StopProjecting extends FloeError {}

export interface LaneRef {
  lane: string;
  shard: string;
  projections: AnyProjection[];
  /** Physical table name for a projection's table (shadow tables during a rebuild). */
  table(projection: AnyProjection, name: string): string;
}

export interface DeadLetter {
  event: StoredEvent;
  projection: string | null;
  error: string;
  retriable: boolean;
}

export interface BatchOutcome {
  facts: number;
  parked: number;
  released: number;
  ignored: number;
  deadLettered: number;
  /** Ledger entries this batch changed (for the cache, once committed). */
  changed: Map<string, EmailState>;
  /** The emails among `changed` whose entry this batch created (their first send is in it). */
  created: Set<string>;
}

export interface BatchInput {
  events: StoredEvent[];
  /** The lane position after this batch (the last event read, even if nothing handled it). */
  position: bigint;
  /** Events dead-lettered up front (their fold failed in an earlier attempt, or a retry found them still bad). */
  dead: Map<string, DeadLetter>;
  /** Parked events to load back from the store when their email is sent. */
  loadEvents(positions: bigint[]): Promise<StoredEvent[]>;
  /**
   * The lane's ledger as last committed, by email id (null: known not to be sent). Only the
   * lane's single writer may pass one; `changed` of the outcome is applied to it after COMMIT.
   */
  cache?: LaneLedger;
}

/**
 * A folded batch not yet committed: what the next batch must see as if it were (the
 * runtime folds batch N+1 while batch N is being written).
 */
export interface Pending {
  /** Ledger entries the batch changed. */
  changed: Map<string, EmailState>;
  /** Events the batch parks (their rows are not committed yet), by email id. */
  parked: Map<string, StoredEvent[]>;
}

/** A batch folded in memory: everything its transaction has to write. */
export interface BatchPlan extends Pending {
  accs: Array<{ p: AnyProjection; acc: unknown }>;
  /** Parked positions the batch releases (deleted with its commit). */
  released: bigint[];
  /**
   * The entries the fold started from, of the emails the batch names (absent: not sent yet):
   * what a memory ledger puts back if the batch's write fails (`commitUndoable`).
   */
  before: ReadonlyMap<string, EmailState>;
  /** The lane's ledger is a MemoryLedger: its changes are not saved with the batch. */
  ledgerInMemory: boolean;
  deadLetters: DeadLetter[];
  outcome: BatchOutcome;
}

const yieldToWrites = () => new Promise<void>((resolve) => setImmediate(resolve));

const emailIdOf = (e: StoredEvent): string | undefined => {
  const id = (e.data as { emailId?: unknown }).emailId;
  return typeof id === 'string' ? id : undefined;
};

/** The shard of a lane that sees every tenant. */
const UNSHARDED = '0/1';

const tenantMismatch = (e: StoredEvent, state: Pick<EmailState, 'emailId' | 'tenantId'>): DeadLetter => ({
  event: e,
  projection: null,
  retriable: false,
  error: `tenant mismatch: event names tenant ${e.tenantId} but email ${state.emailId} belongs to tenant ${state.tenantId}`,
});

/** Fold and write one batch inside the caller's transaction on `client`. */
export async function applyBatch(client: PoolClient, lane: LaneRef, input: BatchInput): Promise<BatchOutcome> {
  const plan = await foldBatch(client, lane, input);
  await writeBatch(client, lane, plan);
  return plan.outcome;
}

/**
 * Resolve a batch against the ledger and fold it into every projection's accumulator, in
 * memory. Reads (ledger entries, parked events) go through `client` (the pool will do); `pending` is the
 * previous batch when it is still being written, whose ledger changes and parked events
 * count as committed. The loop yields now and then so that a write in flight keeps going.
 */
export async function foldBatch(client: Reader, lane: LaneRef, input: BatchInput & { pending?: Pending }): Promise<BatchPlan> {
  const { events, dead, pending } = input;

  // Ledger entries of every email the batch mentions (from the lane's cache when it has
  // them), and what is parked for the emails whose send is in the batch. A lane without
  // email projections keeps no ledger at all.
  const ledgered = usesLedger(lane.projections);
  const emailIds = new Set<string>();
  const sentIds = new Set<string>();
  for (const e of events) {
    if (!ledgered || !e.type.startsWith('email.')) continue;
    const id = emailIdOf(e);
    if (id === undefined) continue;
    emailIds.add(id);
    if (e.type === 'email.sent') sentIds.add(id);
  }
  const tLoad = performance.now();
  const ledger = new Map<string, EmailState>();
  const unknown: string[] = [];
  if (input.cache && emailIds.size) await input.cache.fill(client, lane.lane, lane.shard);
  for (const id of emailIds) {
    const inFlight = pending?.changed.get(id);
    if (inFlight) {
      ledger.set(id, inFlight);
      continue;
    }
    const cached = input.cache?.get(id);
    if (cached === undefined) {
      if (!input.cache?.certainlyAbsent(id)) unknown.push(id);
    } else if (cached !== null) ledger.set(id, cached);
  }
  for (const [id, s] of await loadLedger(client, lane.lane, lane.shard, unknown)) ledger.set(id, s);
  if (input.cache) for (const id of unknown) input.cache.set(id, ledger.get(id) ?? null);
  const waiting = [...sentIds].filter((id) => !ledger.has(id) && input.cache?.mayHaveParked(id) !== false);
  const parkedInStore = new Map<string, bigint[]>();
  if (waiting.length) {
    const { rows } = await client.query<{ email_id: string; position: string }>(
      `SELECT email_id, position FROM floe.projection_parked
        WHERE lane = $1 AND shard = $2 AND email_id = ANY($3::text[]) ORDER BY position`,
      [lane.lane, lane.shard, waiting],
    );
    for (const r of rows) {
      const list = parkedInStore.get(r.email_id) ?? [];
      list.push(BigInt(r.position));
      parkedInStore.set(r.email_id, list);
    }
  }
  // Read back at once, before the fold: one read per batch, not one per send that releases some.
  const parkedRead = new Map<bigint, StoredEvent>();
  if (parkedInStore.size) for (const w of await input.loadEvents([...parkedInStore.values()].flat())) parkedRead.set(w.position, w);
  // A shard (--shards, a Kafka partition) sees only its own tenants' events, so its ledger
  // lacks the emails that tenants of other shards sent: the store says whose those are.
  // (A dead-letters retry passes position 0: the batch's own events bound the lookup then.)
  const upTo = events.reduce((max, e) => (e.position > max ? e.position : max), input.position);
  const owners =
    !ledgered || lane.shard === UNSHARDED ? new Map<string, Owner>() : await firstSends(client, events.filter((e) => !ledger.has(emailIdOf(e) ?? '')), upTo);
  // A shard's parked events whose email a tenant of another shard has sent since they were
  // parked: this shard never reads that send, so nothing here would release them (see below).
  const parkedOwners = !ledgered || lane.shard === UNSHARDED ? [] : await parkedEmailOwners(client, lane, [...(pending?.parked.keys() ?? [])], upTo);
  timings.add('ledger load', performance.now() - tLoad);
  const tFold = performance.now();

  const parkedNow = new Map<string, StoredEvent[]>(); // parked during this batch, not yet written
  const changed = new Map<string, EmailState>();
  const created = new Set<string>();
  const outcome: BatchOutcome = { facts: 0, parked: 0, released: 0, ignored: 0, deadLettered: 0, changed, created };
  const handlers = new Map<string, Array<{ p: AnyProjection; acc: unknown }>>();
  const accs = lane.projections.map((p) => ({ p, acc: p.begin() }));
  for (const entry of accs) {
    for (const t of entry.p.types) {
      const list = handlers.get(t) ?? [];
      list.push(entry);
      handlers.set(t, list);
    }
  }
  const released: bigint[] = [];
  const deadLetters: DeadLetter[] = []; // recorded once, by the transaction that skips the event
  const skip = (e: StoredEvent): boolean => {
    if (dead.size === 0) return false; // the pipelined path: no event id is hashed for nothing
    const d = dead.get(e.id);
    if (d) deadLetters.push(d);
    return d !== undefined;
  };

  const fold = (fact: Fact) => {
    const list = handlers.get(fact.event.type);
    if (!list) return;
    outcome.facts++;
    for (const { p, acc } of list) {
      try {
        p.fold(acc, fact);
      } catch (e) {
        throw new FoldError(fact.event, p.name, e);
      }
    }
  };

  const applyLifecycle = (state: EmailState, e: StoredEvent) => {
    if (e.tenantId !== state.tenantId) {
      deadLetters.push(tenantMismatch(e, state));
      return state;
    }
    const next = applyEmailEvent(state, e);
    fold({ event: e, email: { prev: state, next, delta: undefined } });
    return next;
  };

  // With a write in flight, give it the thread at least every millisecond or so: its next
  // statement waits for us otherwise, and PostgreSQL idles.
  let i = 0;
  let slice = performance.now();
  for (const e of events) {
    if (pending && (++i & 15) === 0 && performance.now() - slice > 1) {
      await yieldToWrites();
      slice = performance.now();
    }
    if (skip(e)) continue;
    if (!ledgered || !e.type.startsWith('email.')) {
      fold({ event: e });
      continue;
    }
    const id = emailIdOf(e);
    if (id === undefined) continue; // the schema requires it; nothing to resolve
    let state = changed.get(id) ?? ledger.get(id);
    // In a shard, an email no entry knows may be one a tenant of another shard sent first.
    const owner = state ? undefined : owners.get(id);
    if (owner && ownedElsewhere(owner, e)) {
      deadLetters.push(tenantMismatch(e, { emailId: id, tenantId: owner.tenantId }));
      continue;
    }
    if (e.type === 'email.sent') {
      if (state) {
        // A later send of a counted email: ignored everywhere (DESIGN §5); one naming another
        // tenant than the email's is also a tenant mismatch, dead-lettered like any other event.
        if (e.tenantId !== state.tenantId) deadLetters.push(tenantMismatch(e, state));
        else outcome.ignored++;
        continue;
      }
      state = sentState(e);
      created.add(id);
      fold({ event: e, email: { prev: null, next: state, delta: undefined } });
      // Release what waited for this send, in store order.
      const waiting: StoredEvent[] = [];
      const stored = parkedInStore.get(id);
      if (stored) {
        const loaded = stored.flatMap((p) => parkedRead.get(p) ?? []);
        if (loaded.length !== stored.length) {
          const missing = stored.filter((p) => !parkedRead.has(p));
          throw new StopProjecting(
            'PARKED_EVENT_MISSING',
            `email ${id}: events parked at positions ${missing.join(', ')} are not in the store this projector reads ` +
              `(a Kafka worker must use the database of the store that was published)`,
            { context: { emailId: id, positions: missing.map(String) } },
          );
        }
        waiting.push(...loaded);
        released.push(...stored);
      }
      // Parked by the batch in flight, committed before ours. If that batch has committed
      // already, the same events were also read back from the store above: once is enough.
      const parkedBefore = pending?.parked.get(id)?.filter((w) => !stored?.includes(w.position));
      if (parkedBefore?.length) {
        waiting.push(...parkedBefore);
        released.push(...parkedBefore.map((w) => w.position));
      }
      waiting.push(...(parkedNow.get(id) ?? []));
      parkedNow.delete(id);
      for (const w of waiting) {
        if (skip(w)) continue;
        state = applyLifecycle(state, w);
        outcome.released++;
      }
      changed.set(id, state);
      continue;
    }
    if (!state) {
      const list = parkedNow.get(id) ?? [];
      list.push(e);
      parkedNow.set(id, list);
      input.cache?.noteParked(id);
      continue;
    }
    changed.set(id, applyLifecycle(state, e));
  }

  // Unsharded, such events are dead-lettered when the send arrives (another tenant's email,
  // DESIGN §5); a shard does the same once it has read past that send. An email this shard
  // has an entry for was sent by one of its tenants: its parked events were released then.
  const orphans = parkedOwners.filter((o) => !changed.has(o.emailId) && !ledger.has(o.emailId) && !pending?.changed.has(o.emailId));
  if (orphans.length) {
    const owners = new Map(orphans.map((o) => [o.emailId, o.owner]));
    const stored = orphans.flatMap((o) => (o.position === null ? [] : [o.position]));
    const waiting = new Map<bigint, StoredEvent>();
    for (const w of stored.length ? await input.loadEvents(stored) : []) waiting.set(w.position, w);
    for (const id of owners.keys()) for (const w of pending?.parked.get(id) ?? []) waiting.set(w.position, w);
    for (const w of [...waiting.values()].sort((x, y) => (x.position < y.position ? -1 : 1))) {
      const id = emailIdOf(w)!;
      const owner = owners.get(id)!;
      if (w.tenantId === owner.tenantId) continue; // its send is this shard's to read
      released.push(w.position);
      if (!skip(w)) deadLetters.push(tenantMismatch(w, { emailId: id, tenantId: owner.tenantId }));
    }
  }

  timings.add('fold', performance.now() - tFold);
  outcome.parked = [...parkedNow.values()].reduce((n, list) => n + list.length, 0);
  outcome.deadLettered = deadLetters.length;
  return { accs, changed, parked: parkedNow, released, deadLetters, outcome, before: ledger, ledgerInMemory: input.cache instanceof MemoryLedger };
}

/**
 * The first `email.sent` up to `upTo` (looked up as `firstSends` does, in the email's own
 * stream) of every email with events parked in the lane's shard, or parked by the batch in
 * flight (`pending`, not committed yet); with the position of each stored parked event (null
 * for the batch in flight's, which the caller holds).
 */
async function parkedEmailOwners(
  client: Reader,
  lane: LaneRef,
  pending: string[],
  upTo: bigint,
): Promise<Array<{ emailId: string; position: bigint | null; owner: Owner }>> {
  const { rows } = await client.query<{ email_id: string; position: string | null; tenant_id: string; sent: string }>(
    `SELECT p.email_id, p.position, s.tenant_id, s.global_position AS sent
       FROM (SELECT email_id, position FROM floe.projection_parked WHERE lane = $1 AND shard = $2
             UNION ALL SELECT unnest($3::text[]), NULL) p
       CROSS JOIN LATERAL (SELECT tenant_id, global_position FROM floe.events
                            WHERE stream_id = 'email-' || p.email_id AND type = 'email.sent' AND global_position <= $4
                            ORDER BY global_position LIMIT 1) s`,
    [lane.lane, lane.shard, pending, String(upTo)],
  );
  return rows.map((r) => ({
    emailId: r.email_id,
    position: r.position === null ? null : BigInt(r.position),
    owner: { tenantId: r.tenant_id, position: BigInt(r.sent) },
  }));
}

const PARKING_SQL = `WITH released AS (DELETE FROM floe.projection_parked WHERE lane = $1 AND shard = $2 AND position = ANY($5::bigint[]))
  INSERT INTO floe.projection_parked (lane, shard, email_id, position)
  SELECT $1, $2, u.email_id, u.position FROM unnest($3::text[], $4::bigint[]) AS u(email_id, position)
  ON CONFLICT (lane, shard, position) DO NOTHING`;

/** Write a folded batch inside the caller's transaction: every projection, the ledger, parking, dead letters. */
export async function writeBatch(client: PoolClient, lane: LaneRef, plan: BatchPlan): Promise<void> {
  const { accs, changed, parked, released, deadLetters } = plan;
  const tx: Omit<Tx, 'table'> = { client };
  for (const { p, acc } of accs) {
    const t0 = performance.now();
    await p.write(acc, { ...tx, table: (name: string) => lane.table(p, name) });
    timings.add(`write ${p.name}`, performance.now() - t0);
  }

  let t0 = performance.now();
  if (!plan.ledgerInMemory) await saveLedger(client, lane.lane, lane.shard, changed, plan.outcome.created);
  timings.add('ledger save', performance.now() - t0);
  t0 = performance.now();

  // Parked events: this batch's parked, the ones it released gone, in one statement (two
  // disjoint sets of positions: an event parked and released by the same batch is in neither).
  const ids: string[] = [];
  const positions: string[] = [];
  for (const [id, list] of parked) {
    for (const e of list) {
      ids.push(id);
      positions.push(String(e.position));
    }
  }
  if (ids.length || released.length) {
    const values = [lane.lane, lane.shard, ids, positions, released.map(String)];
    await client.query({ name: 'floe_parking', text: PARKING_SQL, values: arrayParams(PARKING_SQL, values) });
  }

  timings.add('parking', performance.now() - t0);
  await recordDeadLetters(client, lane, deadLetters);
}

async function recordDeadLetters(client: PoolClient, lane: LaneRef, letters: DeadLetter[]): Promise<void> {
  if (!letters.length) return;
  const rows = new Rows(9);
  for (const d of letters) {
    rows.push(lane.lane, lane.shard, d.projection, d.event.id, String(d.event.position), d.event.type, d.event.tenantId, d.error, d.retriable);
  }
  await upsert(
    client,
    'floe.dead_letters',
    [
      { name: 'lane', type: 'text' },
      { name: 'shard', type: 'text' },
      { name: 'projection', type: 'text' },
      { name: 'event_id', type: 'uuid' },
      { name: 'position', type: 'bigint' },
      { name: 'type', type: 'text' },
      { name: 'tenant_id', type: 'text' },
      { name: 'error', type: 'text' },
      { name: 'retriable', type: 'boolean' },
    ],
    rows.columns,
    {
      conflict: ['lane', 'shard', 'event_id'],
      update: {
        projection: 'EXCLUDED.projection',
        error: 'EXCLUDED.error',
        retriable: 'EXCLUDED.retriable',
        attempts: 'cur.attempts + 1',
        failed_at: 'now()',
        resolved_at: 'NULL',
      },
    },
  );
}
