/**
 * Leads as the email writer meets them: imported just before their first email,
 * completed in a campaign after their last one (or their reply), sometimes erased
 * (GDPR) days after it. Only the leads with an email still to come are held, so memory
 * follows the leads in flight, not all leads of the workload.
 */
import { address, person, prospectCompany } from './fake';
import { eventLine, type Outbox } from './outbox';
import type { Random } from './random';
import { CAMPAIGN, DAY, HOUR, MINUTE } from './rates';
import type { Lead, WorkloadTruth } from './truth';

export class LeadBook {
  private readonly inFlight = new Map<number, Lead>();

  constructor(
    private readonly outbox: Outbox,
    private readonly rng: Random,
    private readonly lateEndMs: number,
    private readonly truth: WorkloadTruth | undefined,
  ) {}

  /** Imports lead number `lead` of `tenantId` shortly before its first email at `firstSendAt`. */
  import(lead: number, tenantId: string, firstSendAt: number): Lead {
    const rng = this.rng;
    const { firstName, lastName } = person(rng);
    const company = prospectCompany(rng);
    const record: Lead = {
      leadId: rng.uuid(),
      tenantId,
      email: address(`${firstName}.${lastName}`, company.domain),
      importedAt: firstSendAt - rng.int(MINUTE, 2 * HOUR),
      erasedAt: null,
      completions: [],
    };
    const data = { leadId: record.leadId, email: record.email, firstName, lastName, company: company.name };
    this.outbox.push(eventLine(rng, 'lead.imported', tenantId, record.importedAt, data), this.outbox.promptly(record.importedAt));
    this.inFlight.set(lead, record);
    this.truth?.leads.push(record);
    return record;
  }

  /** The lead record of a lead already imported. */
  get(lead: number): Lead {
    return this.inFlight.get(lead) as Lead;
  }

  /** The lead finished `campaignId`'s sequence at `at`. */
  complete(record: Lead, campaignId: string, at: number): void {
    const line = eventLine(this.rng, 'campaign.lead_completed', record.tenantId, at, { campaignId, leadId: record.leadId });
    this.outbox.push(line, this.outbox.promptly(at));
    record.completions.push({ campaignId, at });
  }

  /**
   * The lead's last email is written; `lastActivity` is its last event. The lead is
   * sometimes erased a few days later, more often after it opted out.
   */
  finish(lead: number, lastActivity: number, optedOut: boolean): void {
    const record = this.get(lead);
    this.inFlight.delete(lead);
    if (!this.rng.chance(optedOut ? CAMPAIGN.leadErasedAfterOptOut : CAMPAIGN.leadErased)) return;
    const at = Math.min(lastActivity + this.rng.int(DAY, 5 * DAY), this.lateEndMs - 1);
    this.outbox.push(eventLine(this.rng, 'lead.erased', record.tenantId, at, { leadId: record.leadId }), this.outbox.promptly(at));
    record.erasedAt = at;
  }
}
