/**
 * What every benchmark scenario needs: throw-away databases (fresh, or copied from a
 * loaded template), the generated workload, medians and percentiles, and a `floe` child
 * process whose peak memory is sampled from /proc.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { dropDatabase, ensureDatabase, quoteIdent } from '../db/connect';
import { generateWorkload } from '../generate';

export type Log = (m: string) => void;

/** Every database name this process has handed out: what `dropBenchDatabases` drops. */
const handedOut = new Set<string>();

/** The URL of a new database named `floe_bench_<random>` on the server of `url`. */
export function benchDatabaseUrl(url: string, tag = ''): string {
  const u = new URL(url);
  u.pathname = `/floe_bench_${tag ? `${tag}_` : ''}${randomBytes(4).toString('hex')}`;
  handedOut.add(u.toString());
  return u.toString();
}

/**
 * Drop every database of this run that still exists (an interrupted run would leave them,
 * hundreds of MB each): `floe bench` calls it when stopped by a signal.
 */
export async function dropBenchDatabases(): Promise<void> {
  for (const url of [...handedOut]) {
    await dropDatabase(url).catch(() => undefined);
    handedOut.delete(url);
  }
}

const databaseName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

/** Run `fn` on a fresh empty database, dropped afterwards. */
export async function withDatabase<T>(url: string, fn: (url: string) => Promise<T>, tag = ''): Promise<T> {
  const target = benchDatabaseUrl(url, tag);
  await ensureDatabase(target);
  try {
    return await fn(target);
  } finally {
    await dropDatabase(target);
  }
}

/**
 * A copy of the database at `template` (CREATE DATABASE … TEMPLATE, a file-level copy:
 * much faster than re-appending). Nobody may be connected to the template meanwhile.
 */
export async function copyDatabase(template: string, tag = 'copy'): Promise<string> {
  const target = benchDatabaseUrl(template, tag);
  const admin = new URL(template);
  admin.pathname = '/postgres';
  const c = new Client({ connectionString: admin.toString() });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${quoteIdent(databaseName(target))} TEMPLATE ${quoteIdent(databaseName(template))} STRATEGY FILE_COPY`);
  } finally {
    await c.end();
  }
  return target;
}

/** Run `fn` on a copy of `template`, dropped afterwards. */
export async function withCopy<T>(template: string, fn: (url: string) => Promise<T>, tag = 'copy'): Promise<T> {
  const target = await copyDatabase(template, tag);
  try {
    return await fn(target);
  } finally {
    await dropDatabase(target);
  }
}

export const median = (xs: number[]) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The q-quantile (0..1) of `xs`, nearest rank. */
export function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${cpus[0]?.model ?? 'unknown cpu'}`;
}

export interface WorkloadSpec {
  /** Events wanted; the generated stream is cut there. */
  events: number;
  /** Days of history the emails are spread over. */
  days: number;
  seed?: string;
  tenants?: number;
}

/**
 * The `floe generate` workload, `events` lines long. The generator is asked for a little
 * more than needed (about 3.7 events per email at these sizes, more when small) and cut.
 */
export function* workloadEvents(spec: WorkloadSpec): Generator<Record<string, unknown>> {
  const emails = Math.ceil(spec.events / 3.5);
  let n = 0;
  if (spec.events <= 0) return;
  for (const e of generateWorkload({ seed: spec.seed ?? 'bench', tenants: spec.tenants ?? 10, emails, start: '2026-01-01', days: spec.days })) {
    yield e as unknown as Record<string, unknown>;
    if (++n === spec.events) return;
  }
}

/** The workload as NDJSON lines, in memory (append scenario sizes only). */
export function workloadLines(events: number, days = 30): string[] {
  const lines: string[] = [];
  for (const e of workloadEvents({ events, days })) lines.push(JSON.stringify(e));
  return lines;
}

const FLOE = path.join(__dirname, '..', 'cli', 'floe.js');

export interface FloeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  /** Peak resident set size (VmHWM) of the process, in bytes, as last sampled. */
  peakRss: number;
  /** Wall time from spawn to exit. */
  wallSeconds: number;
  /** CPU time (user + system) of the process, as last sampled. */
  cpuSeconds: number;
}

export interface FloeChild {
  pid: number;
  /** Resolves when the process has exited. */
  done: Promise<FloeRun>;
  /** SIGTERM: `floe project` finishes its batch and exits 0. */
  stop(): void;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * utime + stime of a live process, in seconds (0 when it cannot be read); with `children`,
 * also that of the children it has waited for.
 */
function cpuTime(pid: number | string, children = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(fields[11]) + Number(fields[12]);
    return (children ? own + Number(fields[13]) + Number(fields[14]) : own) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds used so far by the PostgreSQL processes of this machine (the postmaster
 * counts the backends that have exited): the difference over a run is the server's share
 * of it. 0 without /proc or with the server elsewhere.
 */
export function serverCpuSeconds(): number {
  let total = 0;
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return 0;
  }
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
    } catch {
      continue;
    }
    total += cpuTime(pid, true);
  }
  return total;
}

function vmHwm(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // exited (a zombie has no Vm* lines), or no /proc
  }
}

/**
 * `node ops/cli/floe.js ARGS` with DATABASE_URL set, its peak RSS polled every
 * `sampleMs` from /proc/PID/status (VmHWM only grows, so the last sample before exit is
 * the peak up to that moment).
 */
export function floeChild(url: string, args: string[], env: Record<string, string> = {}, nodeFlags: string[] = [], sampleMs = 50): FloeChild {
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, [...nodeFlags, FLOE, ...args], {
    env: { ...process.env, ...env, DATABASE_URL: url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let peakRss = 0;
  let cpuSeconds = 0;
  const sample = () => {
    const rss = vmHwm(child.pid!);
    if (rss === 0) return; // exited: keep the last sample
    peakRss = Math.max(peakRss, rss);
    cpuSeconds = Math.max(cpuSeconds, cpuTime(child.pid!));
  };
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const timer = setInterval(sample, sampleMs);
  const done = new Promise<FloeRun>((resolve, reject) => {
    child.on('error', (e) => (clearInterval(timer), reject(e)));
    child.on('exit', sample);
    child.on('close', (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal, out, err, peakRss, cpuSeconds, wallSeconds: seconds(t0) });
    });
  });
  return { pid: child.pid!, done, stop: () => child.kill('SIGTERM') };
}

/** The JSON summary line `floe project --json` prints, or an error with its stderr. */
export function projectSummary(r: FloeRun): { events: number; batches: number; seconds: number } {
  if (r.code !== 0) throw new Error(`floe project exited ${r.code ?? r.signal}: ${r.err.trim().split('\n').slice(-5).join(' | ')}`);
  const line = r.out.split('\n').filter((l) => l.startsWith('{')).pop() ?? '';
  return JSON.parse(line);
}

const MARK_COMPACT = /Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \(([\d.]+)\) MB/;

/**
 * From node's `--trace-gc` lines (on stdout): the largest live heap left after a full
 * collection, and the largest heap V8 had reserved then, in MB; null without any.
 */
export function heapAfterFullGc(out: string): { liveMb: number; heapMb: number } | null {
  let liveMb = -1;
  let heapMb = -1;
  for (const line of out.split('\n')) {
    const m = MARK_COMPACT.exec(line);
    if (!m) continue;
    liveMb = Math.max(liveMb, Number(m[1]));
    heapMb = Math.max(heapMb, Number(m[2]));
  }
  return liveMb < 0 ? null : { liveMb, heapMb };
}

export const MB = 2 ** 20;
