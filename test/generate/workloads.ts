/**
 * Workloads shared by the generator specs, generated once per run and kept both as the
 * NDJSON text a user would get and as parsed lines.
 */
import { generateWorkload, WorkloadTruth, type EventLine, type WorkloadOptions } from '../../ops/generate';

export interface Generated {
  opts: WorkloadOptions;
  /** The NDJSON lines, without newlines. */
  text: string[];
  lines: EventLine[];
  truth: WorkloadTruth;
}

const cache = new Map<string, Generated>();

export function generated(opts: WorkloadOptions): Generated {
  const key = JSON.stringify(opts);
  let entry = cache.get(key);
  if (!entry) {
    const truth = new WorkloadTruth();
    const text = Array.from(generateWorkload(opts, truth), (line) => JSON.stringify(line));
    entry = { opts, text, lines: text.map((t) => JSON.parse(t) as EventLine), truth };
    cache.set(key, entry);
  }
  return entry;
}

/** The 1,000-email workload most specs read: 5 tenants over March 2026 (late events reach April). */
export const THOUSAND: WorkloadOptions = { seed: 'floe-spec', tenants: 5, emails: 1000, start: '2026-03-01', days: 30 };
