/**
 * The email ledger of a lane: for every email whose first `email.sent` the lane has
 * folded, its context and what has happened to it so far. It is what makes counts
 * exact whatever the arrival order (DESIGN §5): "any delivered" is one per email, a
 * late open lands on the cohort day, the earliest open wins whenever it arrives.
 *
 * `applyEmailEvent` is the one place the per-email rules live; projections only compare
 * the entry before and after an event.
 */
import type { ClientBase } from 'pg';
import type { StoredEvent } from '../../streams/envelope';
import { BinaryWriter, copyIn } from '../../streams/postgres/binary';
import { memoized } from '../../streams/memo';
import { BloomFilter } from './bloom';
import { Column, copyRows, Reader, Rows, upsert, utcDay } from './sql';
import type { AnyProjection, EmailState, Instant } from './types';

type Data = Record<string, unknown>;

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/**
 * One copy of each tenant, campaign, step, mailbox and company id however many ledger
 * entries name it (decoding gives every event its own strings): the cache holds hundreds
 * of thousands of entries, and these ids repeat across them.
 */
const shared = memoized((v: string) => v);
const intern = <T extends string | null>(v: T): T => (v === null ? v : (shared(v) as T));
const earliest = (cur: Instant, t: number): number => (cur === null || t < cur ? t : cur);

/**
 * The version of the rules that decide what a ledger entry holds and which events a lane
 * parks: `sentState`, `applyEmailEvent`, `encodeState` and the fold's ownership and parking
 * rules (runtime/batch.ts). Bump it with any change to what they make of the same events: a
 * lane records the rules that built its ledger (`projection_lanes.ledger_rules`), and a
 * rebuild hands its projection over to a live lane's ledger only when they are its own.
 */
export const LEDGER_RULES = 1;

/** Whether a lane of these projections keeps an email ledger: it does when one of them folds email events. */
export const usesLedger = (projections: readonly AnyProjection[]): boolean => projections.some((p) => p.types.some((t) => t.startsWith('email.')));

/** The ledger entry an email's first `email.sent` creates. */
export function sentState(e: StoredEvent): EmailState {
  const d = e.data as Data;
  const sentAt = e.occurredAt.getTime();
  return {
    emailId: String(d.emailId),
    tenantId: intern(e.tenantId),
    campaignId: intern(str(d.campaignId)),
    stepId: intern(str(d.stepId)),
    mailboxId: intern(String(d.mailboxId)),
    leadId: String(d.leadId),
    companyId: intern(str(d.companyId)),
    messageId: str(d.messageId),
    sentAt,
    cohortDay: utcDay(sentAt),
    sentPosition: e.position,
    deliveredAt: null,
    firstOpenedAt: null,
    humanOpened: false,
    firstClickedAt: null,
    repliedAt: null,
    bouncedAt: null,
    bounceType: null,
    hardBounced: false,
    failedAt: null,
    unsubscribedAt: null,
    complainedAt: null,
    openCount: 0,
    clickCount: 0,
  };
}

/**
 * A copy of an entry. Written out field by field: V8 gives a spread copy (`{ ...s }`) of an
 * object this wide most of its fields in a second, out-of-object array and takes its slow path
 * to make it (20 times slower in a loop); a literal keeps every field in the object. An entry
 * is copied for every lifecycle event folded.
 */
const copyState = (s: EmailState): EmailState => ({
  emailId: s.emailId,
  tenantId: s.tenantId,
  campaignId: s.campaignId,
  stepId: s.stepId,
  mailboxId: s.mailboxId,
  leadId: s.leadId,
  companyId: s.companyId,
  messageId: s.messageId,
  sentAt: s.sentAt,
  cohortDay: s.cohortDay,
  sentPosition: s.sentPosition,
  deliveredAt: s.deliveredAt,
  firstOpenedAt: s.firstOpenedAt,
  humanOpened: s.humanOpened,
  firstClickedAt: s.firstClickedAt,
  repliedAt: s.repliedAt,
  bouncedAt: s.bouncedAt,
  bounceType: s.bounceType,
  hardBounced: s.hardBounced,
  failedAt: s.failedAt,
  unsubscribedAt: s.unsubscribedAt,
  complainedAt: s.complainedAt,
  openCount: s.openCount,
  clickCount: s.clickCount,
});

