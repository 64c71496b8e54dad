/**
 * `billing_analytics` (DESIGN §6): usage per tenant and billing period. Periods run from
 * the anchor day of the tenant's first subscription.started to the same day next month
 * (calendar months without a subscription); period_end is exclusive.
 */
import type { Tenant, WorkloadTruth } from '../truth';
import { counted, sortRows, upsert, type EmailOutcome, type Row } from './shared';

const BILLING_COUNTERS = ['emails_sent', 'mailboxes_used', 'domains_used', 'campaigns_used', 'leads_used', 'warmups_active'];

export const BILLING_ANALYTICS_COLUMNS = ['tenant_id', 'period_start', 'period_end', 'subscription_id', ...BILLING_COUNTERS] as const;

const DAY = 86_400_000;

/** Midnight UTC of (year, month, anchor), the anchor clamped to the month's length. */
function anchored(year: number, month: number, anchor: number): number {
  const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return Date.UTC(year, month, Math.min(anchor, last));
}

/** Start (ms) of the period holding `at`. */
export function periodStart(at: number, anchor: number): number {
  const d = new Date(at);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const start = anchored(y, m, anchor);
  return at >= start ? start : anchored(y, m - 1, anchor);
}

/** Start (ms) of the period after the one starting at `start`. */
export function periodEnd(start: number, anchor: number): number {
  const d = new Date(start);
  return anchored(d.getUTCFullYear(), d.getUTCMonth() + 1, anchor);
}

interface Usage {
  emails: number;
  mailboxes: Set<string>;
  campaigns: Set<string>;
  leads: Set<string>;
}

export function billingAnalytics(truth: WorkloadTruth, outcomes: EmailOutcome[]): Row[] {
  const byTenant = new Map<string, EmailOutcome[]>();
  for (const o of outcomes) upsert(byTenant, o.email.tenantId, () => [] as EmailOutcome[]).push(o);
  const out: Row[] = [];
  for (const tenant of truth.tenants) out.push(...tenantPeriods(tenant, byTenant.get(tenant.tenantId) ?? []));
  return sortRows(out, ['tenant_id', 'period_start']);
}

function tenantPeriods(tenant: Tenant, outcomes: EmailOutcome[]): Row[] {
  const anchor = tenant.subscription?.billingAnchorDay ?? 1;
  const domainOf = new Map(tenant.mailboxes.map((m) => [m.mailboxId, m.domain.domainId]));
  const usage = new Map<number, Usage>();
  const use = (at: number): Usage =>
    upsert(usage, periodStart(at, anchor), () => ({ emails: 0, mailboxes: new Set(), campaigns: new Set(), leads: new Set() }));
  // Billing-relevant instants bound the periods considered.
  let first = Infinity;
  let last = -Infinity;
  const see = (at: number): void => {
    first = Math.min(first, at);
    last = Math.max(last, at);
  };
  for (const { email } of outcomes) {
    see(email.sentAt);
    const u = use(email.sentAt);
    u.emails++;
    u.mailboxes.add(email.mailboxId);
    if (email.campaignId !== null) u.campaigns.add(email.campaignId);
    u.leads.add(email.leadId);
  }
  const warmups: Array<{ mailboxId: string; from: number; to: number }> = [];
  for (const m of tenant.mailboxes) {
    const w = m.warmup;
    if (!w) continue;
    see(w.startedAt);
    if (w.stoppedAt !== null) see(w.stoppedAt);
    warmups.push({ mailboxId: m.mailboxId, from: w.startedAt, to: w.stoppedAt ?? Infinity });
    for (const f of w.events) {
      if (f.type !== 'warmup.email_sent') continue;
      see(f.at);
      use(f.at).mailboxes.add(m.mailboxId);
    }
  }
  const rows: Row[] = [];
  if (first === Infinity) return rows;
  for (let start = periodStart(first, anchor); start <= last; start = periodEnd(start, anchor)) {
    const end = periodEnd(start, anchor);
    const u = usage.get(start);
    const mailboxes = u?.mailboxes ?? new Set<string>();
    const domains = new Set([...mailboxes].map((id) => domainOf.get(id) ?? null).filter((d) => d !== null));
    // Active at some instant of [start, end): started before the end, not stopped by the start.
    const active = new Set(warmups.filter((w) => w.from < end && w.to > start).map((w) => w.mailboxId));
    const row: Row = {
      tenant_id: tenant.tenantId,
      period_start: ymd(start),
      period_end: ymd(end),
      subscription_id: tenant.subscription?.subscriptionId ?? null,
      emails_sent: u?.emails ?? 0,
      mailboxes_used: mailboxes.size,
      domains_used: domains.size,
      campaigns_used: u?.campaigns.size ?? 0,
      leads_used: u?.leads.size ?? 0,
      warmups_active: active.size,
    };
    if (counted(row, BILLING_COUNTERS)) rows.push(row);
  }
  return rows;
}

const ymd = (ms: number): string => new Date(ms - (ms % DAY)).toISOString().slice(0, 10);
