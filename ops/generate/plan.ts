/**
 * The email plan: who sends what to whom and when, and how each email ends, decided
 * before any line is written because a lead's sequence depends on how its earlier
 * emails ended (a reply or a hard bounce stops it). Kept as parallel typed arrays
 * (~27 bytes an email) so a million-email plan costs tens of megabytes, not a heap of
 * objects; the lines themselves are made later, in send order.
 */
import type { Random } from './random';
import { ANOMALY_KINDS, type AnomalyKind, type World, type WorkloadWindow } from './truth';
import { CAMPAIGN, DAY, FORCE_ANOMALIES_FROM, HOUR, OUTCOME } from './rates';

/** Bits of `EmailPlan.flags`. An email with none of failed/bounced/delivered is silent. */
export const FLAG = {
  failed: 1,
  bounced: 2,
  hard: 4,
  deferred: 8,
  delivered: 16,
  replied: 32,
  unsubscribed: 64,
  complained: 128,
  firstOfLead: 256,
  lastOfLead: 512,
  /** The lead's sequence ends with this email (all steps sent, or it was answered). */
  completes: 1024,
} as const;

const STOPS_SEQUENCE = FLAG.hard | FLAG.replied | FLAG.unsubscribed | FLAG.complained;

export interface EmailPlan {
  count: number;
  /** Plan indices in send order (by time, then index). */
  order: Uint32Array;
  /** Send time (epoch ms) of the first `email.sent`. */
  at: Float64Array;
  /** Index into `World.campaigns`, -1 for a one-off email. */
  campaign: Int32Array;
  /** Index into the campaign's `emailSteps`, -1 for a one-off email. */
  step: Int8Array;
  /** Index into `World.mailboxes`; the tenant is the mailbox's. */
  mailbox: Uint32Array;
  /** Lead number, 0-based over the workload; each lead belongs to one tenant. */
  lead: Uint32Array;
  flags: Uint16Array;
  leads: number;
  /** Send rank (position in `order`) → the anomaly that email must show. */
  forced: Map<number, AnomalyKind>;
}

/** Splits `emails` over `tenants` unevenly (weights 0.25–2) and exactly, by largest remainder. */
export function splitEmails(emails: number, tenants: number, rng: Random): number[] {
  const weights = Array.from({ length: tenants }, () => rng.between(0.25, 2));
  const total = weights.reduce((a, b) => a + b, 0);
  const shares = weights.map((w) => (emails * w) / total);
  const quotas = shares.map(Math.floor);
  let left = emails - quotas.reduce((a, b) => a + b, 0);
  const byRemainder = shares.map((_, i) => i).sort((a, b) => shares[b] - quotas[b] - (shares[a] - quotas[a]) || a - b);
  for (let k = 0; left > 0; k++, left--) quotas[byRemainder[k]]++;
  return quotas;
}

function drawOutcome(rng: Random): number {
  const r = rng.next();
  if (r < OUTCOME.failed) return FLAG.failed;
  if (r < OUTCOME.failed + OUTCOME.bounced) {
    if (rng.chance(OUTCOME.hardBounceShare)) return FLAG.bounced | FLAG.hard;
    return FLAG.bounced | (rng.chance(OUTCOME.deferredBeforeSoftBounce) ? FLAG.deferred : 0);
  }
  if (r < OUTCOME.failed + OUTCOME.bounced + OUTCOME.silent) {
    return rng.chance(OUTCOME.deferredBeforeSoftBounce) ? FLAG.deferred : 0;
  }
  let flags: number = FLAG.delivered | (rng.chance(OUTCOME.deferredBeforeDelivery) ? FLAG.deferred : 0);
  const response = rng.next();
  if (response < OUTCOME.replied) flags |= FLAG.replied;
  else if (response < OUTCOME.replied + OUTCOME.unsubscribed) flags |= FLAG.unsubscribed;
  else if (response < OUTCOME.replied + OUTCOME.unsubscribed + OUTCOME.complained) flags |= FLAG.complained;
  return flags;
}

/**
 * The days (first and last, 0-based) on which campaign number `c` of a tenant enrols
 * new leads. The first campaign starts on day 0; the others start later and run for a
 * third of the window or more, so some finish (and complete) before the window ends.
 */
