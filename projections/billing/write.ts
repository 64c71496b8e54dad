/**
 * The set-based writes of `billing_analytics` for one batch, in order:
 * 1. tenants: first subscription and usage bounds, returning each touched tenant's
 *    anchor, subscription and bounds before and after (which decides what follows);
 * 2. mailboxes: domains, returning the mailboxes whose domain became known or changed;
 * 3. warm-up marks, 4. emails per day (facts, kept for recomputes);
 * 5. (rare) domain members re-derived for tenants whose mailbox changed domain;
 * 6. members per day, and in the same statement the increments of the public rows: the
 *    batch's emails plus the members new to their period;
 * 7. (rare) every row of tenants whose anchor or subscription changed, recomputed;
 * 8. `warmups_active` of tenants whose warm-ups or periods moved, over all their periods,
 *    and the rows left all-zero removed.
 * Every period boundary is computed in TypeScript by `periods.ts` and passed in as
 * (tenant, period_start, period_end) arrays: SQL only matches days against them.
 */
import type { ClientBase } from 'pg';
import { increments, iso, queryArrays, Rows, upsert } from '../runtime/sql';
import type { Tx } from '../runtime/types';
import type { BillingAcc } from './billingAnalytics';
import { CALENDAR_ANCHOR, dayMs, periodOf, periodOfDay, periodsBetween, type Period } from './periods';
import { BILLING_COUNTERS } from './recompute';
import { activeWarmups, type WarmupMark } from './warmups';

const TABLE = 'billing_analytics';
const TENANTS = 'floe.billing_analytics_tenants';
const DAYS = 'floe.billing_analytics_days';
const MEMBERS = 'floe.billing_analytics_members';
const MAILBOXES = 'floe.billing_analytics_mailboxes';
const WARMUPS = 'floe.billing_analytics_warmups';

export const BILLING_TABLES = [TABLE, TENANTS, DAYS, MEMBERS, MAILBOXES, WARMUPS] as const;

/** A touched tenant after step 1. */
interface TenantState {
  subscriptionId: string | null;
  anchor: number;
  /** The periods considered: from the first to the last billing-relevant day. */
  periods: Period[];
  /** Its rows are recomputed from its facts (anchor or subscription changed after usage). */
  rebuild: boolean;
  /** `warmups_active` is recomputed over all its periods. */
  warmups: boolean;
}

/** Tables by physical name (shadow tables during a rebuild). */
type Names = Record<'table' | 'tenants' | 'days' | 'members' | 'mailboxes' | 'warmups', string>;

export async function writeBilling(acc: BillingAcc, tx: Tx): Promise<void> {
  if (acc.tenants.size === 0) return;
  const n: Names = {
    table: tx.table(TABLE),
    tenants: tx.table(TENANTS),
    days: tx.table(DAYS),
    members: tx.table(MEMBERS),
    mailboxes: tx.table(MAILBOXES),
    warmups: tx.table(WARMUPS),
  };
  const c = tx.client;
  const tenants = await saveTenants(c, n, acc);
  const { known, moved } = await saveMailboxes(c, n, acc);
  for (const t of moved) tenants.get(t)!.rebuild = tenants.get(t)!.warmups = true;

  const marks = new Rows(5);
  for (const w of acc.warmups) marks.push(w.tenantId, String(w.position), w.mailboxId, iso(w.at), w.started);
  await upsert(c, n.warmups, cols('tenant_id', 'position:bigint', 'mailbox_id', 'occurred_at:timestamptz', 'started:boolean'), marks.columns, {
    conflict: ['tenant_id', 'position'],
  });
  const days = new Rows(3);
  for (const e of acc.emails.values()) days.push(e.tenantId, e.day, e.count);
  await upsert(c, n.days, cols('tenant_id', 'day:date', 'emails:int'), days.columns, { conflict: ['tenant_id', 'day'], update: increments(['emails']) });

  if (moved.size) await rederiveDomains(c, n, [...moved]);
  await addUsage(c, n, acc, tenants, known);
  const rebuild = [...tenants].filter(([, t]) => t.rebuild);
  if (rebuild.length) await rebuildRows(c, n, rebuild);
  const warm = [...tenants].filter(([, t]) => t.warmups);
  if (warm.length) await writeWarmups(c, n, warm);
}

/** `name` or `name:type` (default text) → upsert columns. */
const cols = (...specs: string[]) =>
  specs.map((s) => {
    const [name, type = 'text'] = s.split(':');
    return { name, type };
  });

