/**
 * The lines of one email, written in send order: its `email.sent`, the lifecycle the
 * plan decided (deferral, failure, bounce or delivery, replies and opt-outs), the
 * engagement drawn here (opens, machine opens, clicks), and the anomalies a tracking
 * pipeline adds. Each line gets its arrival time; the outbox puts them in arrival order.
 */
import { DEFERRAL_REASONS, FAILURES, hardBounce, ipAddress, softBounce, userAgent } from './fake';
import type { LeadBook } from './leads';
import { eventLine, type EventLine, type Outbox } from './outbox';
import { FLAG, type EmailPlan } from './plan';
import type { Random } from './random';
import { ANOMALY, DAY, ENGAGEMENT as E, HOUR, MINUTE } from './rates';
import type { AnomalyKind, EmailEventType, EmailFact, IgnoredFact, World, WorkloadTruth, WorkloadWindow } from './truth';

const UNSUBSCRIBE_METHODS = ['link', 'link', 'list_unsubscribe', 'list_unsubscribe', 'reply', 'manual'];

/** A lifecycle line of the email and when it arrives. */
interface Written {
  fact: EmailFact;
  line: EventLine;
  arrival: number;
}

export class EmailWriter {
  constructor(
    private readonly world: World,
    private readonly plan: EmailPlan,
    private readonly window: WorkloadWindow,
    private readonly leads: LeadBook,
    private readonly outbox: Outbox,
    private readonly rng: Random,
    private readonly truth: WorkloadTruth | undefined,
  ) {}

