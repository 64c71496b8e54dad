/**
 * What a projection is (DESIGN §5): a name, a version, the tables it owns, the event
 * types it handles, and a batch fold split in two so the runtime can isolate a bad event:
 * `fold` runs per event into an in-memory accumulator (no I/O), `write` turns the
 * accumulator into set-based statements (one upsert per table) inside the batch's
 * transaction, where the runtime also writes the checkpoint.
 *
 * @example
 *   const counter: Projection<Map<string, number>> = {
 *     name: 'opens_per_tenant', version: 1, tables: ['opens_per_tenant'], types: ['email.opened'],
 *     begin: () => new Map(),
 *     fold: (acc, f) => acc.set(f.event.tenantId, (acc.get(f.event.tenantId) ?? 0) + 1),
 *     write: async (acc, tx) => { ...one INSERT ... ON CONFLICT for all of acc... },
 *   };
 */
import type { PoolClient } from 'pg';
import type { StoredEvent } from '../../streams/envelope';

/** Epoch milliseconds, or null when it has not happened. */
export type Instant = number | null;

/**
 * One email as the lane's ledger knows it: the context fixed by its first `email.sent`
 * and everything that has happened to it since (DESIGN §5 counting rules).
 */
export interface EmailState {
  emailId: string;
  tenantId: string;
  campaignId: string | null;
  stepId: string | null;
  mailboxId: string;
  leadId: string;
  companyId: string | null;
  messageId: string | null;
  sentAt: number;
  /** UTC date of sentAt, 'YYYY-MM-DD': the day every per-email counter lands on. */
  cohortDay: string;
  sentPosition: bigint;
  deliveredAt: Instant;
  firstOpenedAt: Instant;
  humanOpened: boolean;
  firstClickedAt: Instant;
  repliedAt: Instant;
  bouncedAt: Instant;
  bounceType: string | null;
  hardBounced: boolean;
  failedAt: Instant;
  unsubscribedAt: Instant;
  complainedAt: Instant;
  openCount: number;
  clickCount: number;
}

/**
 * One event handed to a projection. For `email.*` events of a counted email, `email`
 * holds the ledger entry before (`prev`, null for the first send) and after the event.
 * Second sends and events naming another tenant never reach projections.
 */
export interface Fact {
  event: StoredEvent;
  /**
   * The email's ledger entry before and after the event; `delta`, how it moves the §5
   * counters, is worked out once for all the projections that count it (`counterDelta`).
   */
  email?: { prev: EmailState | null; next: EmailState; delta: readonly number[] | null | undefined };
}

/** The batch transaction as a projection sees it. */
export interface Tx {
  client: PoolClient;
  /** The physical name of one of the projection's tables (a rebuild writes to shadows). */
  table(name: string): string;
}

export interface Projection<A = unknown> {
  name: string;
  /** Bump when the fold changes: the tables are rebuilt from history. */
  version: number;
  /** Tables it owns (public schema); no other projection writes them. */
  tables: string[];
  /** Event types it handles (exact names). */
  types: readonly string[];
  /** A fresh accumulator for one batch. */
  begin(): A;
  /** Fold one event; no I/O. Throwing dead-letters the event (for every projection of its lane). */
  fold(acc: A, fact: Fact): void;
  /** Write the batch's effects, set-based, inside the batch transaction. */
  write(acc: A, tx: Tx): Promise<void>;
}

export type AnyProjection = Projection<any>;
