/**
 * `leads` and `suppression_list`, one projection: the suppression list copies the lead's
 * email, and a projection never reads tables it does not own.
 *
 * leads: one row per lead, from `lead.imported` (the earliest import by (occurredAt,
 * position) sets the personal fields and `imported_at`), `lead.erased` (`erased_at` = the
 * earliest erasure) and the lead's counted emails. GDPR: once a lead is erased its personal
 * fields (email, first_name, last_name, company) are NULL for good — an import arriving
 * after the erasure, whatever its occurredAt, never brings them back, nor does a replay.
 * `status` by precedence complained > unsubscribed > bounced (hard) > replied > active
 * over all the lead's counted emails, all campaigns (DESIGN §5). Each of these flags only
 * ever turns on, so the status only ever climbs the precedence: the stored status and the
 * batch's merge by rank. An email fact creates a lead row only when it raises the lead's
 * status (a lead emailed before its import shows up with NULL personal fields until then).
 *
 * suppression_list: one row per lead with a complaint, unsubscribe or hard bounce on any
 * of its counted emails; `type` by precedence complaint > unsubscribe > hard_bounce;
 * `created_at` = the earliest such event; `source_email_id` = the email of that event
 * (ties on the instant go to the smallest email id, so it is the same whatever the
 * batches); `email` = the lead's email, NULL when unknown or erased.
 */
import type { StoredEvent } from '../../streams/envelope';
import { iso, queryArrays, Rows, upsert } from '../runtime/sql';
import type { EmailState, Fact, Projection, Tx } from '../runtime/types';
import { text, timestamptz } from './registers';

const LEADS = 'leads';
const SUPPRESSION = 'suppression_list';

/** Lead statuses, lowest precedence first. */
/**
 * Whether `a` sorts before `b` as PostgreSQL's COLLATE "C" sorts them (UTF-8 bytes, that is
 * code points), as the upsert breaks the same tie across batches. JavaScript's `<` compares
 * UTF-16 units, which puts a character above U+FFFF (a surrogate pair) before U+E000-U+FFFF.
 */
export function beforeInC(a: string, b: string): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (D800-DFFF) above E000-FFFF; the order within each range stays.
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x < y;
  }
  return a.length < b.length;
}

export const LEAD_STATUSES = ['active', 'replied', 'bounced', 'unsubscribed', 'complained'] as const;
/** Suppression types, lowest precedence first. */
export const SUPPRESSION_TYPES = ['hard_bounce', 'unsubscribe', 'complaint'] as const;

/** The lead-status rank an email gives its lead (index in LEAD_STATUSES). */
export function leadRank(s: EmailState): number {
  if (s.complainedAt !== null) return 4;
  if (s.unsubscribedAt !== null) return 3;
  if (s.hardBounced) return 2;
  if (s.repliedAt !== null) return 1;
  return 0;
}

/** The suppression type rank of an email event (index in SUPPRESSION_TYPES), or -1. */
function suppressionRank(e: StoredEvent): number {
  if (e.type === 'email.complained') return 2;
  if (e.type === 'email.unsubscribed') return 1;
  if (e.type === 'email.bounced' && e.data.bounceType === 'hard') return 0;
  return -1;
}

interface Import {
  at: number;
  position: bigint;
  values: [unknown, unknown, unknown, unknown]; // email, first_name, last_name, company
}

interface Lead {
  tenantId: string;
  leadId: string;
  imported: Import | null;
  erasedAt: number | null;
  rank: number;
}

interface Suppression {
  tenantId: string;
  leadId: string;
  rank: number;
  at: number;
  emailId: string;
}

interface Acc {
  leads: Map<string, Lead>;
  suppressions: Map<string, Suppression>;
}

const keyOf = (tenantId: string, leadId: string): string => `${tenantId}\u0000${leadId}`;

function lead(acc: Acc, tenantId: string, leadId: string): Lead {
  const k = keyOf(tenantId, leadId);
  let l = acc.leads.get(k);
  if (!l) {
    l = { tenantId, leadId, imported: null, erasedAt: null, rank: 0 };
    acc.leads.set(k, l);
  }
  return l;
}

/** SQL: the rank of a status or type in its precedence list. */
const rankSql = (list: readonly string[], expr: string): string => `array_position(ARRAY[${list.map((s) => `'${s}'`).join(', ')}]::text[], ${expr})`;
const higher = (list: readonly string[], column: string): string =>
  `CASE WHEN ${rankSql(list, `EXCLUDED.${column}`)} > ${rankSql(list, `cur.${column}`)} THEN EXCLUDED.${column} ELSE cur.${column} END`;

const PERSONAL = ['email', 'first_name', 'last_name', 'company'];
const LEAD_COLUMNS = [
  text('tenant_id'),
  text('lead_id'),
  ...PERSONAL.map(text),
  text('status'),
  timestamptz('imported_at'),
  timestamptz('erased_at'),
];
const SUPPRESSION_COLUMNS = [text('tenant_id'), text('lead_id'), text('type'), timestamptz('created_at'), text('source_email_id')];

const ERASED = 'cur.erased_at IS NOT NULL OR EXCLUDED.erased_at IS NOT NULL';
const IMPORT_WINS = 'EXCLUDED.imported_at IS NOT NULL AND (cur.imported_at IS NULL OR EXCLUDED.imported_at < cur.imported_at)';

