/**
 * Hand-built ground truths for the oracle specs: a few tenants, mailboxes, campaigns and
 * emails whose expected tables can be worked out on paper.
 */
import { WorkloadTruth, type Campaign, type EmailFact, type IgnoredFact, type Mailbox, type Tenant, type TruthEmail, type WarmupFact } from '../../ops/generate';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const at = (iso: string): number => Date.parse(iso);

export class TruthBuilder {
  readonly truth = new WorkloadTruth();
  private seq = 0;

  tenant(tenantId: string, subscription?: { anchor: number; startedAt: string }): Tenant {
    const t: Tenant = {
      index: this.truth.tenants.length,
      tenantId,
      name: tenantId,
      createdAt: at('2026-01-01T00:00:00Z'),
      subscription: subscription
        ? { subscriptionId: `sub-${tenantId}`, planId: 'p', billingAnchorDay: subscription.anchor, startedAt: at(subscription.startedAt), changes: [] }
        : null,
      companies: [{ companyId: `co-${tenantId}`, name: 'c', createdAt: 0 }],
      domains: [],
      mailboxes: [],
      campaigns: [],
      adminActions: [],
    };
    this.truth.tenants.push(t);
    return t;
  }

  mailbox(tenant: Tenant, mailboxId: string, opts: { domainId?: string; warmup?: { startedAt: string; stoppedAt?: string; events?: WarmupFact[] } } = {}): Mailbox {
    const domainId = opts.domainId ?? `dom-${mailboxId}`;
    let domain = tenant.domains.find((d) => d.domainId === domainId);
    if (!domain) {
      domain = { domainId, domain: `${domainId}.test`, companyId: tenant.companies[0].companyId, addedAt: 0 };
      tenant.domains.push(domain);
    }
    const w = opts.warmup;
    const m: Mailbox = {
      index: this.truth.mailboxes.length,
      mailboxId,
      tenant,
      companyId: tenant.companies[0].companyId,
      domain,
      address: `${mailboxId}@${domain.domain}`,
      provider: 'gmail',
      createdAt: 0,
      sends: true,
      statuses: [],
      warmup: w
        ? { startedAt: at(w.startedAt), stoppedAt: w.stoppedAt ? at(w.stoppedAt) : null, targetDailyVolume: 10, events: w.events ?? [] }
        : null,
    };
    tenant.mailboxes.push(m);
    this.truth.mailboxes.push(m);
    return m;
  }

  campaign(tenant: Tenant, campaignId: string, mailboxes: Mailbox[], steps = 2): Campaign {
    const emailSteps = Array.from({ length: steps }, (_, i) => ({ stepId: `${campaignId}-s${i + 1}`, stepOrder: i + 1, stepType: 'email' as const }));
    const c: Campaign = {
      index: this.truth.campaigns.length,
      campaignId,
      tenant,
      companyId: tenant.companies[0].companyId,
      name: campaignId,
      createdAt: 0,
      steps: emailSteps,
      emailSteps,
      mailboxes,
      links: ['https://x.test'],
      statuses: [],
    };
    tenant.campaigns.push(c);
    this.truth.campaigns.push(c);
    return c;
  }

  /** A counted email; facts are [type, iso time, extra fields] and get sorted by time. */
  email(
    ctx: { mailbox: Mailbox; campaign?: Campaign; step?: number; leadId: string; sentAt: string },
    facts: Array<[EmailFact['type'], string, Partial<EmailFact>?]> = [],
    ignored: Array<Omit<IgnoredFact, 'id' | 'at'> & { at: string }> = [],
  ): TruthEmail {
    const n = ++this.seq;
    const e: TruthEmail = {
      emailId: `email-${String(n).padStart(3, '0')}`,
      tenantId: ctx.mailbox.tenant.tenantId,
      campaignId: ctx.campaign?.campaignId ?? null,
      stepId: ctx.campaign ? ctx.campaign.emailSteps[(ctx.step ?? 1) - 1].stepId : null,
      mailboxId: ctx.mailbox.mailboxId,
      leadId: ctx.leadId,
      companyId: ctx.campaign?.companyId ?? null,
      messageId: `<m${n}@x.test>`,
      sentEventId: `ev-${n}-sent`,
      sentAt: at(ctx.sentAt),
      events: facts
        .map(([type, time, extra], i) => ({ id: `ev-${n}-${i}`, type, at: at(time), ...extra }))
        .sort((a, b) => a.at - b.at),
      ignored: ignored.map((f, i) => ({ ...f, id: `ev-${n}-ign${i}`, at: at(f.at) })),
      anomalies: [],
    };
    this.truth.emails.push(e);
    return e;
  }

  complete(tenant: Tenant, leadId: string, campaignId: string, time: string): void {
    let lead = this.truth.leads.find((l) => l.leadId === leadId);
    if (!lead) {
      lead = { leadId, tenantId: tenant.tenantId, email: `${leadId}@lead.test`, importedAt: 0, erasedAt: null, completions: [] };
      this.truth.leads.push(lead);
    }
    lead.completions.push({ campaignId, at: at(time) });
  }
}
