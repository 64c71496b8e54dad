/**
 * One day of warm-up per warming mailbox: the warm-up sends (ramping from 2 a day
 * towards the mailbox's target), what the partner mailboxes did with them, and an
 * end-of-day `warmup.progressed` with the mailbox's health and ramp progress. Generated
 * day by day so a long window never holds its warm-up lines in memory at once.
 */
import { partnerMailbox } from './fake';
import { eventLine, type Outbox } from './outbox';
import type { Random } from './random';
import { DAY, HOUR, MAILBOX, MINUTE, WARMUP_INTERACTION as P } from './rates';
import type { Mailbox, WarmupKind, World, WorkloadWindow } from './truth';

/** What the first warm-up sends of a workload do, so that every interaction kind occurs. */
const COVERAGE: Array<Set<WarmupKind>> = [
  new Set<WarmupKind>(['bounced']),
  new Set<WarmupKind>(['delivered', 'opened', 'clicked', 'replied']),
  new Set<WarmupKind>(['delivered', 'unsubscribed']),
  new Set<WarmupKind>(['delivered', 'spam_complaint']),
];

/** Emits the warm-up lines of each day, in order of days. */
export class WarmupDays {
  /** Warm-up sends a mailbox may make a day, so warm-up stays a fraction of the workload. */
  private readonly cap: number;
  private readonly health = new Map<Mailbox, number>();
  private sends = 0;

  constructor(
    private readonly world: World,
    private readonly window: WorkloadWindow,
    emails: number,
    private readonly outbox: Outbox,
    private readonly rng: Random,
  ) {
    let mailboxDays = 0;
    for (const { warmup } of world.mailboxes) {
      if (warmup) mailboxDays += Math.ceil(((warmup.stoppedAt ?? window.endMs) - warmup.startedAt) / DAY);
    }
    this.cap = Math.max(2, Math.ceil((MAILBOX.warmupShareOfEmails * emails) / Math.max(1, mailboxDays)));
  }

  /** Queues the warm-up lines of day `day` (0-based) for every mailbox warming that day. */
  emitDay(day: number): void {
    const dayStart = this.window.startMs + day * DAY;
    for (const mailbox of this.world.mailboxes) {
      const warmup = mailbox.warmup;
      if (!warmup) continue;
      const from = Math.max(warmup.startedAt, dayStart);
      const to = Math.min(warmup.stoppedAt ?? Infinity, dayStart + DAY);
      if (from >= to) continue;
      const age = Math.floor((dayStart - warmup.startedAt) / DAY) + 1;
      const volume = Math.min(warmup.targetDailyVolume, 2 * age, this.cap);
      const times = Array.from({ length: volume }, () => this.rng.int(from, to - 1)).sort((a, b) => a - b);
      let setbacks = 0;
      for (const at of times) setbacks += this.send(mailbox, at);
      const progressedAt = dayStart + 23 * HOUR + 30 * MINUTE + this.rng.int(0, 10 * MINUTE);
      if (progressedAt >= from && progressedAt < to) {
        const rampDays = Math.ceil(warmup.targetDailyVolume / 2);
        const healthScore = this.nextHealth(mailbox, setbacks);
        const progressPercentage = Math.min(100, Math.round((100 * age) / rampDays));
        this.emit(mailbox, 'warmup.progressed', progressedAt, { healthScore, progressPercentage }, false);
        warmup.events.push({ type: 'warmup.progressed', at: progressedAt, healthScore, progressPercentage });
      }
    }
  }

  /** One warm-up send and its interactions; returns how many of them hurt the mailbox's reputation. */
  private send(mailbox: Mailbox, at: number): number {
    const rng = this.rng;
    const partner = partnerMailbox(rng);
    const events = (mailbox.warmup as NonNullable<Mailbox['warmup']>).events;
    this.emit(mailbox, 'warmup.email_sent', at, { partnerMailbox: partner }, false);
    events.push({ type: 'warmup.email_sent', at });
    const forced = this.sends < COVERAGE.length ? COVERAGE[this.sends] : null;
    this.sends++;
    const happens = (kind: WarmupKind, p: number): boolean => (forced ? forced.has(kind) : rng.chance(p));
    const interact = (kind: WarmupKind, when: number): void => {
      this.emit(mailbox, 'warmup.interaction', when, { kind, partnerMailbox: partner }, true);
      events.push({ type: 'warmup.interaction', at: when, kind });
    };
    if (happens('bounced', P.bounced)) {
      interact('bounced', at + rng.int(1000, MINUTE));
      return 1;
    }
    if (!happens('delivered', P.delivered)) return 0;
    const deliveredAt = at + rng.int(1000, 30_000);
    interact('delivered', deliveredAt);
    if (happens('opened', P.opened)) {
      const openedAt = deliveredAt + rng.int(10 * MINUTE, 4 * HOUR);
      interact('opened', openedAt);
      if (happens('clicked', P.clickedIfOpened)) interact('clicked', openedAt + rng.int(5000, 10 * MINUTE));
      if (happens('replied', P.repliedIfOpened)) interact('replied', openedAt + rng.int(5 * MINUTE, HOUR));
    }
    let setbacks = 0;
    if (happens('spam_complaint', P.spamComplaint)) {
      interact('spam_complaint', deliveredAt + rng.int(HOUR, 6 * HOUR));
      setbacks++;
    }
    if (happens('unsubscribed', P.unsubscribed)) interact('unsubscribed', deliveredAt + rng.int(HOUR, 6 * HOUR));
    return setbacks;
  }

  /** Health climbs a few points a day towards the high 90s and drops 5 per bounce or complaint. */
  private nextHealth(mailbox: Mailbox, setbacks: number): number {
    const previous = this.health.get(mailbox) ?? this.rng.int(45, 65);
    const next = Math.max(0, Math.min(98, previous + this.rng.int(1, 4) - 5 * setbacks));
    this.health.set(mailbox, next);
    return next;
  }

  private emit(mailbox: Mailbox, type: string, at: number, data: Record<string, unknown>, tracked: boolean): void {
    const line = eventLine(this.rng, type, mailbox.tenant.tenantId, at, { mailboxId: mailbox.mailboxId, ...data });
    this.outbox.push(line, tracked ? this.outbox.viaTracker(at) : this.outbox.promptly(at));
  }
}
