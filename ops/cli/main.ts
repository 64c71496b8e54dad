/**
 * `floe`: everything a person runs. Each command lives in `commands/` and brings its own
 * help; `floe --help` lists them.
 */
import { isFloeError } from '../../schemas/errors';
import { Command, Io, parse, UsageError } from './args';
import { COMMANDS } from './commands';

/** One line per command: its name and summary (its options are in `floe NAME --help`). */
function listing(names: string[]): string[] {
  const width = Math.max(...names.map((n) => n.length));
  return names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n]().summary}`);
}

function overview(): string {
  return [
    'floe: an event-sourced pipeline for email analytics',
    '',
    'Usage: floe COMMAND [options]      (floe COMMAND --help for its options)',
    '',
    ...listing(Object.keys(COMMANDS)),
    '',
    'Configuration: DATABASE_URL (PostgreSQL 15+; without it an embedded PostgreSQL runs with data in',
    '$FLOE_HOME/pg, default .floe/pg), KAFKA_BROKERS for the kafka commands; README.md lists the rest.',
  ].join('\n');
}

function helpOf(c: Command): string {
  return `Usage: floe ${c.usage}\n\n${c.summary}\n\n${c.help.trim()}\n`;
}

/** Find the command for argv: `schemas check` is a two-word command, `append` a one-word one. */
function resolve(argv: string[]): { command?: Command; rest: string[]; name: string } {
  const two = argv.slice(0, 2).join(' ');
  if (Object.hasOwn(COMMANDS, two)) return { command: COMMANDS[two](), rest: argv.slice(2), name: two };
  const one = argv[0] ?? '';
  return { command: Object.hasOwn(COMMANDS, one) ? COMMANDS[one]() : undefined, rest: argv.slice(1), name: one };
}

export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.out(overview());
    return argv.length === 0 ? 2 : 0;
  }
  const { command, rest, name } = resolve(argv);
  if (!command) {
    const group = Object.keys(COMMANDS).filter((k) => k.startsWith(argv[0] + ' '));
    if (group.length) {
      if (argv[1] === '--help' || argv[1] === '-h') {
        io.out([`Usage: floe ${argv[0]} SUBCOMMAND [options]      (floe ${group[0]} --help for its options)`, '', ...listing(group)].join('\n'));
        return 0;
      }
      const sub = argv[1] && !argv[1].startsWith('-') ? `unknown subcommand ${JSON.stringify(argv[1])}` : 'needs a subcommand';
      io.err(`floe ${argv[0]}: ${sub}: ${group.map((g) => g.split(' ')[1]).join(', ')} (floe ${group[0]} --help)`);
    } else io.err(`floe: unknown command ${JSON.stringify(argv[0])}; see floe --help`);
    return 2;
  }
  try {
    const parsed = parse(rest, command.options);
    if (parsed.values.help) {
      io.out(helpOf(command));
      return 0;
    }
    const extra = parsed.positionals.slice(command.positionals ?? 0);
    if (extra.length) throw new UsageError(`unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((a) => JSON.stringify(a)).join(' ')}`);
    return await command.run(parsed, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`floe ${name}: ${e.message}\n\nUsage: floe ${command.usage}   (floe ${name} --help)`);
      return 2;
    }
    io.err(`floe ${name}: ${describeError(e)}`);
    return badInput(e) ? 2 : 1;
  }
}

/** Errors in what the user typed (exit 2, as usage errors), not failures of the work (exit 1). */
const BAD_INPUT_CODES = new Set(['BAD_PERIOD', 'FLOE_HOME', 'UNKNOWN_PROJECTION', 'INVALID_ARGUMENT', 'NOT_PARTITIONED', 'UNKNOWN_TENANT', 'PERIOD_NOT_ENDED', 'UNKNOWN_TOPIC']);
function badInput(e: unknown): boolean {
  if (isFloeError(e)) return BAD_INPUT_CODES.has(e.code);
  // A file or directory named on the command line that is missing, a directory, or not allowed.
  return ['ENOENT', 'EISDIR', 'ENOTDIR', 'EACCES'].includes((e as { code?: string }).code ?? '') && Boolean((e as { syscall?: string }).syscall);
}

/** Floe and database errors are expected outcomes: their message, not a stack trace. */
function describeError(e: unknown): string {
  if (isFloeError(e)) return `${e.message} [${e.code}]`;
  const pg = e as { severity?: string; code?: string; message?: string; address?: string; port?: number };
  if (pg.severity && pg.code) return `database error: ${pg.message} (SQLSTATE ${pg.code})`;
  if (pg.code === 'ECONNREFUSED') {
    const hint = process.env.DATABASE_URL ? 'check DATABASE_URL' : 'the embedded server stopped? any floe command starts it again';
    const at = pg.address ? `${pg.address}${pg.port ? `:${pg.port}` : ''}` : 'the configured address';
    return `cannot connect to PostgreSQL at ${at}: connection refused (${hint})`;
  }
  if ((e as { syscall?: string }).syscall) return (e as Error).message; // file not found and the like
  if (e instanceof Error && e.name.startsWith('KafkaJS')) return `kafka: ${e.message} (${e.name}; check KAFKA_BROKERS)`;
  return (e as Error).stack ?? String(e);
}

function defaultIo(): Io {
  // Output piped into a reader that stops early (`floe read | head`): finish quietly.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      process.exit(process.exitCode ?? 0);
    });
  }
  return {
    out: (l) => process.stdout.write(l + '\n'),
    err: (l) => process.stderr.write(l + '\n'),
    tty: Boolean(process.stderr.isTTY),
  };
}