/** Earlier (occurredAt, position) than the stored subscription, or none stored. */
const FIRST_SUBSCRIPTION = `EXCLUDED.subscribed_at IS NOT NULL AND (cur.subscribed_at IS NULL
  OR (EXCLUDED.subscribed_at, EXCLUDED.subscribed_position) < (cur.subscribed_at, cur.subscribed_position))`;
const keepFirst = (col: string) => `${col} = CASE WHEN ${FIRST_SUBSCRIPTION} THEN EXCLUDED.${col} ELSE cur.${col} END`;

/** Dates are selected as text ('YYYY-MM-DD'), whatever node-pg's DATE parser is set to. */
interface TenantRow {
  tenant_id: string;
  subscription_id: string | null;
  anchor_day: number | null;
  first_day: string | null;
  last_day: string | null;
  old_subscription_id: string | null;
  old_anchor_day: number | null;
  old_first_day: string | null;
  old_last_day: string | null;
}

/** Step 1: merge the batch into each tenant's state; what changed decides the rest. */
async function saveTenants(c: ClientBase, n: Names, acc: BillingAcc): Promise<Map<string, TenantState>> {
  const input = new Rows(7);
  for (const [id, t] of acc.tenants) {
    const s = t.subscription;
    const some = t.first !== Infinity;
    input.push(id, s?.id ?? null, s?.anchor ?? null, s ? iso(s.at) : null, s ? String(s.position) : null, some ? day(t.first) : null, some ? day(t.last) : null);
  }
  const { rows } = await queryArrays<TenantRow>(
    c,
    `WITH input AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::bigint[], $6::date[], $7::date[])
         AS u(tenant_id, subscription_id, anchor_day, subscribed_at, subscribed_position, first_day, last_day)),
     old AS (SELECT t.* FROM ${n.tenants} t JOIN input i USING (tenant_id)),
     saved AS (
       INSERT INTO ${n.tenants} AS cur (tenant_id, subscription_id, anchor_day, subscribed_at, subscribed_position, first_day, last_day)
       SELECT * FROM input
       ON CONFLICT (tenant_id) DO UPDATE SET
         ${['subscription_id', 'anchor_day', 'subscribed_at', 'subscribed_position'].map(keepFirst).join(',\n         ')},
         first_day = LEAST(cur.first_day, EXCLUDED.first_day),
         last_day = GREATEST(cur.last_day, EXCLUDED.last_day)
       WHERE ${FIRST_SUBSCRIPTION} OR EXCLUDED.first_day < cur.first_day OR EXCLUDED.last_day > cur.last_day
          OR (cur.first_day IS NULL AND EXCLUDED.first_day IS NOT NULL)
       RETURNING *)
     SELECT i.tenant_id,
            CASE WHEN s.tenant_id IS NULL THEN o.subscription_id ELSE s.subscription_id END AS subscription_id,
            CASE WHEN s.tenant_id IS NULL THEN o.anchor_day ELSE s.anchor_day END AS anchor_day,
            (CASE WHEN s.tenant_id IS NULL THEN o.first_day ELSE s.first_day END)::text AS first_day,
            (CASE WHEN s.tenant_id IS NULL THEN o.last_day ELSE s.last_day END)::text AS last_day,
            o.subscription_id AS old_subscription_id, o.anchor_day AS old_anchor_day,
            o.first_day::text AS old_first_day, o.last_day::text AS old_last_day
       FROM input i LEFT JOIN saved s USING (tenant_id) LEFT JOIN old o USING (tenant_id)`,
    input.columns,
  );
  const out = new Map<string, TenantState>();
  for (const r of rows) {
    const anchor = r.anchor_day ?? CALENDAR_ANCHOR;
    const periods = r.first_day && r.last_day ? periodsBetween(dayMs(r.first_day), dayMs(r.last_day), anchor) : [];
    const hadUsage = r.old_first_day !== null && r.old_last_day !== null;
    // Rows already written under another anchor or subscription id: recompute them all.
    const rebuild = hadUsage && (anchor !== (r.old_anchor_day ?? CALENDAR_ANCHOR) || r.subscription_id !== r.old_subscription_id);
    const boundsMoved = hadUsage
      ? periodOf(dayMs(r.old_first_day!), anchor).start !== periods[0].start || periodOf(dayMs(r.old_last_day!), anchor).start !== periods[periods.length - 1].start
      : periods.length > 0;
    const warmups = rebuild || boundsMoved || acc.tenants.get(r.tenant_id)!.warmups;
    out.set(r.tenant_id, { subscriptionId: r.subscription_id, anchor, periods, rebuild, warmups });
  }
  return out;
}

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * Step 2: each mailbox's domain from its first `mailbox.created`. Returns the mailboxes
 * whose domain became known (their past days must add domain members) and the tenants
 * where a known mailbox changed domain (their domain members are re-derived).
 */
