/**
 * `warmups_active` (DESIGN §6): the distinct mailboxes whose warm-up was active at some
 * instant of a period, active from a `warmup.started` until the next `warmup.stopped`, by
 * occurredAt (ties by store position). Shared by the projection and the recompute.
 *
 * Read as a state machine per mailbox over its start/stop marks in (occurredAt, position)
 * order: a start opens an interval [started, stopped) unless one is open, a stop closes the
 * open one; a stop with nothing open and a second start change nothing. A warm-up never
 * stopped is active from its start on; one stopped exactly at a period's start is not
 * active in it; an interval that closes when it opens ([t, t)) has no instant and counts
 * nowhere. With one start and at most one later stop per mailbox (all the generator
 * writes) this is the oracle's [startedAt, stoppedAt) rule exactly.
 */
import { byPosition } from '../../streams/envelope';
import { dayMs, type Period } from './periods';

export interface WarmupMark {
  mailboxId: string;
  /** occurredAt, epoch ms. */
  at: number;
  position: bigint;
  started: boolean;
}

interface Interval {
  from: number;
  to: number;
}

const byTime = (a: WarmupMark, b: WarmupMark): number => a.at - b.at || byPosition(a, b);

/** Each mailbox's non-empty warm-up intervals ([from, to), `to` Infinity while open). */
function intervals(marks: readonly WarmupMark[]): Map<string, Interval[]> {
  const byMailbox = new Map<string, WarmupMark[]>();
  for (const m of marks) {
    const list = byMailbox.get(m.mailboxId);
    if (list) list.push(m);
    else byMailbox.set(m.mailboxId, [m]);
  }
  const out = new Map<string, Interval[]>();
  for (const [mailboxId, list] of byMailbox) {
    const found: Interval[] = [];
    let open: number | null = null;
    for (const m of list.sort(byTime)) {
      if (m.started && open === null) open = m.at;
      else if (!m.started && open !== null) {
        if (m.at > open) found.push({ from: open, to: m.at });
        open = null;
      }
    }
    if (open !== null) found.push({ from: open, to: Infinity });
    if (found.length) out.set(mailboxId, found);
  }
  return out;
}

/** For each period, in order, the number of mailboxes with a warm-up active at some instant of it. */
export function activeWarmups(marks: readonly WarmupMark[], periods: readonly Period[]): number[] {
  const counts = new Array<number>(periods.length).fill(0);
  const bounds = periods.map((p) => ({ start: dayMs(p.start), end: dayMs(p.end) }));
  for (const list of intervals(marks).values()) {
    bounds.forEach(({ start, end }, i) => {
      if (list.some((w) => w.from < end && w.to > start)) counts[i]++;
    });
  }
  return counts;
}