/** The entry after one lifecycle event (not `email.sent`) of a counted email; `s` is not modified. */
export function applyEmailEvent(s: EmailState, e: StoredEvent): EmailState {
  const t = e.occurredAt.getTime();
  const d = e.data as Data;
  const n = copyState(s);
  switch (e.type) {
    case 'email.delivered':
      n.deliveredAt = earliest(s.deliveredAt, t);
      break;
    case 'email.opened':
      n.firstOpenedAt = earliest(s.firstOpenedAt, t);
      n.humanOpened = s.humanOpened || d.machine !== true;
      n.openCount = s.openCount + 1;
      break;
    case 'email.clicked':
      n.firstClickedAt = earliest(s.firstClickedAt, t);
      n.clickCount = s.clickCount + 1;
      break;
    case 'email.replied':
      n.repliedAt = earliest(s.repliedAt, t);
      break;
    case 'email.bounced':
      if (s.bouncedAt === null || t < s.bouncedAt) {
        n.bouncedAt = t;
        n.bounceType = intern(str(d.bounceType));
      }
      n.hardBounced = s.hardBounced || d.bounceType === 'hard';
      break;
    case 'email.failed':
      n.failedAt = earliest(s.failedAt, t);
      break;
    case 'email.unsubscribed':
      n.unsubscribedAt = earliest(s.unsubscribedAt, t);
      break;
    case 'email.complained':
      n.complainedAt = earliest(s.complainedAt, t);
      break;
    default: // email.deferred and anything newer: no effect on the counts
      break;
  }
  return n;
}

/** Email status by precedence (DESIGN §5): replied > clicked > opened > bounced > failed > delivered > sent. */
export function emailStatus(s: EmailState): string {
  if (s.repliedAt !== null) return 'replied';
  if (s.firstClickedAt !== null) return 'clicked';
  if (s.firstOpenedAt !== null) return 'opened';
  if (s.bouncedAt !== null) return 'bounced';
  if (s.failedAt !== null) return 'failed';
  if (s.deliveredAt !== null) return 'delivered';
  return 'sent';
}

// --- whose an email is, from the store ------------------------------------------------

/** Whose an email is: the tenant of its first `email.sent` in the store, by position. */
export interface Owner {
  tenantId: string;
  position: bigint;
}

/**
 * Whether `e` names an email that is another tenant's: its first send (`owner`) is another
 * tenant's and, for a send, comes before it (DESIGN §5: such events count nowhere).
 */
export const ownedElsewhere = (owner: Owner | undefined, e: Pick<StoredEvent, 'tenantId' | 'type' | 'position'>): boolean =>
  owner !== undefined && owner.tenantId !== e.tenantId && (e.type !== 'email.sent' || owner.position < e.position);

/**
 * The first `email.sent` up to position `upTo` of the emails these events name, by email id,
 * for readers that do not see every tenant's events (a shard, one tenant's recompute); DESIGN
 * §5: an email's first send fixes its tenant. The store indexes streams, not email ids, so an
 * email's first send is looked up in its own stream, `email-{emailId}`, which holds only that
 * email's events when streams are derived (a stream given by a producer may hold several
 * emails' sends, so it says nothing about any one of them); a send stored under a stream of
 * its own is not found. A send that opens its email's stream has nothing before it.
 */
export async function firstSends(
  db: Reader,
  events: Iterable<Pick<StoredEvent, 'type' | 'data' | 'stream' | 'streamPosition'>>,
  upTo: bigint,
): Promise<Map<string, Owner>> {
  const emails = new Set<string>();
  for (const e of events) {
    const d = e.data as Data;
    if (!e.type.startsWith('email.') || typeof d.emailId !== 'string') continue;
    if (e.type === 'email.sent' && e.stream === `email-${d.emailId}` && e.streamPosition === 0) continue;
    emails.add(d.emailId);
  }
  const owners = new Map<string, Owner>();
  if (!emails.size) return owners;
  const { rows } = await db.query<{ stream_id: string; tenant_id: string; position: string }>(
    `SELECT DISTINCT ON (stream_id) stream_id, tenant_id, global_position AS position FROM floe.events
      WHERE stream_id = ANY($1::text[]) AND type = 'email.sent' AND global_position <= $2
      ORDER BY stream_id, global_position`,
    [[...emails].map((id) => `email-${id}`), String(upTo)],
  );
  for (const r of rows) owners.set(r.stream_id.slice('email-'.length), { tenantId: r.tenant_id, position: BigInt(r.position) });
  return owners;
}

