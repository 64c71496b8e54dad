import type { Command } from '../args';
import { databaseUrl } from '../../db/connect';
import { migrate } from '../../db/migrate';

export const migrateCommand: Command = {
  usage: 'migrate',
  summary: 'Create or update every Floe table (idempotent) and register the event schemas',
  help: `Runs the knex migrations in migrations/ and registers every schema of schemas/avro in
floe.event_schemas. Running it again changes nothing. Prints the migrations it applied and the schema versions it
registered (a new version file in schemas/avro), or that the database is up to date.`,
  async run(_p, io) {
    const url = await databaseUrl((m) => io.err(m));
    const { applied, registered } = await migrate(url);
    if (applied.length) io.out(`applied ${applied.length} migration(s): ${applied.join(', ')}`);
    if (registered.length) io.out(`registered ${registered.length} event schema(s): ${registered.join(', ')}`);
    if (!applied.length && !registered.length) io.out('database is up to date');
    return 0;
  },
};
