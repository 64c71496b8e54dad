import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

const FLOE = path.join(__dirname, '..', '..', 'ops', 'cli', 'floe.js');

/** Where the commands run: not the project's directory, as a user's shell need not be. */
const CWD = os.tmpdir();

/** Run `floe ARGS` as a user would, against the database at `url`. */
export function floe(url: string, args: string[], input?: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [FLOE, ...args], { cwd: CWD, env: { ...process.env, DATABASE_URL: url }, input, encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Start `floe ARGS` without waiting (for concurrent runs and kills). */
export function floeChild(url: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [FLOE, ...args], { cwd: CWD, env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Wait for a child to exit; resolves with its code, signal and output. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (c) => (out += c));
  child.stderr?.on('data', (c) => (err += c));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, out, err }));
  });
}
