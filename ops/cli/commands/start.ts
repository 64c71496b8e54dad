import { generateWorkload } from '../../generate';
import { Command } from '../args';
import { openContext } from '../context';
import { status } from './status';

/** The demo month loaded into an empty store by `npm start`. */
export const DEMO = { seed: 'demo', tenants: 4, emails: 20000, days: 30 };

function demoStart(now = new Date()): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return d.toISOString().slice(0, 10);
}

export const start: Command = {
  usage: 'start',
  summary: 'What npm start runs: migrate, load a demo month into an empty store, show status',
  help: `
Starts the database (embedded unless DATABASE_URL is set), migrates, and when the store is
empty appends a generated demo month (last calendar month, ${DEMO.tenants} tenants, ${DEMO.emails.toLocaleString('en-US')} emails),
then prints floe status.`,
  async run(_p, io) {
    const ctx = await openContext((m) => io.err(m));
    try {
      const head = await ctx.store.head();
      if (head.count === 0) {
        const opts = { ...DEMO, start: demoStart() };
        io.err(`empty store: appending a demo month (${opts.tenants} tenants, ${opts.emails} emails from ${opts.start})`);
        let batch: Parameters<typeof ctx.store.append>[0] = [];
        let total = 0;
        for (const e of generateWorkload(opts)) {
          batch.push(e);
          if (batch.length === 1000) {
            total += (await ctx.store.append(batch)).appended;
            batch = [];
          }
        }
        total += (await ctx.store.append(batch)).appended;
        io.err(`appended ${total.toLocaleString('en-US')} events`);
      } else io.err(`store already holds ${head.count.toLocaleString('en-US')} events`);
    } finally {
      await ctx.close();
    }
    return status.run({ values: {}, positionals: [] }, io);
  },
};
