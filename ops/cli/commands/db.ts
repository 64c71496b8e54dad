import type { Command } from '../args';
import { databaseUrl } from '../../db/connect';
import { stopEmbeddedPostgres } from '../../db/embedded';

export const dbUrl: Command = {
  usage: 'db url',
  summary: 'Print the connection URL of the database in use (psql "$(npx floe db url)")',
  help: `
With DATABASE_URL set, prints it. Otherwise starts the embedded PostgreSQL if it is not
running (data in $FLOE_HOME/pg; FLOE_HOME defaults to .floe in the project) and prints its
URL; the server keeps running after the command exits so that psql and other tools can
connect. Stop it with floe db stop.`,
  async run(_p, io) {
    io.out(await databaseUrl((m) => io.err(m)));
    return 0;
  },
};

export const dbStop: Command = {
  usage: 'db stop',
  summary: 'Stop the embedded PostgreSQL (data stays in $FLOE_HOME/pg, default .floe/pg)',
  help: `Stops the embedded server started by any floe command. Does nothing with DATABASE_URL set.`,
  async run(_p, io) {
    if (process.env.DATABASE_URL) {
      io.err('DATABASE_URL is set: no embedded database to stop');
      return 0;
    }
    io.err((await stopEmbeddedPostgres()) ? 'embedded PostgreSQL stopped' : 'embedded PostgreSQL was not running');
    return 0;
  },
};