// --- persistence -------------------------------------------------------------------

/*
 * A ledger row is (lane, shard, email_id, state): the entry's other 22 fields travel as one
 * text value, fields separated by U+001F. The ledger is written for every email a lane
 * sees (a row per send, another write per batch that changes it): one text column is
 * several times cheaper for PostgreSQL to take in than 22 typed ones (binary COPY of the
 * generated workload's 286k entries: 0.55 s against 1.9 s), and nothing queries it by
 * field. Strings are written `=value` (null: empty), with `\` and U+001F escaped as `\\`
 * and `\u`; instants as epoch milliseconds (null: empty); booleans as 1/0. The migration
 * that introduced it (20261205000100_ledger_state) converts older rows with the same rules.
 */
const SEP = '\x1f';
const FIELDS = 22;
const ESCAPED = /[\x1f\\]/;
const text = (v: string | null): string =>
  v === null ? '' : ESCAPED.test(v) ? '=' + v.replace(/[\x1f\\]/g, (c) => (c === '\\' ? '\\\\' : '\\u')) : '=' + v;
const textOf = (f: string): string | null =>
  f === '' ? null : f.indexOf('\\') < 0 ? f.slice(1) : f.slice(1).replace(/\\(\\|u)/g, (_m, c: string) => (c === 'u' ? SEP : '\\'));
const instant = (v: Instant): string => (v === null ? '' : String(v));
const instantOf = (f: string): Instant => (f === '' ? null : Number(f));

/** The `state` column of an entry (everything but the email id). */
export function encodeState(s: EmailState): string {
  return (
    text(s.tenantId) + SEP + text(s.campaignId) + SEP + text(s.stepId) + SEP + text(s.mailboxId) + SEP +
    text(s.leadId) + SEP + text(s.companyId) + SEP + text(s.messageId) + SEP + s.sentAt + SEP +
    s.sentPosition + SEP + instant(s.deliveredAt) + SEP + instant(s.firstOpenedAt) + SEP +
    (s.humanOpened ? '1' : '0') + SEP + instant(s.firstClickedAt) + SEP + instant(s.repliedAt) + SEP +
    instant(s.bouncedAt) + SEP + text(s.bounceType) + SEP + (s.hardBounced ? '1' : '0') + SEP +
    instant(s.failedAt) + SEP + instant(s.unsubscribedAt) + SEP + instant(s.complainedAt) + SEP +
    s.openCount + SEP + s.clickCount
  );
}

/** The entry of `emailId` from its `state` column. */
export function decodeState(emailId: string, state: string): EmailState {
  const f = state.split(SEP);
  if (f.length !== FIELDS) throw new Error(`ledger entry of email ${emailId} has ${f.length} fields, not ${FIELDS}: ${JSON.stringify(state.slice(0, 200))}`);
  const sentAt = Number(f[7]);
  return {
    emailId,
    tenantId: intern(textOf(f[0]) as string),
    campaignId: intern(textOf(f[1])),
    stepId: intern(textOf(f[2])),
    mailboxId: intern(textOf(f[3]) as string),
    leadId: textOf(f[4]) as string,
    companyId: intern(textOf(f[5])),
    messageId: textOf(f[6]),
    sentAt,
    cohortDay: utcDay(sentAt),
    sentPosition: BigInt(f[8]),
    deliveredAt: instantOf(f[9]),
    firstOpenedAt: instantOf(f[10]),
    humanOpened: f[11] === '1',
    firstClickedAt: instantOf(f[12]),
    repliedAt: instantOf(f[13]),
    bouncedAt: instantOf(f[14]),
    bounceType: intern(textOf(f[15])),
    hardBounced: f[16] === '1',
    failedAt: instantOf(f[17]),
    unsubscribedAt: instantOf(f[18]),
    complainedAt: instantOf(f[19]),
    openCount: Number(f[20]),
    clickCount: Number(f[21]),
  };
}

const COLUMNS: Column[] = [
  { name: 'lane', type: 'text' },
  { name: 'shard', type: 'text' },
  { name: 'email_id', type: 'text' },
  { name: 'state', type: 'text' },
];
const LEDGER = 'floe.projection_email_ledger';
const KEY = ['lane', 'shard', 'email_id'];