async function saveMailboxes(c: ClientBase, n: Names, acc: BillingAcc): Promise<{ known: Rows; moved: Set<string> }> {
  const known = new Rows(3);
  const moved = new Set<string>();
  if (!acc.mailboxes.size) return { known, moved };
  const input = new Rows(5);
  for (const m of acc.mailboxes.values()) input.push(m.tenantId, m.mailboxId, m.domainId, iso(m.at), String(m.position));
  const { rows } = await queryArrays<{ tenant_id: string; mailbox_id: string; domain_id: string; old_domain_id: string | null }>(
    c,
    `WITH input AS (
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[])
         AS u(tenant_id, mailbox_id, domain_id, created_at, created_position)),
     old AS (SELECT m.tenant_id, m.mailbox_id, m.domain_id FROM ${n.mailboxes} m JOIN input i USING (tenant_id, mailbox_id)),
     saved AS (
       INSERT INTO ${n.mailboxes} AS cur (tenant_id, mailbox_id, domain_id, created_at, created_position)
       SELECT * FROM input
       ON CONFLICT (tenant_id, mailbox_id) DO UPDATE SET
         domain_id = EXCLUDED.domain_id, created_at = EXCLUDED.created_at, created_position = EXCLUDED.created_position
       WHERE (EXCLUDED.created_at, EXCLUDED.created_position) < (cur.created_at, cur.created_position)
       RETURNING tenant_id, mailbox_id, domain_id)
     SELECT s.tenant_id, s.mailbox_id, s.domain_id, o.domain_id AS old_domain_id FROM saved s LEFT JOIN old o USING (tenant_id, mailbox_id)`,
    input.columns,
  );
  for (const r of rows) {
    if (r.old_domain_id === null) known.push(r.tenant_id, r.mailbox_id, r.domain_id);
    else if (r.old_domain_id !== r.domain_id) moved.add(r.tenant_id);
  }
  return { known, moved };
}

/** Step 5 (rare): a mailbox changed domain; derive the tenants' domain members afresh. */
async function rederiveDomains(c: ClientBase, n: Names, tenantIds: string[]): Promise<void> {
  await queryArrays(c, `DELETE FROM ${n.members} WHERE tenant_id = ANY($1::text[]) AND kind = 'd'`, [tenantIds]);
  await queryArrays(
    c,
    `INSERT INTO ${n.members} (tenant_id, kind, member, day)
     SELECT DISTINCT m.tenant_id, 'd', b.domain_id, m.day
       FROM ${n.members} m JOIN ${n.mailboxes} b ON b.tenant_id = m.tenant_id AND b.mailbox_id = m.member
      WHERE m.tenant_id = ANY($1::text[]) AND m.kind = 'm'`,
    [tenantIds],
  );
}

/** (tenant, period_start, period_end) arrays for `unnest`. */
function periodRows(list: Iterable<[string, Period]>): unknown[][] {
  const rows = new Rows(3);
  for (const [t, p] of list) rows.push(t, p.start, p.end);
  return rows.columns;
}

/**
 * Step 6: the day facts, and the public increments they make: emails, and members new to
 * their period — inserted into `members` now (ON CONFLICT DO NOTHING RETURNING) and not
 * present on another day of the period before this statement (its snapshot predates the
 * insert). Domain members come from the batch's mailboxes whose domain is known, and from
 * every past day of the mailboxes whose domain just became known.
 */
