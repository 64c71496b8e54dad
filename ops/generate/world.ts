/**
 * The entities of a workload (tenants, companies, domains, mailboxes, campaigns and
 * their steps) with every fact about them known before the first send: subscriptions,
 * plan changes, mailbox incidents, warm-up spans and admin actions. Campaign sending
 * statuses depend on the email plan and are added by the timeline.
 */
import { campaignLinks, companyName, domainFor, person, PLANS, PROVIDERS } from './fake';
import type { Random } from './random';
import { CAMPAIGN, DAY, HOUR, MAILBOX, MINUTE, SETUP_SPAN, TENANT } from './rates';
import type { AdminActionFact, Campaign, Domain, Mailbox, Step, Tenant, World, WorkloadWindow } from './truth';

/** Administrators of the platform, shared by all tenants like a support team. */
const ADMIN_USERS = 3;

/**
 * Builds the world: `quotas[i]` emails will be sent by tenant i, which sizes its
 * campaigns. Draws only from `rng`.
 */
export function buildWorld(window: WorkloadWindow, quotas: readonly number[], rng: Random): World {
  const world: World = { tenants: [], mailboxes: [], campaigns: [] };
  const admins = Array.from({ length: ADMIN_USERS }, () => rng.uuid());
  quotas.forEach((quota, index) => {
    const tenant = buildTenant(window, index, rng);
    world.tenants.push(tenant);
    addMailboxes(window, tenant, world, rng);
    addCampaigns(tenant, quota, world, rng);
    tenant.adminActions = planAdminActions(window, tenant, admins, rng);
  });
  return world;
}

function buildTenant(window: WorkloadWindow, index: number, rng: Random): Tenant {
  const createdAt = window.startMs + rng.int(0, 20 * MINUTE);
  const name = companyName(rng);
  const tenant: Tenant = {
    index,
    tenantId: rng.uuid(),
    name,
    createdAt,
    subscription: null,
    companies: [],
    domains: [],
    mailboxes: [],
    campaigns: [],
    adminActions: [],
  };
  if (!rng.chance(TENANT.withoutSubscription)) {
    const planId = rng.pick(PLANS);
    tenant.subscription = {
      subscriptionId: rng.uuid(),
      planId,
      billingAnchorDay: rng.int(1, 28),
      startedAt: createdAt + 30_000,
      changes: rng.chance(TENANT.planChange)
        ? [{ planId: rng.pick(PLANS.filter((p) => p !== planId)), at: rng.int(window.startMs + SETUP_SPAN, window.endMs - 1) }]
        : [],
    };
  }
  const companies = rng.chance(TENANT.secondCompany) ? 2 : 1;
  for (let c = 0; c < companies; c++) {
    const company = { companyId: rng.uuid(), name: c === 0 ? name : companyName(rng), createdAt: createdAt + MINUTE + c * 10_000 };
    tenant.companies.push(company);
    const domains = rng.chance(TENANT.secondDomain) ? 2 : 1;
    for (let d = 0; d < domains; d++) {
      const domain = domainFor(rng, company.name);
      tenant.domains.push({ domainId: rng.uuid(), domain, companyId: company.companyId, addedAt: company.createdAt + MINUTE + d * 1000 });
    }
  }
  return tenant;
}

function addMailbox(world: World, tenant: Tenant, domain: Domain, createdAt: number, sends: boolean, rng: Random): Mailbox {
  const { firstName, lastName } = person(rng);
  const mailbox: Mailbox = {
    index: world.mailboxes.length,
    mailboxId: rng.uuid(),
    tenant,
    companyId: domain.companyId,
    domain,
    address: `${firstName}.${lastName}@${domain.domain}`.toLowerCase(),
    provider: rng.pick(PROVIDERS),
    createdAt,
    sends,
    statuses: [],
    warmup: null,
  };
  world.mailboxes.push(mailbox);
  tenant.mailboxes.push(mailbox);
  return mailbox;
}

