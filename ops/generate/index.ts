/**
 * The deterministic workload generator behind `floe generate`: a realistic stream of
 * catalog v1 events for a number of tenants and emails over a window of days, with the
 * messy realities of a tracking pipeline mixed in, and its own ground truth.
 *
 * How a workload is made: split the emails over tenants, build the world (tenants,
 * mailboxes, campaigns), plan every email (time, context, outcome), then walk the window
 * day by day writing the warm-up of the day and each email in send order; lines leave
 * through the outbox in arrival order. Each stage draws from its own seeded stream.
 */
import { EmailWriter } from './email';
import { LeadBook } from './leads';
import { writeNdjson } from './ndjson';
import { resolveWindow, type WorkloadOptions } from './options';
import { Outbox, type EventLine } from './outbox';
import { planEmails, splitEmails } from './plan';
import { Random } from './random';
import { DAY } from './rates';
import { emitTimeline } from './timeline';
import type { WorkloadTruth } from './truth';
import { WarmupDays } from './warmup';
import { buildWorld } from './world';

export type { EventLine } from './outbox';
export type { WorkloadOptions } from './options';
export { ANOMALY_KINDS, WorkloadTruth } from './truth';
export type * from './truth';

/**
 * The events of a workload, lazily, in arrival order (roughly by occurredAt). Same
 * options ⇒ same lines, byte for byte. Pass a `WorkloadTruth` to have it filled with
 * what every line means; it is complete once the iterable is exhausted.
 *
 * @example
 * for (const line of generateWorkload({ seed: 7, tenants: 3, emails: 1000, start: '2026-03-01', days: 30 })) {
 *   console.log(line.type, line.occurredAt);
 * }
 */
export function* generateWorkload(opts: WorkloadOptions, truth?: WorkloadTruth): Generator<EventLine, void, undefined> {
  const window = resolveWindow(opts);
  const seed = String(opts.seed);
  const quotas = splitEmails(opts.emails, opts.tenants, new Random(`${seed}:split`));
  const world = buildWorld(window, quotas, new Random(`${seed}:world`));
  const plan = planEmails(world, quotas, window, new Random(`${seed}:plan`));
  if (truth) Object.assign(truth, { window, tenants: world.tenants, mailboxes: world.mailboxes, campaigns: world.campaigns });

  const outbox = new Outbox(new Random(`${seed}:arrival`), truth);
  emitTimeline(world, plan, window, outbox, new Random(`${seed}:timeline`));
  const warmup = new WarmupDays(world, window, opts.emails, outbox, new Random(`${seed}:warmup`));
  const leads = new LeadBook(outbox, new Random(`${seed}:leads`), window.lateEndMs, truth);
  const emails = new EmailWriter(world, plan, window, leads, outbox, new Random(`${seed}:emails`), truth);

  let rank = 0;
  for (let day = 0; day < window.days; day++) {
    const dayEnd = window.startMs + (day + 1) * DAY;
    warmup.emitDay(day);
    for (; rank < plan.count && plan.at[plan.order[rank]] < dayEnd; rank++) {
      yield* outbox.drainBefore(plan.at[plan.order[rank]]);
      emails.write(rank);
    }
    yield* outbox.drainBefore(dayEnd);
  }
  yield* outbox.drainAll();
}

/**
 * Writes the workload to `out` as NDJSON (one event a line), waiting for `drain` when
 * the stream is full. Rejects with the stream's error if it fails. Does not end `out`.
 * Resolves with the number of lines written.
 *
 * @example
 * const file = fs.createWriteStream('workload.ndjson');
 * const { events } = await writeWorkload({ seed: 1, tenants: 10, emails: 100_000, start: '2026-01-01', days: 60 }, file);
 * file.end();
 */
export async function writeWorkload(opts: WorkloadOptions, out: NodeJS.WritableStream, truth?: WorkloadTruth): Promise<{ events: number }> {
  return { events: await writeNdjson(out, generateWorkload(opts, truth)) };
}
