import type { Command } from '../args';
import { databaseUrl } from '../../db/connect';
import { migrate } from '../../db/migrate';

export const migrateCommand: Command = {
  usage: 'migrate',
  summary: 'Create or update every Floe table (idempotent) and register the event schemas',
  help: `Runs the knex migrations in migrations/ and registers every schema of schemas/avro in
floe.event_schemas. Running it again changes nothing. Prints the migrations it applied.`,
  async run(_p, io) {
    const url = await databaseUrl((m) => io.err(m));
    const applied = await migrate(url);
    io.out(applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'database is up to date');
    return 0;
  },
};