/** The entries of these emails, by email id. */
export async function loadLedger(client: Reader, lane: string, shard: string, emailIds: string[]): Promise<Map<string, EmailState>> {
  const out = new Map<string, EmailState>();
  if (emailIds.length === 0) return out;
  const { rows } = await client.query<{ email_id: string; state: string }>(
    `SELECT email_id, state FROM floe.projection_email_ledger WHERE lane = $1 AND shard = $2 AND email_id = ANY($3::text[])`,
    [lane, shard, emailIds],
  );
  for (const r of rows) out.set(r.email_id, decodeState(r.email_id, r.state));
  return out;
}

/**
 * Write the entries changed by a batch: those it created with one binary COPY (none can
 * exist yet: the lane's single writer found no entry for them), the others with one upsert.
 */
export async function saveLedger(
  client: ClientBase,
  lane: string,
  shard: string,
  changed: Map<string, EmailState>,
  created: ReadonlySet<string> = new Set(),
): Promise<void> {
  const fresh = new Rows(COLUMNS.length);
  const rows = new Rows(COLUMNS.length);
  for (const [id, s] of changed) (created.has(id) ? fresh : rows).push(lane, shard, s.emailId, encodeState(s));
  await copyRows(client, LEDGER, COLUMNS, fresh.columns);
  await upsert(client, LEDGER, COLUMNS, rows.columns, { conflict: KEY, update: { state: 'EXCLUDED.state' } });
}

/**
 * Ledger entries a lane keeps in memory by default: about six days of sends of the
 * generated workload (its late events mostly arrive within days), a few tens of MB of live
 * heap, which V8 lets grow to about four times that between full collections.
 */
export const LEDGER_CACHE_SIZE = 50_000;

/**
 * What a batch reads the lane's ledger entries through, before it looks them up in the saved
 * ledger (`loadLedger`): a bounded cache (`LedgerCache`) or the whole ledger in memory
 * (`MemoryLedger`). Entries are as last committed; null: looked up, not sent.
 */
export interface LaneLedger {
  /** Prepare for lookups (once, before the first batch). */
  fill(client: Reader, lane: string, shard: string): Promise<void>;
  /** Whether the ledger certainly lacks this email (no lookup needed). */
  certainlyAbsent(id: string): boolean;
  /** The entry, null when known not sent, undefined when it must be looked up. */
  get(id: string): EmailState | null | undefined;
  /** What a lookup found. */
  set(id: string, v: EmailState | null): void;
  /** After a commit: the batch's entries are the committed ones. */
  commit(changed: Map<string, EmailState>): void;
  /** Whether the lane may hold parked events of this email (false: no lookup needed). */
  mayHaveParked(id: string): boolean;
  /** A fold parked an event of this email (before its write: a write that fails leaves a harmless extra). */
  noteParked(id: string): void;
}

/**
 * The ledger entries a lane's writer has seen, as last committed (null: looked up, not
 * sent). Valid because the writer is the lane's only one (advisory locks); bounded, least
 * recently used entries go first, so memory stays flat however long the history.
 */
export class LedgerCache implements LaneLedger {
  private readonly map = new Map<string, EmailState | null>();
  /** Every email id the lane's ledger holds (maybe more): an id it rules out needs no lookup. */
  private known?: BloomFilter;
  constructor(private readonly max = LEDGER_CACHE_SIZE) {}

  /** Load the ids the ledger holds into the filter (once, before the first batch). */
  async fill(client: Reader, lane: string, shard: string): Promise<void> {
    if (this.known) return;
    const { rows } = await client.query<{ email_id: string }>(
      'SELECT email_id FROM floe.projection_email_ledger WHERE lane = $1 AND shard = $2',
      [lane, shard],
    );
    const known = new BloomFilter();
    for (const r of rows) known.add(r.email_id);
    this.known = known;
  }

  certainlyAbsent(id: string): boolean {
    return this.known !== undefined && !this.known.mayContain(id);
  }

  get(id: string): EmailState | null | undefined {
    const v = this.map.get(id);
    if (v !== undefined) {
      this.map.delete(id);
      this.map.set(id, v);
    }
    return v;
  }

  set(id: string, v: EmailState | null): void {
    this.map.delete(id);
    this.map.set(id, v);
    if (this.map.size > this.max) {
      for (const k of this.map.keys()) {
        this.map.delete(k);
        if (this.map.size <= this.max * 0.9) break;
      }
    }
  }

  commit(changed: Map<string, EmailState>): void {
    for (const [id, s] of changed) {
      this.set(id, s);
      this.known?.add(id);
    }
  }

