/**
 * One tenant's `billing_analytics` rows computed from that tenant's history alone (DESIGN
 * §6), in memory: what `floe billing recompute --tenant T --period YYYY-MM` compares with
 * the live row and the invoiced figures. It applies the same rules as the projection
 * (`billingAnalytics.ts`) and shares its period and warm-up logic (`periods.ts`,
 * `warmups.ts`), so the two cannot drift; the specs check recompute = projection = oracle.
 *
 * Counting rules it applies itself, as the projection runtime does for projections:
 * an email counts from its first `email.sent` by store position, later sends of it are
 * ignored; the tenant's first `subscription.started` by (occurredAt, position) fixes the
 * anchor and subscription id; a mailbox's domain comes from its first `mailbox.created`.
 * Beyond the tenant's history, one fact of other tenants counts: an email first sent under
 * another tenant is that tenant's, and a later send of it under this one counts nowhere (the
 * projection dead-letters it). The caller passes the emails' first sends in the store
 * (`owners`, from `firstSends` in runtime/ledger.ts).
 *
 * @example
 *   const events = await readStored(pool, { tenant, types: [...BILLING_TYPES], limit: Number.MAX_SAFE_INTEGER }, schemas);
 *   const rows = billingRows(tenant, events);
 *   const march = rows.find((r) => r.period_start === periodOfMonth('2026-03', anchor).start);
 */
import { byPosition, type StoredEvent } from '../../streams/envelope';
import { ownedElsewhere, type Owner } from '../runtime/ledger';
import { CALENDAR_ANCHOR, dayMs, periodsBetween } from './periods';
import { activeWarmups, type WarmupMark } from './warmups';

/** A row of `billing_analytics`, columns in table order. */
export interface BillingRow {
  tenant_id: string;
  period_start: string;
  period_end: string;
  subscription_id: string | null;
  emails_sent: number;
  mailboxes_used: number;
  domains_used: number;
  campaigns_used: number;
  leads_used: number;
  warmups_active: number;
}

/** The six counters; a row exists only when one of them is > 0. */
export const BILLING_COUNTERS = ['emails_sent', 'mailboxes_used', 'domains_used', 'campaigns_used', 'leads_used', 'warmups_active'] as const;

/** The types billing reads. */
export const BILLING_TYPES = [
  'email.sent',
  'warmup.email_sent',
  'warmup.started',
  'warmup.stopped',
  'mailbox.created',
  'subscription.started',
] as const;

type Data = Record<string, unknown>;

/** What the fold needs of an event (a `StoredEvent` is one). */
export type HistoryEvent = Pick<StoredEvent, 'type' | 'stream' | 'streamPosition' | 'tenantId' | 'occurredAt' | 'position' | 'data'>;

const earlier = (a: HistoryEvent, b: HistoryEvent): boolean =>
  a.occurredAt.getTime() < b.occurredAt.getTime() || (a.occurredAt.getTime() === b.occurredAt.getTime() && a.position < b.position);

interface Usage {
  emails: number;
  mailboxes: Set<string>;
  campaigns: Set<string>;
  leads: Set<string>;
}

/** The anchor day a tenant's first `subscription.started` fixes; calendar months without one. */
export const anchorOf = (subscription: HistoryEvent | undefined): number =>
  subscription ? Number((subscription.data as Data).billingAnchorDay) : CALENDAR_ANCHOR;

/** The first of these `subscription.started` events by (occurredAt, position). */
export function firstSubscription(events: readonly HistoryEvent[]): HistoryEvent | undefined {
  let first: HistoryEvent | undefined;
  for (const e of events) if (e.type === 'subscription.started' && (!first || earlier(e, first))) first = e;
  return first;
}

/** The tenant's rows, sorted by period_start; events of other tenants are ignored. */
export function billingRows(tenantId: string, events: readonly HistoryEvent[], owners: ReadonlyMap<string, Owner> = new Map()): BillingRow[] {
  const own = events.filter((e) => e.tenantId === tenantId).sort(byPosition);
  const subscription = firstSubscription(own);
  const created = new Map<string, HistoryEvent>(); // first mailbox.created per mailbox
  const sent = new Set<string>();
  const sends: Array<{ at: number; mailboxId: string; campaignId: string | null; leadId: string }> = [];
  const warmupSends: Array<{ at: number; mailboxId: string }> = [];
  const marks: WarmupMark[] = [];
  for (const e of own) {
    const d = e.data as Data;
    const at = e.occurredAt.getTime();
    switch (e.type) {
      case 'email.sent': {
        const emailId = String(d.emailId);
        if (sent.has(emailId)) break; // a later send of a counted email
        sent.add(emailId);
        if (ownedElsewhere(owners.get(emailId), e)) break; // first sent by another tenant: theirs
        sends.push({ at, mailboxId: String(d.mailboxId), campaignId: d.campaignId == null ? null : String(d.campaignId), leadId: String(d.leadId) });
        break;
      }
      case 'warmup.email_sent':
        warmupSends.push({ at, mailboxId: String(d.mailboxId) });
        break;
      case 'warmup.started':
      case 'warmup.stopped':
        marks.push({ mailboxId: String(d.mailboxId), at, position: e.position, started: e.type === 'warmup.started' });
        break;
      case 'mailbox.created': {
        const prev = created.get(String(d.mailboxId));
        if (!prev || earlier(e, prev)) created.set(String(d.mailboxId), e);
        break;
      }
      default:
        break;
    }
  }

  // Billing-relevant instants bound the periods considered (as in the projection).
  let first = Infinity;
  let last = -Infinity;
  for (const { at } of [...sends, ...warmupSends, ...marks]) {
    if (at < first) first = at;
    if (at > last) last = at;
  }
  if (first === Infinity) return [];
  const sub = subscription?.data as Data | undefined;
  const anchor = anchorOf(subscription);
  const periods = periodsBetween(first, last, anchor);
  const starts = periods.map((p) => dayMs(p.start));
  /** Index of the period holding `at` (periods are sorted and contiguous). */
  const indexOf = (at: number): number => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const usage: Usage[] = periods.map(() => ({ emails: 0, mailboxes: new Set(), campaigns: new Set(), leads: new Set() }));
  for (const s of sends) {
    const u = usage[indexOf(s.at)];
    u.emails++;
    u.mailboxes.add(s.mailboxId);
    if (s.campaignId !== null) u.campaigns.add(s.campaignId);
    u.leads.add(s.leadId);
  }
  for (const s of warmupSends) usage[indexOf(s.at)].mailboxes.add(s.mailboxId);
  const active = activeWarmups(marks, periods);
  const subscriptionId = sub ? String(sub.subscriptionId) : null;

  const rows: BillingRow[] = [];
  periods.forEach((p, i) => {
    const u = usage[i];
    const domains = new Set<string>();
    for (const m of u.mailboxes) {
      const c = created.get(m);
      if (c) domains.add(String((c.data as Data).domainId));
    }
    const row: BillingRow = {
      tenant_id: tenantId,
      period_start: p.start,
      period_end: p.end,
      subscription_id: subscriptionId,
      emails_sent: u.emails,
      mailboxes_used: u.mailboxes.size,
      domains_used: domains.size,
      campaigns_used: u.campaigns.size,
      leads_used: u.leads.size,
      warmups_active: active[i],
    };
    if (BILLING_COUNTERS.some((c) => row[c] > 0)) rows.push(row);
  });
  return rows;
}
