/**
 * The generator's ground truth: what it meant by every line it wrote, kept as an
 * in-memory model of tenants, mailboxes, campaigns, leads and emails with their facts.
 * The oracle computes the expected analytics tables from this model, never by replaying
 * the NDJSON through projection code, so a projection bug cannot hide in both.
 *
 * Conventions: times are epoch milliseconds (UTC); `id` fields on facts are event ids;
 * a fact's list is in occurrence order. Every counted fact of an email is in
 * `TruthEmail.events`; lines the counting rules must ignore are in `ignored`, never in
 * `events`. Gauge events of one stream (warm-up progress, statuses) never share an
 * occurredAt, so ordering them by time alone is exact.
 */

/** The messy realities a tracking pipeline delivers, tagged on the emails they touch. */
export type AnomalyKind =
  /** An open 2–10 days after delivery, possibly in a later month than the send. */
  | 'late_open'
  /** An open with `machine: true` (proxy prefetch): opened_tracked but not human_opened. */
  | 'machine_open'
  /** A line of this email is written twice, byte for byte (same event id). */
  | 'retried_duplicate'
  /** Lines of this email arrive in another order than their occurredAt. */
  | 'out_of_order'
  /** Lifecycle lines (opens, clicks...) arrive before the email's `email.sent` line. */
  | 'before_sent'
  /** A second `email.sent` (new id, later, maybe another mailbox): to be ignored. */
  | 'duplicate_send'
  /** An open or click of this email under another tenant's id: counts nowhere. */
  | 'foreign_tenant';

export const ANOMALY_KINDS: readonly AnomalyKind[] = [
  'late_open',
  'machine_open',
  'retried_duplicate',
  'out_of_order',
  'before_sent',
  'duplicate_send',
  'foreign_tenant',
];

/** The time span of a workload: sends fall in [startMs, endMs); every event before lateEndMs. */
export interface WorkloadWindow {
  startMs: number;
  endMs: number;
  lateEndMs: number;
  days: number;
}

export interface Subscription {
  subscriptionId: string;
  planId: string;
  billingAnchorDay: number;
  startedAt: number;
  changes: Array<{ planId: string; at: number }>;
}

export interface AdminActionFact {
  id: string;
  at: number;
  adminUserId: string;
  action: string;
  resourceType: string;
  resourceId: string;
}

export interface Tenant {
  index: number;
  tenantId: string;
  name: string;
  createdAt: number;
  /** Null: billed by calendar month. */
  subscription: Subscription | null;
  companies: Company[];
  domains: Domain[];
  mailboxes: Mailbox[];
  campaigns: Campaign[];
  adminActions: AdminActionFact[];
}

export interface Company {
  companyId: string;
  name: string;
  createdAt: number;
}

export interface Domain {
  domainId: string;
  domain: string;
  companyId: string;
  addedAt: number;
}

export type MailboxStatus = 'active' | 'authentication_failed' | 'suspended' | 'deleted';

export type WarmupKind = 'delivered' | 'opened' | 'clicked' | 'replied' | 'bounced' | 'unsubscribed' | 'spam_complaint';

export type WarmupFact =
  | { type: 'warmup.email_sent'; at: number }
  | { type: 'warmup.interaction'; at: number; kind: WarmupKind }
  | { type: 'warmup.progressed'; at: number; healthScore: number; progressPercentage: number };

export interface Warmup {
  startedAt: number;
  /** Null: still warming when the window ends. */
  stoppedAt: number | null;
  targetDailyVolume: number;
  events: WarmupFact[];
}

export interface Mailbox {
  index: number;
  mailboxId: string;
  tenant: Tenant;
  companyId: string;
  domain: Domain;
  address: string;
  provider: string;
  createdAt: number;
  /** False for warm-up-only mailboxes, which no email is ever sent from. */
  sends: boolean;
  statuses: Array<{ status: MailboxStatus; at: number }>;
  warmup: Warmup | null;
}

export type CampaignStatus = 'draft' | 'scheduled' | 'sending' | 'paused' | 'completed';

export interface Step {
  stepId: string;
  stepOrder: number;
  stepType: 'email' | 'wait' | 'condition';
}

export interface Campaign {
  index: number;
  campaignId: string;
  tenant: Tenant;
  companyId: string;
  name: string;
  createdAt: number;
  /** All steps in order; emails are sent from the `email` ones. */
  steps: Step[];
  emailSteps: Step[];
  /** The mailboxes its emails rotate over. */
  mailboxes: Mailbox[];
  /** The tracked links its emails' clicks go to. */
  links: string[];
  statuses: Array<{ status: CampaignStatus; at: number }>;
}

export interface Lead {
  leadId: string;
  tenantId: string;
  email: string;
  importedAt: number;
  erasedAt: number | null;
  /** `campaign.lead_completed` facts. */
  completions: Array<{ campaignId: string; at: number }>;
}

export type EmailEventType =
  | 'email.delivered'
  | 'email.deferred'
  | 'email.bounced'
  | 'email.failed'
  | 'email.opened'
  | 'email.clicked'
  | 'email.replied'
  | 'email.unsubscribed'
  | 'email.complained';

/** One counted lifecycle event of an email; the optional fields follow its type. */
export interface EmailFact {
  id: string;
  type: EmailEventType;
  at: number;
  deliveryMs?: number;
  bounceType?: 'hard' | 'soft';
  machine?: boolean;
  url?: string;
}

/** A line naming the email that the counting rules must ignore. */
export interface IgnoredFact {
  id: string;
  type: 'email.sent' | 'email.opened' | 'email.clicked';
  at: number;
  tenantId: string;
  reason: 'duplicate_send' | 'foreign_tenant';
}

export interface TruthEmail {
  emailId: string;
  /** Context fixed by the first `email.sent`. */
  tenantId: string;
  campaignId: string | null;
  stepId: string | null;
  mailboxId: string;
  leadId: string;
  companyId: string | null;
  messageId: string;
  sentEventId: string;
  /** occurredAt of the first `email.sent`; its UTC date is the cohort day. */
  sentAt: number;
  events: EmailFact[];
  ignored: IgnoredFact[];
  anomalies: AnomalyKind[];
}

/** The entities the generator builds before writing any event. */
export interface World {
  tenants: Tenant[];
  /** All mailboxes, indexed by `Mailbox.index`. */
  mailboxes: Mailbox[];
  /** All campaigns, indexed by `Campaign.index`. */
  campaigns: Campaign[];
}

/**
 * Filled while the workload is consumed; complete once the iterable is exhausted.
 * Leads and emails (in order of first send) are recorded only into a truth passed to
 * the generator, as they dominate memory; the world always exists.
 *
 * @example
 * const truth = new WorkloadTruth();
 * await writeWorkload(opts, file, truth);
 * truth.emails.filter((e) => e.campaignId === id).length; // emails_sent of a campaign
 */
export class WorkloadTruth implements World {
  window: WorkloadWindow = { startMs: 0, endMs: 0, lateEndMs: 0, days: 0 };
  tenants: Tenant[] = [];
  mailboxes: Mailbox[] = [];
  campaigns: Campaign[] = [];
  leads: Lead[] = [];
  emails: TruthEmail[] = [];
  /** Ids of events whose line was written twice (retried duplicates). */
  retriedEventIds: string[] = [];
  /** Lines written, retried duplicates included. */
  lines = 0;
}