export const leads: Projection<Acc> = {
  name: LEADS,
  // 2: a suppression's tie between emails broken by code point in a batch too.
  version: 2,
  tables: [LEADS, SUPPRESSION],
  types: ['lead.imported', 'lead.erased', 'email.bounced', 'email.replied', 'email.unsubscribed', 'email.complained'],
  begin: () => ({ leads: new Map(), suppressions: new Map() }),
  fold(acc: Acc, f: Fact) {
    const e = f.event;
    if (e.type === 'lead.imported') {
      const l = lead(acc, e.tenantId, e.data.leadId as string);
      const next: Import = {
        at: e.occurredAt.getTime(),
        position: e.position,
        values: [e.data.email, e.data.firstName ?? null, e.data.lastName ?? null, e.data.company ?? null],
      };
      const cur = l.imported;
      if (!cur || next.at < cur.at || (next.at === cur.at && next.position < cur.position)) l.imported = next;
      return;
    }
    if (e.type === 'lead.erased') {
      const l = lead(acc, e.tenantId, e.data.leadId as string);
      const at = e.occurredAt.getTime();
      if (l.erasedAt === null || at < l.erasedAt) l.erasedAt = at;
      return;
    }
    if (!f.email) return;
    const { prev, next: s } = f.email;
    const rank = leadRank(s);
    const type = suppressionRank(e);
    // A suppressing event always touches its lead, so the lead upsert refreshes the suppression row's email.
    if (rank <= (prev ? leadRank(prev) : 0) && type < 0) return;
    const l = lead(acc, s.tenantId, s.leadId);
    l.rank = Math.max(l.rank, rank);
    if (type < 0) return;
    const at = e.occurredAt.getTime();
    const k = keyOf(s.tenantId, s.leadId);
    const cur = acc.suppressions.get(k);
    if (!cur) {
      acc.suppressions.set(k, { tenantId: s.tenantId, leadId: s.leadId, rank: type, at, emailId: s.emailId });
      return;
    }
    cur.rank = Math.max(cur.rank, type);
    if (at < cur.at || (at === cur.at && beforeInC(s.emailId, cur.emailId))) {
      cur.at = at;
      cur.emailId = s.emailId;
    }
  },
  async write(acc: Acc, tx: Tx) {
    const leadsTable = tx.table(LEADS);
    const suppressionTable = tx.table(SUPPRESSION);

    // The suppression rows first, without their email: the lead upsert below sets it.
    const sup = new Rows(SUPPRESSION_COLUMNS.length);
    for (const s of acc.suppressions.values()) sup.push(s.tenantId, s.leadId, SUPPRESSION_TYPES[s.rank], iso(s.at), s.emailId);
    await upsert(tx.client, suppressionTable, SUPPRESSION_COLUMNS, sup.columns, {
      conflict: ['tenant_id', 'lead_id'],
      update: {
        type: higher(SUPPRESSION_TYPES, 'type'),
        created_at: 'LEAST(cur.created_at, EXCLUDED.created_at)',
        source_email_id:
          'CASE WHEN (EXCLUDED.created_at, EXCLUDED.source_email_id COLLATE "C") < (cur.created_at, cur.source_email_id COLLATE "C")' +
          ' THEN EXCLUDED.source_email_id ELSE cur.source_email_id END',
        updated_at: 'now()',
      },
    });

    if (acc.leads.size === 0) return;
    const rows = new Rows(LEAD_COLUMNS.length);
    for (const l of acc.leads.values()) {
      const personal = l.imported && l.erasedAt === null ? l.imported.values : [null, null, null, null];
      rows.push(l.tenantId, l.leadId, ...personal, LEAD_STATUSES[l.rank], iso(l.imported?.at ?? null), iso(l.erasedAt));
    }
    const names = LEAD_COLUMNS.map((c) => c.name);
    const set = [
      ...PERSONAL.map((c) => `${c} = CASE WHEN ${ERASED} THEN NULL WHEN ${IMPORT_WINS} THEN EXCLUDED.${c} ELSE cur.${c} END`),
      'imported_at = LEAST(cur.imported_at, EXCLUDED.imported_at)',
      'erased_at = LEAST(cur.erased_at, EXCLUDED.erased_at)',
      `status = ${higher(LEAD_STATUSES, 'status')}`,
      'updated_at = now()',
    ];
    // One statement: upsert the leads, then copy each touched lead's email (NULL once
    // erased) into its suppression row, which the statement above may just have inserted.
    await queryArrays(
      tx.client,
      `WITH l AS (
         INSERT INTO ${leadsTable} AS cur (${names.join(', ')})
         SELECT * FROM unnest(${LEAD_COLUMNS.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')}) AS u(${names.join(', ')})
         ON CONFLICT (tenant_id, lead_id) DO UPDATE SET ${set.join(', ')}
         RETURNING tenant_id, lead_id, email)
       UPDATE ${suppressionTable} s SET email = l.email, updated_at = now()
         FROM l WHERE s.tenant_id = l.tenant_id AND s.lead_id = l.lead_id AND s.email IS DISTINCT FROM l.email`,
      rows.columns,
    );
  },
};
