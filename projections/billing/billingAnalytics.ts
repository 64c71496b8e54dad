/**
 * `billing_analytics` (DESIGN §6): usage per tenant and billing period — emails sent,
 * distinct mailboxes, domains, campaigns and leads used, warm-ups active.
 *
 * Billing periods depend on facts that may arrive after the usage (a `subscription.started`
 * fixes the anchor of the tenant's whole history; a `mailbox.created` names the domain of
 * a mailbox already used), and distinct counts must stay exact across batches. So the
 * projection keeps the usage facts by UTC day in private tables (see
 * migrations/20261123000350_billing_analytics_state.ts) and writes the public rows from
 * them (`write.ts`):
 * - the usual batch adds emails and members (a mailbox, campaign, lead or domain not yet
 *   used in its period) to the periods they fall in: increments, O(batch);
 * - a tenant whose anchor or subscription changes, or whose mailbox changes domain, has
 *   all its rows recomputed from its facts (rare: subscriptions come first in practice);
 * - `warmups_active` depends on which periods exist (a warm-up never stopped is active up
 *   to the last period considered), so it is recomputed for a tenant, over all its periods,
 *   when a warm-up starts or stops or its first or last period moves.
 *
 * Period math lives in `periods.ts` and warm-up activity in `warmups.ts`, shared with the
 * history recompute (`recompute.ts`).
 */
import { utcDay } from '../runtime/sql';
import type { Fact, Projection } from '../runtime/types';
import { dayMs } from './periods';
import { BILLING_TYPES } from './recompute';
import { BILLING_TABLES, writeBilling } from './write';

type Data = Record<string, unknown>;

/** What a batch tells about one tenant. */
export interface TenantBatch {
  /** The batch's earliest `subscription.started` by (occurredAt, position). */
  subscription: { id: string; anchor: number; at: number; position: bigint } | null;
  /** First and last day (midnight, epoch ms) of the batch's billing-relevant facts; ±Infinity when none. */
  first: number;
  last: number;
  /** Whether a warm-up started or stopped. */
  warmups: boolean;
}

export interface BillingAcc {
  tenants: Map<string, TenantBatch>;
  /** First sends by (tenant, day). */
  emails: Map<string, { tenantId: string; day: string; count: number }>;
  /** Distinct (tenant, kind, member, day) used: kind m(ailbox), c(ampaign), l(ead). */
  members: Map<string, [tenantId: string, kind: string, member: string, day: string]>;
  /** The batch's earliest `mailbox.created` per (tenant, mailbox). */
  mailboxes: Map<string, { tenantId: string; mailboxId: string; domainId: string; at: number; position: bigint }>;
  warmups: Array<{ tenantId: string; position: bigint; mailboxId: string; at: number; started: boolean }>;
}

const key = (...parts: string[]): string => parts.join('\u0000');
const earlier = (at: number, position: bigint, than: { at: number; position: bigint }): boolean =>
  at < than.at || (at === than.at && position < than.position);

function tenant(acc: BillingAcc, tenantId: string): TenantBatch {
  let t = acc.tenants.get(tenantId);
  if (!t) {
    t = { subscription: null, first: Infinity, last: -Infinity, warmups: false };
    acc.tenants.set(tenantId, t);
  }
  return t;
}

/** A billing-relevant instant: it bounds the periods considered. */
function used(acc: BillingAcc, tenantId: string, day: string): void {
  const t = tenant(acc, tenantId);
  const ms = dayMs(day);
  if (ms < t.first) t.first = ms;
  if (ms > t.last) t.last = ms;
}

function member(acc: BillingAcc, tenantId: string, kind: string, id: string, day: string): void {
  acc.members.set(key(tenantId, kind, id, day), [tenantId, kind, id, day]);
}

export const billingAnalytics: Projection<BillingAcc> = {
  name: 'billing_analytics',
  version: 1,
  tables: [...BILLING_TABLES],
  types: BILLING_TYPES,
  begin: () => ({ tenants: new Map(), emails: new Map(), members: new Map(), mailboxes: new Map(), warmups: [] }),
  fold(acc: BillingAcc, f: Fact) {
    const e = f.event;
    const d = e.data as Data;
    const at = e.occurredAt.getTime();
    switch (e.type) {
      case 'email.sent': {
        // Only an email's first send reaches projections (the runtime ignores later ones).
        const s = f.email?.next;
        if (!s || f.email?.prev !== null) return;
        const day = s.cohortDay;
        used(acc, s.tenantId, day);
        const k = key(s.tenantId, day);
        const row = acc.emails.get(k) ?? { tenantId: s.tenantId, day, count: 0 };
        row.count++;
        acc.emails.set(k, row);
        member(acc, s.tenantId, 'm', s.mailboxId, day);
        if (s.campaignId !== null) member(acc, s.tenantId, 'c', s.campaignId, day);
        member(acc, s.tenantId, 'l', s.leadId, day);
        return;
      }
      case 'warmup.email_sent': {
        const day = utcDay(at);
        used(acc, e.tenantId, day);
        member(acc, e.tenantId, 'm', String(d.mailboxId), day);
        return;
      }
      case 'warmup.started':
      case 'warmup.stopped':
        used(acc, e.tenantId, utcDay(at));
        tenant(acc, e.tenantId).warmups = true;
        acc.warmups.push({ tenantId: e.tenantId, position: e.position, mailboxId: String(d.mailboxId), at, started: e.type === 'warmup.started' });
        return;
      case 'mailbox.created': {
        tenant(acc, e.tenantId);
        const k = key(e.tenantId, String(d.mailboxId));
        const prev = acc.mailboxes.get(k);
        if (!prev || earlier(at, e.position, prev)) {
          acc.mailboxes.set(k, { tenantId: e.tenantId, mailboxId: String(d.mailboxId), domainId: String(d.domainId), at, position: e.position });
        }
        return;
      }
      case 'subscription.started': {
        const t = tenant(acc, e.tenantId);
        if (!t.subscription || earlier(at, e.position, t.subscription)) {
          t.subscription = { id: String(d.subscriptionId), anchor: Number(d.billingAnchorDay), at, position: e.position };
        }
        return;
      }
      default:
        return;
    }
  },
  write: writeBilling,
};
