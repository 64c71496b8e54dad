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
    throw new UsageError(parseError(e as Error & { code?: string }, argv));
  }
}

/** node's parseArgs messages, said for this CLI: the option named, and what to write instead. */
function parseError(e: Error & { code?: string }, argv: string[]): string {
  const option = /'(-[^' ]+)/.exec(e.message)?.[1];
  if (!option) return e.message;
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${option}`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && /ambiguous/.test(e.message)) {
    const value = argv[argv.indexOf(option) + 1];
    return `${option} ${value}: a value that starts with '-' reads as an option; write ${option}=${value}`;
  }
  if (/argument missing/.test(e.message)) return `${option} needs a value`;
  if (/does not take an argument/.test(e.message)) return `${option} takes no value`;
  return e.message;
}

const FS_REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory (or it lies under a file)',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
};

/** `open(path)`, with a usage error naming the option and what is wrong with its path when the file system refuses. */
export function withPath<T>(option: string, file: string, open: (file: string) => T): T {
  try {
    return open(file);
  } catch (e) {
    const reason = FS_REASONS[(e as { code?: string }).code ?? ''];
    if (!reason) throw e;
    throw new UsageError(`${option} ${file}: ${reason}`);
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