  /** Writes the email at position `rank` of the send order. */
  write(rank: number): void {
    const { plan, rng, outbox } = this;
    const i = plan.order[rank];
    const flags = plan.flags[i];
    const at = plan.at[i];
    const forced = plan.forced.get(rank);
    const mailbox = this.world.mailboxes[plan.mailbox[i]];
    const tenantId = mailbox.tenant.tenantId;
    const campaign = plan.campaign[i] < 0 ? null : this.world.campaigns[plan.campaign[i]];
    const lead = flags & FLAG.firstOfLead ? this.leads.import(plan.lead[i], tenantId, at) : this.leads.get(plan.lead[i]);
    const clamp = (t: number): number => Math.min(Math.round(t), this.window.lateEndMs - 1);
    const emailId = rng.uuid();
    const anomalies = new Set<AnomalyKind>();
    const written: Written[] = [];
    const track = (type: EmailEventType, when: number, data: Record<string, unknown>, extra: Partial<EmailFact> = {}): number => {
      const time = clamp(when);
      const line = eventLine(rng, type, tenantId, time, { emailId, ...data });
      written.push({ fact: { id: line.id, type, at: time, ...extra }, line, arrival: outbox.viaTracker(time) });
      return time;
    };

    const sent = eventLine(rng, 'email.sent', tenantId, at, {
      emailId,
      messageId: `<${rng.hex(24)}@${mailbox.domain.domain}>`,
      campaignId: campaign?.campaignId ?? null,
      stepId: campaign ? campaign.emailSteps[plan.step[i]].stepId : null,
      mailboxId: mailbox.mailboxId,
      leadId: lead.leadId,
      companyId: campaign?.companyId ?? mailbox.companyId,
    });
    let sentArrival = outbox.promptly(at);

    const deferredAt =
      flags & FLAG.deferred ? track('email.deferred', at + rng.int(5000, 10 * MINUTE), { reason: rng.pick(DEFERRAL_REASONS) }) : null;
    if (flags & FLAG.failed) track('email.failed', at + rng.int(100, 2000), rng.pick(FAILURES));
    if (flags & FLAG.bounced) {
      const bounceType = flags & FLAG.hard ? 'hard' : 'soft';
      const when = bounceType === 'hard' ? at + rng.int(1000, 5 * MINUTE) : (deferredAt ?? at) + rng.int(30 * MINUTE, 6 * HOUR);
      track('email.bounced', when, { bounceType, ...(bounceType === 'hard' ? hardBounce(rng) : softBounce(rng)) }, { bounceType });
    }
    let engagedAt = at;
    let replyAt: number | null = null;
    if (flags & FLAG.delivered) {
      const deliveryMs = deferredAt === null ? rng.int(200, 3000) : deferredAt - at + rng.int(5 * MINUTE, HOUR);
      const deliveredAt = track('email.delivered', at + deliveryMs, { deliveryMs, smtpResponse: '250 2.0.0 OK' }, { deliveryMs });
      engagedAt = this.engage(deliveredAt, flags, forced, campaign?.links ?? [`https://${mailbox.domain.domain}/`], track, anomalies);
      if (flags & FLAG.replied) {
        const inboundMessageId = `<${rng.hex(24)}@${lead.email.split('@')[1]}>`;
        replyAt = track('email.replied', engagedAt + Math.min(rng.exp(6 * HOUR), 3 * DAY), { inboundMessageId });
      }
      if (flags & FLAG.unsubscribed) {
        track('email.unsubscribed', engagedAt + rng.int(10_000, 6 * HOUR), { method: rng.pick(UNSUBSCRIBE_METHODS) });
      }
      if (flags & FLAG.complained) track('email.complained', engagedAt + rng.int(10 * MINUTE, DAY), { feedbackType: 'abuse' });
    }

    const engaged = written.filter((w) => w.fact.type === 'email.opened' || w.fact.type === 'email.clicked');
    if (engaged.length > 0 && (forced === 'out_of_order' || forced === 'before_sent' || rng.chance(ANOMALY.sentArrivesLate))) {
      const firstEngaged = Math.min(...engaged.map((w) => w.arrival));
      // Either the delivery report or the email.sent line itself is stuck behind the first open or click.
      const delivered = written.find((w) => w.fact.type === 'email.delivered') as Written;
      if (forced === 'out_of_order') delivered.arrival = firstEngaged + rng.int(1000, HOUR);
      else sentArrival = firstEngaged + rng.int(1000, 30 * MINUTE);
    }

    const ignored: IgnoredFact[] = [];
    if (forced === 'duplicate_send' || rng.chance(ANOMALY.duplicateSend)) {
      const again = clamp(at + rng.int(10 * MINUTE, 2 * DAY));
      const senders = mailbox.tenant.mailboxes.filter((m) => m.sends);
      const data = { ...sent.data, messageId: `<${rng.hex(24)}@${mailbox.domain.domain}>`, mailboxId: rng.pick(senders).mailboxId };
      const line = eventLine(rng, 'email.sent', tenantId, again, data);
      // The first email.sent is the one that counts: the repeat must arrive after it.
      outbox.push(line, Math.max(outbox.promptly(again), sentArrival + 1));
      ignored.push({ id: line.id, type: 'email.sent', at: again, tenantId, reason: 'duplicate_send' });
      anomalies.add('duplicate_send');
    }
    if (forced === 'foreign_tenant' || rng.chance(ANOMALY.foreignTenant)) {
      ignored.push(this.foreignEvent(emailId, mailbox.tenant.index, engagedAt, clamp));
      anomalies.add('foreign_tenant');
    }

    if (outbox.push(sent, sentArrival, forced === 'retried_duplicate' || undefined)) anomalies.add('retried_duplicate');
    for (const w of written) {
      if (outbox.push(w.line, w.arrival)) anomalies.add('retried_duplicate');
      if (w.arrival < sentArrival) anomalies.add('before_sent');
    }
    const facts = written.map((w) => w.fact).sort((a, b) => a.at - b.at);
    const byArrival = [{ at, arrival: sentArrival }, ...written.map((w) => ({ at: w.fact.at, arrival: w.arrival }))];
    if (byArrival.some((x) => byArrival.some((y) => x.at < y.at && x.arrival > y.arrival))) anomalies.add('out_of_order');

    const lastActivity = facts.length > 0 ? facts[facts.length - 1].at : at;
    if (campaign && flags & FLAG.completes) this.leads.complete(lead, campaign.campaignId, (replyAt ?? at) + rng.int(MINUTE, 10 * MINUTE));
    if (flags & FLAG.lastOfLead) this.leads.finish(plan.lead[i], lastActivity, (flags & (FLAG.unsubscribed | FLAG.complained)) !== 0);

    this.truth?.emails.push({
      emailId,
      tenantId,
      campaignId: sent.data.campaignId as string | null,
      stepId: sent.data.stepId as string | null,
      mailboxId: mailbox.mailboxId,
      leadId: lead.leadId,
      companyId: sent.data.companyId as string,
      messageId: sent.data.messageId as string,
      sentEventId: sent.id,
      sentAt: at,
      events: facts,
      ignored,
      anomalies: [...anomalies],
    });
  }