async function addUsage(c: ClientBase, n: Names, acc: BillingAcc, tenants: Map<string, TenantState>, known: Rows): Promise<void> {
  if (!acc.members.size && !known.length) return;
  const members = new Rows(4);
  for (const m of acc.members.values()) members.push(...m);
  // The periods the statement matches days against: all of a tenant's when a mailbox of
  // it became known (its past days may be anywhere), else those of the batch's days.
  const periods = new Map<string, [string, Period]>();
  const withPast = new Set(known.columns[0] as string[]);
  const add = (tenantId: string, p: Period) => periods.set(`${tenantId}\u0000${p.start}`, [tenantId, p]);
  for (const t of withPast) for (const p of tenants.get(t)!.periods) add(t, p);
  const emailPeriods = new Map<string, { tenantId: string; start: string; count: number }>();
  for (const [t, , , d] of acc.members.values()) if (!withPast.has(t)) add(t, periodOfDay(d, tenants.get(t)!.anchor));
  for (const e of acc.emails.values()) {
    const p = periodOfDay(e.day, tenants.get(e.tenantId)!.anchor);
    const k = `${e.tenantId}\u0000${p.start}`;
    const row = emailPeriods.get(k) ?? { tenantId: e.tenantId, start: p.start, count: 0 };
    row.count += e.count;
    emailPeriods.set(k, row);
  }
  const emails = new Rows(3);
  for (const e of emailPeriods.values()) emails.push(e.tenantId, e.start, e.count);
  const rebuilt = [...tenants].filter(([, t]) => t.rebuild).map(([id]) => id);
  const counted = ['m', 'd', 'c', 'l'].map((k) => `count(*) FILTER (WHERE kind = '${k}')`).join(', ');
  await queryArrays(
    c,
    `WITH batch AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[]) AS u(tenant_id, kind, member, day)),
     known AS (SELECT * FROM unnest($5::text[], $6::text[], $7::text[]) AS u(tenant_id, mailbox_id, domain_id)),
     periods AS (SELECT * FROM unnest($8::text[], $9::date[], $10::date[]) AS u(tenant_id, period_start, period_end)),
     emails AS (SELECT * FROM unnest($11::text[], $12::date[], $13::int[]) AS u(tenant_id, period_start, emails)),
     candidate AS (
       SELECT tenant_id, kind, member, day FROM batch
       UNION
       SELECT b.tenant_id, 'd', mb.domain_id, b.day
         FROM batch b JOIN ${n.mailboxes} mb ON mb.tenant_id = b.tenant_id AND mb.mailbox_id = b.member
        WHERE b.kind = 'm'
       UNION
       SELECT m.tenant_id, 'd', k.domain_id, m.day
         FROM known k JOIN ${n.members} m ON m.tenant_id = k.tenant_id AND m.kind = 'm' AND m.member = k.mailbox_id),
     fresh AS (
       INSERT INTO ${n.members} (tenant_id, kind, member, day) SELECT tenant_id, kind, member, day FROM candidate
       ON CONFLICT DO NOTHING
       RETURNING tenant_id, kind, member, day),
     added AS (
       SELECT DISTINCT f.tenant_id, p.period_start, f.kind, f.member
         FROM fresh f JOIN periods p ON p.tenant_id = f.tenant_id AND f.day >= p.period_start AND f.day < p.period_end
        WHERE NOT EXISTS (
          SELECT 1 FROM ${n.members} o
           WHERE o.tenant_id = f.tenant_id AND o.kind = f.kind AND o.member = f.member
             AND o.day >= p.period_start AND o.day < p.period_end)),
     delta (tenant_id, period_start, emails_sent, mailboxes_used, domains_used, campaigns_used, leads_used) AS (
       SELECT tenant_id, period_start, emails, 0, 0, 0, 0 FROM emails
       UNION ALL
       SELECT tenant_id, period_start, 0, ${counted} FROM added GROUP BY tenant_id, period_start)
     INSERT INTO ${n.table} AS cur (tenant_id, period_start, period_end, subscription_id,
                                    emails_sent, mailboxes_used, domains_used, campaigns_used, leads_used)
     SELECT d.tenant_id, d.period_start, p.period_end, t.subscription_id,
            sum(d.emails_sent), sum(d.mailboxes_used), sum(d.domains_used), sum(d.campaigns_used), sum(d.leads_used)
       FROM delta d JOIN periods p USING (tenant_id, period_start) JOIN ${n.tenants} t USING (tenant_id)
      WHERE d.tenant_id <> ALL($14::text[])
      GROUP BY d.tenant_id, d.period_start, p.period_end, t.subscription_id
     ON CONFLICT (tenant_id, period_start) DO UPDATE SET
       ${BILLING_COUNTERS.filter((k) => k !== 'warmups_active').map((k) => `${k} = cur.${k} + EXCLUDED.${k}`).join(', ')},
       updated_at = now()`,
    [...members.columns, ...known.columns, ...periodRows(periods.values()), ...emails.columns, rebuilt],
  );
}

/**
 * Step 7 (rare): the tenants' rows recomputed from their day facts — after a late
 * `subscription.started` re-periodized their history. `warmups_active` follows in step 8.
 */