  mayHaveParked(): boolean {
    return true;
  }

  noteParked(): void {}
}

/**
 * The whole ledger of a lane that starts at position 0, in memory (`floe rebuild`): no
 * lookups, no eviction, and not saved batch by batch — `saveMemoryLedger` writes it once,
 * when the run ends or the ledger outgrows its bound. Until then the lane's row says that
 * its saved ledger is behind (`ledger_at`), so a run that dies first leaves a lane that is
 * re-projected from the start, never one continued with a ledger that lacks entries.
 */
export class MemoryLedger implements LaneLedger {
  private readonly entries = new Map<string, EmailState>();
  /**
   * Every email with events parked in the lane: those it had when the ledger started (none,
   * normally: a memory ledger starts with its lane at position 0) and those its folds parked
   * since. A send of any other email needs no lookup of parked events.
   */
  private readonly parked: Set<string>;

  constructor(parked: Iterable<string> = []) {
    this.parked = new Set(parked);
  }

  async fill(): Promise<void> {}

  certainlyAbsent(id: string): boolean {
    return !this.entries.has(id);
  }

  get(id: string): EmailState | undefined {
    return this.entries.get(id);
  }

  set(id: string, v: EmailState | null): void {
    if (v) this.entries.set(id, v);
  }

  commit(changed: Map<string, EmailState>): void {
    for (const [id, s] of changed) this.entries.set(id, s);
  }

  /**
   * `commit`, and what puts the entries back as they were (a pipelined write that failed):
   * `before`, the entries the batch was folded from (its plan's), which are this ledger's
   * as it stands (absent: not sent).
   */
  commitUndoable(changed: Map<string, EmailState>, before: ReadonlyMap<string, EmailState>): () => void {
    this.commit(changed);
    return () => {
      for (const id of changed.keys()) {
        const s = before.get(id);
        if (s) this.entries.set(id, s);
        else this.entries.delete(id);
      }
    };
  }

  mayHaveParked(id: string): boolean {
    return this.parked.has(id);
  }

  noteParked(id: string): void {
    this.parked.add(id);
  }

  get size(): number {
    return this.entries.size;
  }

  values(): IterableIterator<EmailState> {
    return this.entries.values();
  }
}

/** Entries per COPY when a memory ledger is saved (bounds the buffer a COPY encodes at once). */
const SAVE_CHUNK = 50_000;

/**
 * Save a lane's memory ledger at `position`, in one transaction: every entry (the lane's saved
 * ledger is empty: a memory ledger starts with its lane), then the lane's row marks its saved
 * ledger in step again (`ledger_at` NULL), fenced by the lane's position.
 */
export async function saveMemoryLedger(client: ClientBase, lane: string, shard: string, position: bigint, ledger: MemoryLedger): Promise<void> {
  // Each row goes straight into the COPY buffer: hundreds of thousands of state strings held
  // in arrays until a chunk is encoded would outlive the young generation, and the collector
  // would then spend more than the encoding.
  // The next chunk is encoded while the server takes in the previous one.
  const sql = `COPY ${LEDGER} (${COLUMNS.map((c) => c.name).join(', ')}) FROM STDIN (FORMAT binary)`;
  let w: BinaryWriter | undefined;
  let inFlight: Promise<unknown> = Promise.resolve();
  const send = async (data: Buffer) => {
    await inFlight;
    inFlight = copyIn(client, sql, data);
    inFlight.catch(() => undefined); // awaited below
  };
  let n = 0;
  for (const s of ledger.values()) {
    if (!w) {
      w = new BinaryWriter(SAVE_CHUNK * 400);
      w.copyHeader();
    }
    w.int16(COLUMNS.length);
    w.text(lane);
    w.text(shard);
    w.text(s.emailId);
    w.text(encodeState(s));
    if (++n % SAVE_CHUNK === 0) {
      w.copyEnd();
      await send(w.done());
      w = undefined;
    }
  }
  if (w) {
    w.copyEnd();
    await send(w.done());
  }
  await inFlight;
  const { rowCount } = await client.query(
    'UPDATE floe.projection_lanes SET ledger_at = NULL WHERE lane = $1 AND shard = $2 AND position = $3 AND ledger_at IS NOT NULL',
    [lane, shard, String(position)],
  );
  if (rowCount !== 1) throw new Error(`lane ${lane} (shard ${shard}) is not at position ${position} with its ledger in memory any more; is another projector running it?`);
}
