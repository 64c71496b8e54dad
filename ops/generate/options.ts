/**
 * What a workload is asked for, checked once up front so the CLI can report a bad flag
 * by name before any line is written.
 */
import { FloeError } from '../../schemas/errors';
import { MAX_YEAR, MIN_YEAR } from '../../streams/prepare';
import { DAY, LATE_TAIL } from './rates';
import type { WorkloadWindow } from './truth';

/** The knobs of `floe generate`. */
export interface WorkloadOptions {
  /** Same seed (compared as text: 42 and "42" are the same seed) ⇒ byte-identical output. */
  seed: number | string;
  /** Number of tenants, at least 1. */
  tenants: number;
  /** Number of distinct emails with an `email.sent`, split unevenly across tenants. */
  emails: number;
  /** First day of the window, `YYYY-MM-DD` (UTC). */
  start: string;
  /** Length of the window in days, at least 1; sends fall inside it, late tracking up to 10 days after. */
  days: number;
}

function invalid(option: string, message: string, value: unknown): FloeError {
  return new FloeError('INVALID_ARGUMENT', `--${option}: ${message}`, { context: { option, value } });
}

function requireInteger(option: keyof WorkloadOptions, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalid(option, `expected an integer >= ${min}`, value);
  }
}

/** Validates the options and returns the time window they describe. */
export function resolveWindow(opts: WorkloadOptions): WorkloadWindow {
  if ((typeof opts.seed !== 'number' || !Number.isFinite(opts.seed)) && typeof opts.seed !== 'string') {
    throw invalid('seed', 'expected a number or a string', opts.seed);
  }
  requireInteger('tenants', opts.tenants, 1);
  requireInteger('emails', opts.emails, 0);
  requireInteger('days', opts.days, 1);
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(opts.start);
  const startMs = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : NaN;
  if (!match || new Date(startMs).toISOString().slice(0, 10) !== opts.start) {
    throw invalid('start', 'expected a date as YYYY-MM-DD', opts.start);
  }
  const endMs = startMs + opts.days * DAY;
  const lateEndMs = endMs + LATE_TAIL;
  // Every event must be one `floe append` takes.
  if (Number(match[1]) < MIN_YEAR || new Date(lateEndMs).getUTCFullYear() > MAX_YEAR) {
    throw invalid('start', `the workload's events (the --days from --start, then up to 10 days of late tracking) must fall in the years ${MIN_YEAR}-${MAX_YEAR}, as floe append takes them`, opts.start);
  }
  return { startMs, endMs, lateEndMs, days: opts.days };
}
