/**
 * Every probability and duration the generator draws from, in one place so the shape of
 * a workload can be read (and tuned) without reading the code that uses it. Rates are
 * per email unless the name says otherwise; they are typical of cold outreach, not of
 * newsletters.
 */

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Late tracking events (opens, clicks, replies, erasures) may land up to this long after the window. */
export const LATE_TAIL = 10 * DAY;
/** Tenants, companies, domains, mailboxes and campaigns are set up in the first hour of day 0. */
export const SETUP_SPAN = HOUR;
/** Below this many emails the anomalies are left to chance; from it on each kind occurs at least once. */
export const FORCE_ANOMALIES_FROM = 200;

export const TENANT = {
  /** Share of tenants that never start a subscription: billed by calendar month. */
  withoutSubscription: 0.15,
  /** Share of subscribed tenants that change plan during the window. */
  planChange: 0.2,
  /** Mean admin.action events per tenant per 10 days. */
  adminActionsPer10Days: 1,
  secondCompany: 0.3,
  secondDomain: 0.35,
  /** Mailboxes per domain, uniform in this range. */
  mailboxesPerDomain: [1, 3] as const,
  /** Share of tenants that add a warm-up-only mailbox mid-window (used by no campaign). */
  lateMailbox: 0.3,
  /** Roughly one campaign per this many emails of the tenant, at least one, at most 8. */
  emailsPerCampaign: 2000,
  maxCampaigns: 8,
};

export const MAILBOX = {
  /** Share of mailboxes that warm up (the warm-up-only mailboxes always do). */
  warmup: 0.6,
  /** Share of warming mailboxes whose warm-up starts on a later day instead of day 0. */
  warmupStartsLater: 0.2,
  /** Share of warming mailboxes whose warm-up is stopped before the window ends. */
  warmupStops: 0.2,
  /** Share of mailboxes that lose authentication (or are suspended) for a few hours. */
  statusIncident: 0.15,
  /** Warm-up sends, in all, as a share of the workload's emails (at least 2 a day per mailbox). */
  warmupShareOfEmails: 0.25,
};

/** What the partner mailboxes do with one warm-up send. */
export const WARMUP_INTERACTION = {
  bounced: 0.015,
  /** Of the sends that did not bounce; the rest are never reported. */
  delivered: 0.985,
  /** The rest of these are conditional on delivery. */
  opened: 0.55,
  clickedIfOpened: 0.05,
  repliedIfOpened: 0.25,
  spamComplaint: 0.005,
  unsubscribed: 0.002,
};

export const CAMPAIGN = {
  /** Share of emails sent outside any campaign (one-off sends from a mailbox). */
  oneOff: 0.03,
  /** Email steps per sequence, uniform in this range. */
  emailSteps: [2, 4] as const,
  waitStep: 0.3,
  conditionStep: 0.1,
  /** Days between two email steps of a lead, uniform in this range. */
  stepGapDays: [2, 4] as const,
  /** Share of sending campaigns paused (then resumed) once. */
  pause: 0.25,
  /** Campaigns whose last send is this long before the window end are marked completed. */
  completedIfIdleFor: DAY,
  /** Share of leads erased (GDPR) after their last email; higher after an opt-out. */
  leadErased: 0.005,
  leadErasedAfterOptOut: 0.05,
};

/** Outcome of one email; failed, bounced, silent and delivered are exclusive and sum to 1. */
export const OUTCOME = {
  failed: 0.005,
  bounced: 0.03,
  /** Sent, but the provider never reported back (maybe a deferral, nothing else). */
  silent: 0.015,
  hardBounceShare: 0.6,
  /** Soft bounces and silent emails are preceded by a deferral this often. */
  deferredBeforeSoftBounce: 0.5,
  deferredBeforeDelivery: 0.03,
  /** Responses of a delivered email, exclusive. */
  replied: 0.035,
  unsubscribed: 0.008,
  complained: 0.001,
};

/** Engagement of a delivered email (drawn when the email's events are written). */
export const ENGAGEMENT = {
  opened: 0.4,
  openedIfReplied: 0.9,
  /** Probability of each further open after the first. */
  reopen: 0.45,
  maxOpens: 8,
  /** Share of opening emails whose first open is a proxy prefetch (machine: true). */
  machineOpen: 0.2,
  /** Share of machine-opened emails a person never opens. */
  machineOnly: 0.5,
  clickedIfOpened: 0.17,
  clickedWithoutOpen: 0.005,
  reclick: 0.3,
  maxClicks: 4,
  /** Share of opening emails that get one more open 2–10 days after delivery. */
  lateOpen: 0.03,
};

/** The messy realities of a tracking pipeline (see anomalies in truth.ts). */
export const ANOMALY = {
  /** Per event: the same line is delivered again later (at-least-once transport). */
  retriedDuplicate: 0.003,
  /** Per tracker event: it sits in a queue 1 min–3 h before arriving (out-of-order arrival). */
  delayedArrival: 0.02,
  /** Per opening email: the email.sent line itself arrives after its opens and clicks. */
  sentArrivesLate: 0.005,
  /** Per email: the sender records a second email.sent (new id, later, maybe another mailbox). */
  duplicateSend: 0.003,
  /** Per email: a tracker attributes an open or click of it to another tenant. */
  foreignTenant: 0.001,
};