function addMailboxes(window: WorkloadWindow, tenant: Tenant, world: World, rng: Random): void {
  const [min, max] = TENANT.mailboxesPerDomain;
  for (const domain of tenant.domains) {
    const count = rng.int(min, max);
    for (let m = 0; m < count; m++) {
      const mailbox = addMailbox(world, tenant, domain, domain.addedAt + MINUTE + m * 5000, true, rng);
      if (rng.chance(MAILBOX.warmup)) {
        const later = window.days >= 2 && rng.chance(MAILBOX.warmupStartsLater);
        const startedAt = later
          ? window.startMs + rng.int(1, window.days - 1) * DAY + rng.int(5 * HOUR, 6 * HOUR)
          : mailbox.createdAt + 5 * MINUTE;
        startWarmup(window, mailbox, startedAt, rng);
      }
      if (rng.chance(MAILBOX.statusIncident)) {
        const at = rng.int(window.startMs + 2 * HOUR, window.endMs - 12 * HOUR);
        const status = rng.chance(0.7) ? 'authentication_failed' : 'suspended';
        mailbox.statuses.push({ status, at }, { status: 'active', at: at + rng.int(HOUR, 12 * HOUR) });
      }
    }
  }
  if (window.days >= 2 && rng.chance(TENANT.lateMailbox)) {
    const createdAt = window.startMs + rng.int(1, window.days - 1) * DAY + rng.int(8 * HOUR, 16 * HOUR);
    const mailbox = addMailbox(world, tenant, tenant.domains[0], createdAt, false, rng);
    const warmup = startWarmup(window, mailbox, createdAt + 10 * MINUTE, rng);
    // A warm-up-only mailbox whose warm-up is stopped has no further use: it is deleted.
    if (warmup.stoppedAt !== null) mailbox.statuses.push({ status: 'deleted', at: warmup.stoppedAt + MINUTE });
  }
}

function startWarmup(window: WorkloadWindow, mailbox: Mailbox, startedAt: number, rng: Random): NonNullable<Mailbox['warmup']> {
  const earliestStop = startedAt + DAY;
  const stoppedAt = earliestStop < window.endMs && rng.chance(MAILBOX.warmupStops) ? rng.int(earliestStop, window.endMs - 1) : null;
  mailbox.warmup = { startedAt, stoppedAt, targetDailyVolume: rng.int(20, 50), events: [] };
  return mailbox.warmup;
}

function buildSteps(rng: Random): Step[] {
  const types: Step['stepType'][] = [];
  const [min, max] = CAMPAIGN.emailSteps;
  const emails = rng.int(min, max);
  for (let s = 0; s < emails; s++) {
    if (s === 1 && rng.chance(CAMPAIGN.waitStep)) types.push('wait');
    if (s === emails - 1 && rng.chance(CAMPAIGN.conditionStep)) types.push('condition');
    types.push('email');
  }
  return types.map((stepType, i) => ({ stepId: rng.uuid(), stepOrder: i + 1, stepType }));
}

function addCampaigns(tenant: Tenant, quota: number, world: World, rng: Random): void {
  const count = Math.min(TENANT.maxCampaigns, 1 + Math.floor(quota / TENANT.emailsPerCampaign));
  for (let c = 0; c < count; c++) {
    const company = tenant.companies[c % tenant.companies.length];
    const domain = tenant.domains.find((d) => d.companyId === company.companyId) as Domain;
    const createdAt = tenant.createdAt + 8 * MINUTE + c * 30_000;
    const steps = buildSteps(rng);
    const campaign: Campaign = {
      index: world.campaigns.length,
      campaignId: rng.uuid(),
      tenant,
      companyId: company.companyId,
      name: `${company.name} outreach #${c + 1}`,
      createdAt,
      steps,
      emailSteps: steps.filter((s) => s.stepType === 'email'),
      mailboxes: tenant.mailboxes.filter((m) => m.sends && m.companyId === company.companyId),
      statuses: [
        { status: 'draft', at: createdAt + 1000 },
        { status: 'scheduled', at: createdAt + 5 * MINUTE },
      ],
      links: campaignLinks(rng, domain.domain),
    };
    world.campaigns.push(campaign);
    tenant.campaigns.push(campaign);
  }
}

function planAdminActions(window: WorkloadWindow, tenant: Tenant, admins: string[], rng: Random): AdminActionFact[] {
  const count = rng.int(0, Math.ceil((window.days * TENANT.adminActionsPer10Days) / 5));
  const actions: AdminActionFact[] = [];
  for (let a = 0; a < count; a++) {
    const target = rng.pick([
      { action: 'update', resourceType: 'campaign', resourceId: rng.pick(tenant.campaigns).campaignId },
      { action: 'update', resourceType: 'mailbox', resourceId: rng.pick(tenant.mailboxes).mailboxId },
      { action: 'impersonate', resourceType: 'tenant', resourceId: tenant.tenantId },
      { action: 'update', resourceType: 'subscription', resourceId: tenant.subscription?.subscriptionId ?? tenant.tenantId },
    ]);
    actions.push({ id: rng.uuid(), at: rng.int(window.startMs + SETUP_SPAN, window.endMs - 1), adminUserId: rng.pick(admins), ...target });
  }
  return actions.sort((a, b) => a.at - b.at);
}