  /**
   * Opens and clicks of a delivered email; returns when the reader first engaged (the
   * first human open, else delivery), which replies and opt-outs follow.
   */
  private engage(
    deliveredAt: number,
    flags: number,
    forced: AnomalyKind | undefined,
    links: string[],
    track: (type: EmailEventType, when: number, data: Record<string, unknown>, extra?: Partial<EmailFact>) => number,
    anomalies: Set<AnomalyKind>,
  ): number {
    const rng = this.rng;
    const needsOpen = forced === 'late_open' || forced === 'machine_open' || forced === 'before_sent' || forced === 'out_of_order';
    const opened = needsOpen || rng.chance(flags & FLAG.replied ? E.openedIfReplied : E.opened);
    const open = (when: number, machine: boolean): number =>
      track('email.opened', when, { ip: ipAddress(rng), userAgent: userAgent(rng, machine), machine }, { machine });
    let engagedAt = deliveredAt;
    let human = false;
    if (opened) {
      const machine = forced === 'machine_open' || rng.chance(E.machineOpen);
      if (machine) {
        open(deliveredAt + rng.int(1000, 120_000), true);
        anomalies.add('machine_open');
      }
      human = !machine || !rng.chance(E.machineOnly);
      if (human) {
        let when = (engagedAt = open(deliveredAt + Math.min(rng.exp(4 * HOUR), 3 * DAY), false));
        for (let n = rng.geometric(E.reopen, E.maxOpens - 1); n > 0; n--) when = open(when + Math.min(rng.exp(12 * HOUR), 3 * DAY), false);
      }
      if (forced === 'late_open' || rng.chance(E.lateOpen)) {
        open(deliveredAt + rng.int(2 * DAY, 10 * DAY), false);
        anomalies.add('late_open');
      }
    }
    const clicked = forced === 'before_sent' || (human ? rng.chance(E.clickedIfOpened) : !opened && rng.chance(E.clickedWithoutOpen));
    if (clicked) {
      let when = engagedAt + rng.int(5000, 30 * MINUTE);
      for (let n = rng.geometric(E.reclick, E.maxClicks - 1); n >= 0; n--) {
        const url = rng.pick(links);
        when = track('email.clicked', when, { url, ip: ipAddress(rng), userAgent: userAgent(rng, false) }, { url });
        when += rng.int(5000, HOUR);
      }
    }
    return engagedAt;
  }

  /** An open or click of this email attributed to another tenant (a stranger when there is only one). */
  private foreignEvent(emailId: string, tenant: number, after: number, clamp: (t: number) => number): IgnoredFact {
    const { rng, outbox, world } = this;
    const others = world.tenants.length - 1;
    const tenantId = others > 0 ? world.tenants[(tenant + rng.int(1, others)) % world.tenants.length].tenantId : rng.uuid();
    const at = clamp(after + rng.int(MINUTE, 2 * DAY));
    const type = rng.chance(0.6) ? 'email.opened' : 'email.clicked';
    const data =
      type === 'email.opened'
        ? { emailId, ip: ipAddress(rng), userAgent: userAgent(rng, false), machine: false }
        : { emailId, url: `https://example.com/${rng.hex(8)}`, ip: ipAddress(rng), userAgent: userAgent(rng, false) };
    const line = eventLine(rng, type, tenantId, at, data);
    outbox.push(line, outbox.viaTracker(at));
    return { id: line.id, type, at, tenantId, reason: 'foreign_tenant' };
  }
}
