import { Command, toJson } from '../args';
import { openContext } from '../context';
import { redact } from '../../db/connect';

export const status: Command = {
  usage: 'status [--json]',
  summary: 'Show the store head (position, event count) and the database in use',
  options: { json: { type: 'boolean' } },
  help: `
  --json   one JSON object: {"database","head":{"position","count"},"schemas"}`,
  async run(p, io) {
    const ctx = await openContext((m) => io.err(m));
    try {
      const head = await ctx.store.head();
      const { rows } = await ctx.pool.query<{ n: string }>('SELECT count(*) AS n FROM floe.event_schemas');
      const report = { database: redact(ctx.url), head, schemas: Number(rows[0].n) };
      if (p.values.json) io.out(toJson(report));
      else {
        io.out(`database   ${report.database}`);
        io.out(`events     ${head.count.toLocaleString('en-US')} (head position ${head.position})`);
        io.out(`schemas    ${report.schemas} registered`);
      }
      return 0;
    } finally {
      await ctx.close();
    }
  },
};
