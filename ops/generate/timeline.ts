/**
 * The lines about the world itself, all known before the first send: tenant set-up,
 * subscriptions and plan changes, companies, domains, mailboxes and their incidents,
 * warm-up start and stop, campaigns with their steps and statuses, admin actions. They
 * are few (tens per tenant), so they are queued all at once.
 */
import { ipAddress, userAgent } from './fake';
import { eventLine, isoTime, type Outbox } from './outbox';
import type { EmailPlan } from './plan';
import type { Random } from './random';
import { CAMPAIGN, HOUR, MINUTE } from './rates';
import type { AdminActionFact, Campaign, Tenant, World, WorkloadWindow } from './truth';

/** Queues the world's lines and completes each campaign's statuses from the plan. */
export function emitTimeline(world: World, plan: EmailPlan, window: WorkloadWindow, outbox: Outbox, rng: Random): void {
  const spans = campaignSpans(plan);
  const emit = (tenantId: string, type: string, at: number, data: Record<string, unknown>): void => {
    outbox.push(eventLine(rng, type, tenantId, at, data), outbox.promptly(at));
  };
  for (const tenant of world.tenants) {
    const t = tenant.tenantId;
    emit(t, 'tenant.created', tenant.createdAt, { name: tenant.name });
    const sub = tenant.subscription;
    if (sub) {
      const { subscriptionId, planId, billingAnchorDay } = sub;
      emit(t, 'subscription.started', sub.startedAt, { subscriptionId, planId, billingAnchorDay });
      for (const change of sub.changes) emit(t, 'subscription.changed', change.at, { subscriptionId, planId: change.planId });
    }
    for (const { companyId, name, createdAt } of tenant.companies) emit(t, 'company.created', createdAt, { companyId, name });
    for (const { domainId, domain, companyId, addedAt } of tenant.domains) {
      emit(t, 'domain.added', addedAt, { domainId, domain, companyId });
    }
    for (const mailbox of tenant.mailboxes) {
      const { mailboxId, companyId, provider, warmup } = mailbox;
      emit(t, 'mailbox.created', mailbox.createdAt, { mailboxId, domainId: mailbox.domain.domainId, companyId, provider });
      for (const { status, at } of mailbox.statuses) emit(t, 'mailbox.status_changed', at, { mailboxId, status });
      if (warmup) {
        emit(t, 'warmup.started', warmup.startedAt, { mailboxId, targetDailyVolume: warmup.targetDailyVolume });
        if (warmup.stoppedAt !== null) {
          const reason = mailbox.sends ? rng.pick(['target reached', 'paused by user']) : 'mailbox deleted';
          emit(t, 'warmup.stopped', warmup.stoppedAt, { mailboxId, reason });
        }
      }
    }
    for (const campaign of tenant.campaigns) {
      const { campaignId, companyId, name, createdAt } = campaign;
      emit(t, 'campaign.created', createdAt, { campaignId, companyId, name });
      campaign.steps.forEach(({ stepId, stepOrder, stepType }, i) => {
        emit(t, 'sequence_step.defined', createdAt + 2000 + i * 1000, { campaignId, stepId, stepOrder, stepType });
      });
      const span = spans.get(campaign.index);
      if (span) addSendingStatuses(campaign, span, window, rng);
      for (const { status, at } of campaign.statuses) emit(t, 'campaign.status_changed', at, { campaignId, status });
    }
    for (const action of tenant.adminActions) {
      const data = adminData(tenant, action, rng);
      outbox.push({ id: action.id, type: 'admin.action', tenantId: t, occurredAt: isoTime(action.at), data }, outbox.promptly(action.at));
    }
  }
}

/** First and last send of each campaign that sends anything, by campaign index. */
function campaignSpans(plan: EmailPlan): Map<number, { first: number; last: number }> {
  const spans = new Map<number, { first: number; last: number }>();
  for (let i = 0; i < plan.count; i++) {
    const c = plan.campaign[i];
    if (c < 0) continue;
    const span = spans.get(c);
    if (!span) spans.set(c, { first: plan.at[i], last: plan.at[i] });
    else {
      span.first = Math.min(span.first, plan.at[i]);
      span.last = Math.max(span.last, plan.at[i]);
    }
  }
  return spans;
}

/** sending before the first send, maybe one pause, completed once it has been idle long enough. */
function addSendingStatuses(campaign: Campaign, span: { first: number; last: number }, window: WorkloadWindow, rng: Random): void {
  const statuses = campaign.statuses;
  statuses.push({ status: 'sending', at: span.first - rng.int(MINUTE, 10 * MINUTE) });
  if (span.last - span.first > 6 * HOUR && rng.chance(CAMPAIGN.pause)) {
    const pausedAt = rng.int(span.first + HOUR, span.last - 5 * HOUR);
    statuses.push({ status: 'paused', at: pausedAt }, { status: 'sending', at: pausedAt + rng.int(HOUR, 3 * HOUR) });
  }
  if (span.last < window.endMs - CAMPAIGN.completedIfIdleFor) {
    statuses.push({ status: 'completed', at: span.last + rng.int(HOUR, 6 * HOUR) });
  }
}

function adminData(tenant: Tenant, action: AdminActionFact, rng: Random): Record<string, unknown> {
  const change: Record<string, [unknown, unknown]> = {
    campaign: [{ status: 'sending' }, { status: 'paused' }],
    mailbox: [{ dailyLimit: 50 }, { dailyLimit: rng.int(10, 40) }],
    subscription: [{ planId: tenant.subscription?.planId ?? null }, { seats: rng.int(2, 20) }],
    tenant: [null, null],
  };
  const [oldValues, newValues] = change[action.resourceType];
  return {
    adminUserId: action.adminUserId,
    action: action.action,
    resourceType: action.resourceType,
    resourceId: action.resourceId,
    oldValues: oldValues === null ? null : JSON.stringify(oldValues),
    newValues: newValues === null ? null : JSON.stringify(newValues),
    ipAddress: ipAddress(rng),
    userAgent: userAgent(rng, false),
  };
}
