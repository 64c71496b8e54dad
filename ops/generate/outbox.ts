/**
 * Arrival order. Every line is queued with the time it reaches Floe (its occurredAt plus
 * transport delay) and written in arrival order, which is how out-of-order lifecycle
 * events, lines that precede their `email.sent`, and retried duplicates come about
 * naturally instead of being spliced into a sorted file.
 */
import type { EventInput } from '../../streams/envelope';
import { ANOMALY, HOUR, MINUTE } from './rates';
import type { Random } from './random';
import type { WorkloadTruth } from './truth';

/** One NDJSON input line (DESIGN §3) as the generator writes it: always with an id. */
export type EventLine = Required<Pick<EventInput, 'id' | 'type' | 'tenantId' | 'occurredAt' | 'data'>>;

const PAD2: string[] = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const PAD3: string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
let cachedDay = NaN;
let cachedPrefix = '';

/**
 * `at` (epoch ms) as ISO-8601 UTC with milliseconds, same as `Date#toISOString` for
 * years 0–9999. Formats the time of day by table and the date once a day, which is
 * several times faster: timestamps are a third of the generator's work otherwise.
 */
export function isoTime(at: number): string {
  const day = Math.floor(at / 86_400_000);
  if (day !== cachedDay) {
    cachedDay = day;
    cachedPrefix = new Date(day * 86_400_000).toISOString().slice(0, 11);
  }
  let rest = at - day * 86_400_000;
  const ms = rest % 1000;
  rest = (rest - ms) / 1000;
  const sec = rest % 60;
  rest = (rest - sec) / 60;
  return `${cachedPrefix}${PAD2[(rest - (rest % 60)) / 60]}:${PAD2[rest % 60]}:${PAD2[sec]}.${PAD3[ms]}Z`;
}

/** A line with an id drawn from `rng` and `at` (epoch ms, an integer) as ISO-8601 with milliseconds. */
export function eventLine(rng: Random, type: string, tenantId: string, at: number, data: Record<string, unknown>): EventLine {
  return { id: rng.uuid(), type, tenantId, occurredAt: isoTime(at), data };
}

interface Queued {
  arrival: number;
  /** Queue order, so equal arrivals keep a reproducible order. */
  seq: number;
  line: EventLine;
}

const before = (a: Queued, b: Queued): boolean => a.arrival < b.arrival || (a.arrival === b.arrival && a.seq < b.seq);

/** A min-heap of lines by arrival time. */
export class Outbox {
  private readonly heap: Queued[] = [];
  private seq = 0;

  constructor(
    private readonly rng: Random,
    private readonly truth: WorkloadTruth | undefined,
  ) {}

  /** Arrival of a line written by the sender itself: within 50 ms of the fact. */
  promptly(at: number): number {
    return at + this.rng.int(0, 50);
  }

  /** Arrival of a line relayed by a tracker or webhook: seconds late, sometimes hours. */
  viaTracker(at: number): number {
    if (this.rng.chance(ANOMALY.delayedArrival)) return at + this.rng.int(MINUTE, 3 * HOUR);
    return at + this.rng.int(0, 2000);
  }

  /**
   * Queue `line` to arrive at `arrival`. With probability `ANOMALY.retriedDuplicate`
   * (or when `retry` is true) the identical line arrives a second time later, as an
   * at-least-once transport redelivers it. Returns whether it was duplicated.
   */
  push(line: EventLine, arrival: number, retry = this.rng.chance(ANOMALY.retriedDuplicate)): boolean {
    this.insert({ arrival, seq: this.seq++, line });
    if (retry) {
      this.insert({ arrival: arrival + this.rng.int(30_000, 6 * HOUR), seq: this.seq++, line });
      this.truth?.retriedEventIds.push(line.id);
    }
    return retry;
  }

  /** Lines that arrive before `time`, in arrival order. */
  *drainBefore(time: number): Generator<EventLine> {
    while (this.heap.length > 0 && this.heap[0].arrival < time) yield this.pop();
  }

  /** Every queued line, in arrival order. */
  *drainAll(): Generator<EventLine> {
    while (this.heap.length > 0) yield this.pop();
  }

  private insert(item: Queued): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = item;
  }

  private pop(): EventLine {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop() as Queued;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && before(heap[right], heap[left]) ? right : left;
        if (!before(heap[child], last)) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = last;
    }
    if (this.truth) this.truth.lines++;
    return top.line;
  }
}