function enrolmentDays(c: number, days: number, rng: Random): [number, number] {
  const first = c === 0 ? 0 : rng.int(0, Math.floor((days - 1) / 2));
  const length = rng.int(Math.ceil(days / 3), days);
  return [first, Math.min(days - 1, first + length - 1)];
}

/** Plans `quotas[i]` emails for tenant i of `world` inside `window`. */
export function planEmails(world: World, quotas: readonly number[], window: WorkloadWindow, rng: Random): EmailPlan {
  const count = quotas.reduce((a, b) => a + b, 0);
  const plan: EmailPlan = {
    count,
    order: new Uint32Array(count),
    at: new Float64Array(count),
    campaign: new Int32Array(count),
    step: new Int8Array(count),
    mailbox: new Uint32Array(count),
    lead: new Uint32Array(count),
    flags: new Uint16Array(count),
    leads: 0,
    forced: new Map(),
  };
  let n = 0;
  const add = (at: number, campaign: number, step: number, mailbox: number, flags: number): number => {
    plan.at[n] = at;
    plan.campaign[n] = campaign;
    plan.step[n] = step;
    plan.mailbox[n] = mailbox;
    plan.lead[n] = plan.leads;
    plan.flags[n] = flags;
    return n++;
  };

  world.tenants.forEach((tenant, t) => {
    const oneOffs = Math.round(quotas[t] * CAMPAIGN.oneOff);
    let left = quotas[t] - oneOffs;
    const enrolment = tenant.campaigns.map((_, c) => enrolmentDays(c, window.days, rng));
    while (left > 0) {
      const c = rng.int(0, tenant.campaigns.length - 1);
      const campaign = tenant.campaigns[c];
      const [minGap, maxGap] = CAMPAIGN.stepGapDays;
      let at = window.startMs + rng.int(enrolment[c][0], enrolment[c][1]) * DAY + rng.int(7 * HOUR, 19 * HOUR);
      let last = -1;
      let sent = 0;
      while (sent < campaign.emailSteps.length && at < window.endMs && left > 0) {
        const outcome = drawOutcome(rng);
        last = add(at, campaign.index, sent++, rng.pick(campaign.mailboxes).index, outcome | (last < 0 ? FLAG.firstOfLead : 0));
        left--;
        if (outcome & STOPS_SEQUENCE) break;
        at += rng.int(minGap, maxGap) * DAY + rng.int(-HOUR, HOUR);
      }
      // A sequence cut by the window end, or stopped by anything but a reply, is not completed.
      const stopped = (plan.flags[last] & STOPS_SEQUENCE) !== 0;
      const finished = stopped ? (plan.flags[last] & FLAG.replied) !== 0 : sent === campaign.emailSteps.length;
      plan.flags[last] |= FLAG.lastOfLead | (finished ? FLAG.completes : 0);
      plan.leads++;
    }
    const senders = tenant.mailboxes.filter((m) => m.sends);
    for (let k = 0; k < oneOffs; k++) {
      const at = window.startMs + rng.int(0, window.days - 1) * DAY + rng.int(6 * HOUR, 22 * HOUR);
      add(at, -1, -1, rng.pick(senders).index, drawOutcome(rng) | FLAG.firstOfLead | FLAG.lastOfLead);
      plan.leads++;
    }
  });

  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => plan.at[a] - plan.at[b] || a - b);
  plan.order.set(order);
  if (count >= FORCE_ANOMALIES_FROM) forceAnomalies(plan);
  return plan;
}

/**
 * Designates one email per anomaly kind, spread over the middle of the send order, and
 * makes it delivered, since each anomaly needs opens or clicks to show on.
 */
function forceAnomalies(plan: EmailPlan): void {
  ANOMALY_KINDS.forEach((kind, k) => {
    const rank = Math.floor(plan.count * (0.3 + 0.08 * k));
    const i = plan.order[rank];
    plan.flags[i] = (plan.flags[i] & ~(FLAG.failed | FLAG.bounced | FLAG.hard)) | FLAG.delivered;
    plan.forced.set(rank, kind);
  });
}
