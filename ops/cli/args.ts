/**
 * Argument parsing for `floe` commands: node's parseArgs with a help text per command,
 * `--help` everywhere, and usage errors that name the offending option (exit code 2).
 */
import { parseArgs, ParseArgsConfig } from 'node:util';
import { FloeError } from '../../schemas/errors';

export class UsageError extends FloeError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  /** e.g. `append [FILE|-] [--batch-size N] [--rejects FILE]` */
  usage: string;
  summary: string;
  /** Longer help: what it does, options, output, exit codes. */
  help: string;
  options?: Options;
  /** Most positional arguments it takes (default none): more is a usage error. */
  positionals?: number;
  run(args: Parsed, io: Io): Promise<number>;
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Whether stdout/stderr is a terminal (progress bars only then). */
  tty: boolean;
}

export function parse(argv: string[], options: Options = {}): Parsed {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** An integer option, with a usage error naming it when it is not one. */
export function intOption(p: Parsed, name: string, fallback: number, min = 0): number {
  const v = p.values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export function stringOption(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

/** JSON.stringify that writes bigints as numbers when safe, strings otherwise. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v));
}