async function rebuildRows(c: ClientBase, n: Names, list: Array<[string, TenantState]>): Promise<void> {
  const ids = list.map(([id]) => id);
  const distinct = ['m', 'd', 'c', 'l'].map((k) => `count(DISTINCT m.member) FILTER (WHERE m.kind = '${k}')::int`).join(', ');
  await queryArrays(c, `DELETE FROM ${n.table} WHERE tenant_id = ANY($1::text[])`, [ids]);
  await queryArrays(
    c,
    `WITH periods AS (SELECT * FROM unnest($1::text[], $2::date[], $3::date[]) AS u(tenant_id, period_start, period_end)),
     sent AS (
       SELECT p.tenant_id, p.period_start, sum(d.emails)::int AS emails_sent
         FROM periods p JOIN ${n.days} d ON d.tenant_id = p.tenant_id AND d.day >= p.period_start AND d.day < p.period_end
        GROUP BY p.tenant_id, p.period_start),
     used (tenant_id, period_start, mailboxes_used, domains_used, campaigns_used, leads_used) AS (
       SELECT p.tenant_id, p.period_start, ${distinct}
         FROM periods p JOIN ${n.members} m ON m.tenant_id = p.tenant_id AND m.day >= p.period_start AND m.day < p.period_end
        GROUP BY p.tenant_id, p.period_start)
     INSERT INTO ${n.table} (tenant_id, period_start, period_end, subscription_id,
                             emails_sent, mailboxes_used, domains_used, campaigns_used, leads_used)
     SELECT p.tenant_id, p.period_start, p.period_end, t.subscription_id, COALESCE(s.emails_sent, 0),
            COALESCE(u.mailboxes_used, 0), COALESCE(u.domains_used, 0), COALESCE(u.campaigns_used, 0), COALESCE(u.leads_used, 0)
       FROM periods p JOIN ${n.tenants} t USING (tenant_id)
       LEFT JOIN sent s USING (tenant_id, period_start) LEFT JOIN used u USING (tenant_id, period_start)
      WHERE s.tenant_id IS NOT NULL OR u.tenant_id IS NOT NULL`,
    periodRows(list.flatMap(([id, t]) => t.periods.map((p): [string, Period] => [id, p]))),
  );
}

/**
 * Step 8: `warmups_active` of every period of these tenants from their warm-up marks
 * (`warmups.ts`). A row is created only for a count > 0, updated only when it changes; a
 * row it leaves all-zero is deleted.
 */
async function writeWarmups(c: ClientBase, n: Names, list: Array<[string, TenantState]>): Promise<void> {
  const { rows } = await queryArrays<{ tenant_id: string; mailbox_id: string; occurred_at: Date; position: string; started: boolean }>(
    c,
    `SELECT tenant_id, mailbox_id, occurred_at, position, started FROM ${n.warmups} WHERE tenant_id = ANY($1::text[])`,
    [list.map(([id]) => id)],
  );
  const marks = new Map<string, WarmupMark[]>();
  for (const r of rows) {
    const m = { mailboxId: r.mailbox_id, at: r.occurred_at.getTime(), position: BigInt(r.position), started: r.started };
    const l = marks.get(r.tenant_id);
    if (l) l.push(m);
    else marks.set(r.tenant_id, [m]);
  }
  const out = new Rows(5);
  for (const [id, t] of list) {
    const counts = activeWarmups(marks.get(id) ?? [], t.periods);
    t.periods.forEach((p, i) => out.push(id, p.start, p.end, t.subscriptionId, counts[i]));
  }
  const [tenantIds, starts, , , counts] = out.columns;
  await queryArrays(
    c,
    `INSERT INTO ${n.table} AS cur (tenant_id, period_start, period_end, subscription_id, warmups_active)
     SELECT * FROM unnest($1::text[], $2::date[], $3::date[], $4::text[], $5::int[])
         AS u(tenant_id, period_start, period_end, subscription_id, warmups_active)
      WHERE u.warmups_active > 0
         OR EXISTS (SELECT 1 FROM ${n.table} x WHERE x.tenant_id = u.tenant_id AND x.period_start = u.period_start)
     ON CONFLICT (tenant_id, period_start) DO UPDATE SET warmups_active = EXCLUDED.warmups_active, updated_at = now()
      WHERE cur.warmups_active <> EXCLUDED.warmups_active`,
    out.columns,
  );
  const zero = (counts as number[]).map((k, i) => (k === 0 ? i : -1)).filter((i) => i >= 0);
  if (!zero.length) return;
  await queryArrays(
    c,
    `DELETE FROM ${n.table} t USING unnest($1::text[], $2::date[]) AS z(tenant_id, period_start)
      WHERE t.tenant_id = z.tenant_id AND t.period_start = z.period_start
        AND ${BILLING_COUNTERS.map((k) => `t.${k} = 0`).join(' AND ')}`,
    [zero.map((i) => tenantIds[i]), zero.map((i) => starts[i])],
  );
}
