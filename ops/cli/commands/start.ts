import { headPosition } from '../../../streams/postgres/read';
import type { Pool } from 'pg';
import { PROJECTIONS } from '../../../projections';
import { project } from '../../../projections/pipeline';
import { eventsToFold } from '../../../projections/runtime/lanes';
import { generateWorkload } from '../../generate';
import { Command } from '../args';
import { Context, openContext } from '../context';
import { Progress } from '../progress';
import { catchStopsDuring, untilStopped } from '../signals';
import { status } from './status';

/** The demo month loaded into an empty store by `npm start`. */
export const DEMO = { seed: 'demo', tenants: 4, emails: 20000, days: 30 };

function demoStart(now = new Date()): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return d.toISOString().slice(0, 10);
}

export const start: Command = {
  usage: 'start [--no-follow]',
  summary: 'What npm start runs: migrate, load a demo month into an empty store, project, show, follow',
  options: { 'no-follow': { type: 'boolean' } },
  help: `
Starts the database (embedded unless DATABASE_URL is set), migrates, and when the store is
empty appends a generated demo month (last calendar month, ${DEMO.tenants} tenants, ${DEMO.emails.toLocaleString('en-US')} emails).
Then projects everything, prints floe status, a campaign funnel and a mailbox table, and
keeps projecting new events (e.g. from floe append in another terminal) until Ctrl-C.

  --no-follow   stop after printing instead of following live`,
  async run(p, io) {
    const [ctx, stops] = await catchStopsDuring(() => openContext((m) => io.err(m)));
    try {
      return await untilStopped(async (signal) => {
        await loadDemo(ctx, io.err);
        const run = (untilCaughtUp: boolean, onBatch?: (n: number) => void) =>
          project({
            pool: ctx.pool,
            url: ctx.url,
            schemas: ctx.store.schemas,
            projections: [...PROJECTIONS],
            untilCaughtUp,
            signal,
            log: io.err,
            refreshEveryMs: 2000,
            onBatch: onBatch && ((b) => onBatch(b.events)),
          });
        const head = await headPosition(ctx.pool);
        const progress = io.tty ? new Progress('projecting', io.err, await eventsToFold(ctx.pool, PROJECTIONS.map((x) => x.name), '0/1', head)) : undefined;
        const r = await run(true, (n) => progress?.tick(n));
        if (r.events) progress ? progress.done() : io.err(`projected ${r.events} events`);
        await status.run({ values: {}, positionals: [] }, io);
        await printFunnel(ctx.pool, io.out);
        await printMailboxes(ctx.pool, io.out);
        if (p.values['no-follow'] || signal.aborted) return 0;
        io.err('\nfollowing new events (append with `npx floe append FILE` in another terminal); Ctrl-C to stop');
        await run(false, (n) => io.err(`projected ${n} new event(s)`));
        return 0;
      }, undefined, stops);
    } finally {
      await ctx.close();
    }
  },
};

async function loadDemo(ctx: Context, log: (m: string) => void): Promise<void> {
  const head = await ctx.store.head();
  if (head.count > 0) {
    log(`store already holds ${head.count.toLocaleString('en-US')} events`);
    return;
  }
  const opts = { ...DEMO, start: demoStart() };
  log(`empty store: appending a demo month (${opts.tenants} tenants, ${opts.emails} emails from ${opts.start})`);
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
  log(`appended ${total.toLocaleString('en-US')} events`);
}

const pct = (n: number, d: number) => (d > 0 ? `${((100 * n) / d).toFixed(1)}%` : '-');

function table(out: (s: string) => void, title: string, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  out(`\n${title}`);
  out(header.map((h, i) => h.padEnd(widths[i])).join('  '));
  for (const r of rows) out(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
}

async function printFunnel(pool: Pool, out: (s: string) => void): Promise<void> {
  const { rows } = await pool.query(`
    SELECT campaign_id, sum(sent)::int AS sent, sum(delivered)::int AS delivered, sum(opened_tracked)::int AS opened,
           sum(human_opened)::int AS human, sum(clicked_tracked)::int AS clicked, sum(replied)::int AS replied
      FROM campaign_analytics GROUP BY campaign_id ORDER BY sent DESC LIMIT 10`);
  table(
    out,
    'Campaign funnel (top 10 by emails sent; rates of sent)',
    ['campaign', 'sent', 'delivered', 'opened', 'human opened', 'clicked', 'replied'],
    rows.map((r) => [
      String(r.campaign_id).slice(0, 36),
      String(r.sent),
      `${r.delivered} ${pct(r.delivered, r.sent)}`,
      `${r.opened} ${pct(r.opened, r.sent)}`,
      `${r.human} ${pct(r.human, r.sent)}`,
      `${r.clicked} ${pct(r.clicked, r.sent)}`,
      `${r.replied} ${pct(r.replied, r.sent)}`,
    ]),
  );
}

async function printMailboxes(pool: Pool, out: (s: string) => void): Promise<void> {
  const { rows } = await pool.query(`
    SELECT mailbox_id, sum(sent)::int AS sent, sum(bounced)::int AS bounced, sum(spam_complaints)::int AS complaints,
           max(current_volume)::int AS peak_volume,
           (array_agg(health_score ORDER BY day DESC) FILTER (WHERE health_score IS NOT NULL))[1] AS health
      FROM mailbox_analytics GROUP BY mailbox_id ORDER BY sent DESC LIMIT 10`);
  table(
    out,
    'Mailboxes (top 10 by emails sent)',
    ['mailbox', 'sent', 'bounced', 'complaints', 'peak daily volume', 'latest health'],
    rows.map((r) => [
      String(r.mailbox_id).slice(0, 36),
      String(r.sent),
      `${r.bounced} ${pct(r.bounced, r.sent)}`,
      String(r.complaints),
      String(r.peak_volume),
      r.health === null ? '-' : String(r.health),
    ]),
  );
}
