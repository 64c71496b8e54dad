/**
 * A process that appends one large batch and can be SIGKILLed by a test.
 * argv: URL TENANT COUNT PAUSE_MS — prints `committing` just before COMMIT, then waits
 * PAUSE_MS so the killer can land inside the transaction; prints `done` after.
 */
import { PostgresEventStore } from '../../streams/postgres';

async function main() {
  const [url, tenant, count, pause] = process.argv.slice(2);
  const store = await PostgresEventStore.open(url);
  const events = Array.from({ length: Number(count) }, (_x, i) => ({
    type: 'email.opened',
    tenantId: tenant,
    occurredAt: '2026-03-01T10:00:00.000Z',
    data: { emailId: `${tenant}-${i % 500}` },
  }));
  process.stdout.write('appending\n');
  await store.append(events, {
    beforeCommit: async () => {
      process.stdout.write('committing\n');
      await new Promise((r) => setTimeout(r, Number(pause)));
    },
  });
  process.stdout.write('done\n');
  await store.close();
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
