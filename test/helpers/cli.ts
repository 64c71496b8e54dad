import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const FLOE = path.join(__dirname, '..', '..', 'ops', 'cli', 'floe.js');

/** Run `floe ARGS` as a user would, against the database at `url`. */
export function floe(url: string, args: string[], input?: string): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [FLOE, ...args], { env: { ...process.env, DATABASE_URL: url }, input, encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
