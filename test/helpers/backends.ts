/**
 * Real servers for the tests, started once per run. A suite whose server is missing is
 * skipped with a loud line, unless FLOE_REQUIRE names it (CI sets FLOE_REQUIRE=postgres,...):
 * then the run fails instead.
 */
import { randomBytes } from 'node:crypto';
import { databaseUrl, dropDatabase, ensureDatabase } from '../../ops/db/connect';
import { migrate } from '../../ops/db/migrate';
import { isRequired } from '../../ops/required';


let baseUrl: Promise<string | undefined> | undefined;

const databasesToDrop: string[] = [];

/** Drop the suites' databases (test/setup.ts calls it once every suite is done). */
export async function dropTestDatabases(): Promise<void> {
  for (const url of databasesToDrop.splice(0)) await dropDatabase(url).catch(() => undefined);
}

/** The server URL (DATABASE_URL, or the embedded one), or undefined when none can be had. */
export function postgresUrl(): Promise<string | undefined> {
  baseUrl ??= databaseUrl().catch((e) => {
    if (isRequired('postgres')) throw new Error(`FLOE_REQUIRE includes postgres, but no PostgreSQL is available: ${e.message}`);
    console.error(`\n!!! SKIPPING PostgreSQL suites: ${e.message}\n`);
    return undefined;
  });
  return baseUrl;
}

/**
 * A throw-away migrated database for one suite, dropped after it.
 * @example
 *   const db = useDatabase(); // in a describe(); then db.url inside tests
 */
export function useDatabase(options: { migrate?: boolean } = {}): { url: string } {
  const handle = { url: '' };
  before(async function () {
    const base = await postgresUrl();
    if (!base) return this.skip();
    const u = new URL(base);
    u.pathname = `/floe_test_${randomBytes(5).toString('hex')}`;
    handle.url = u.toString();
    await ensureDatabase(handle.url);
    if (options.migrate !== false) await migrate(handle.url);
  });
  // Dropped at the end of the run, not in this suite's `after`: mocha runs `after` hooks in
  // the order they were declared, so a suite's own clean-up (closing its pools) comes later.
  after(() => {
    if (handle.url) databasesToDrop.push(handle.url);
  });
  return handle;
}
