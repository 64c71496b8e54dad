/**
 * Replay benchmark (DESIGN §6): on a copy of the prepared store, fully projected first
 * (untimed), the time of `floe rebuild campaign_analytics` (whole, blue/green), of one
 * `--period` rebuild, and of `floe billing recompute` for the tenant whose event count is
 * closest to RECOMPUTE_TENANT_EVENTS and its busiest period. Each is a CLI child, as a user runs it; medians of `runs`.
 */
import { Client } from 'pg';
import type { PreparedStore } from './projection';
import { floeChild, Log, median, projectSummary, serverCpuSeconds, withCopy } from './shared';

export interface ReplayResult {
  events: number;
  /**
   * `cpu` and `serverCpu`: CPU seconds of the rebuild's process and of PostgreSQL's processes
   * (0 when the server is not on this machine), medians.
   */
  rebuild: { seconds: number[]; median: number; rate: number; cpu: number; serverCpu: number };
  periodRebuild: { period: string; seconds: number[]; median: number };
  recompute: { tenant: string; tenantEvents: number; period: string; seconds: number[]; median: number };
}

/** The tenant size of the recompute target (200,000 events in a 2,000,000-event store). */
export const RECOMPUTE_TENANT_EVENTS = 200_000;

async function timed(url: string, args: string[]): Promise<{ seconds: number; out: string; cpu: number; serverCpu: number }> {
  const server0 = serverCpuSeconds();
  const r = await floeChild(url, args).done;
  const serverCpu = serverCpuSeconds() - server0;
  if (r.code !== 0) throw new Error(`floe ${args.join(' ')} exited ${r.code ?? r.signal}: ${r.err.trim().split('\n').slice(-3).join(' | ')}`);
  return { seconds: r.wallSeconds, out: r.out, cpu: r.cpuSeconds, serverCpu };
}

export async function benchReplay(store: PreparedStore, runs: number, log: Log): Promise<ReplayResult> {
  return withCopy(
    store.url,
    async (url) => {
      log('replay: projecting everything first (not timed)');
      projectSummary(await floeChild(url, ['project', '--until-caught-up', '--json']).done);
      const c = new Client({ connectionString: url });
      await c.connect();
      let tenant: string;
      let tenantEvents: number;
      let month: string;
      let busiest: string;
      try {
        const t = await c.query(`SELECT tenant_id, count(*)::int AS n FROM floe.events GROUP BY 1 ORDER BY abs(count(*) - $1), 2 DESC LIMIT 1`, [
          RECOMPUTE_TENANT_EVENTS,
        ]);
        tenant = t.rows[0].tenant_id;
        tenantEvents = t.rows[0].n;
        const p = await c.query(`SELECT period_start::text AS s FROM billing_analytics WHERE tenant_id = $1 ORDER BY emails_sent DESC LIMIT 1`, [tenant]);
        month = p.rows[0].s.slice(0, 7);
        const m = await c.query(`SELECT to_char(day, 'YYYY-MM') AS m FROM campaign_analytics GROUP BY 1 ORDER BY sum(sent) DESC LIMIT 1`);
        busiest = m.rows[0].m;
      } finally {
        await c.end();
      }
      const rebuild: number[] = [];
      const cpu: number[] = [];
      const serverCpu: number[] = [];
      const period: number[] = [];
      const recompute: number[] = [];
      for (let i = 0; i < runs; i++) {
        log(`replay: run ${i + 1}/${runs}`);
        const whole = await timed(url, ['rebuild', 'campaign_analytics', '--json']);
        rebuild.push(whole.seconds);
        cpu.push(whole.cpu);
        serverCpu.push(whole.serverCpu);
        period.push((await timed(url, ['rebuild', 'campaign_analytics', '--period', busiest, '--json'])).seconds);
        recompute.push((await timed(url, ['billing', 'recompute', '--tenant', tenant, '--period', month, '--json'])).seconds);
      }
      return {
        events: store.events,
        rebuild: { seconds: rebuild, median: median(rebuild), rate: store.events / median(rebuild), cpu: median(cpu), serverCpu: median(serverCpu) },
        periodRebuild: { period: busiest, seconds: period, median: median(period) },
        recompute: { tenant, tenantEvents, period: month, seconds: recompute, median: median(recompute) },
      };
    },
    'replay',
  );
}
