/**
 * `npm start` (floe start) as a newcomer runs it: on an empty database it migrates, appends the
 * demo month, projects it, prints a campaign funnel and a mailbox table that agree with the
 * tables, then follows: an event appended from elsewhere is projected while it runs, and
 * Ctrl-C ends it cleanly. Run again, it loads nothing twice.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { useDatabase } from '../helpers/backends';
import { exited, floe, floeChild } from '../helpers/cli';

describe('floe start (npm start)', function () {
  this.timeout(300_000);
  const db = useDatabase({ migrate: false });

  it('loads, projects and shows the demo month, follows new events, and stops on Ctrl-C; run again, it loads nothing twice', async function () {
    if (!db.url) return this.skip();
    const child = floeChild(db.url, ['start']);
    const done = exited(child);
    let err = '';
    let out = '';
    child.stderr!.on('data', (c) => (err += c));
    child.stdout!.on('data', (c) => (out += c));
    const until = async (what: () => boolean, label: string) => {
      for (let i = 0; i < 2400 && !what(); i++) {
        if (child.exitCode !== null) throw new Error(`floe start exited ${child.exitCode} before ${label}:\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(what(), `${label}:\n${err}`).to.equal(true);
    };
    await until(() => err.includes('following new events'), 'following');
    expect(err).to.match(/empty store: appending a demo month \(4 tenants, 20000 emails from \d{4}-\d{2}-01\)/);

    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      // The funnel's first row is a campaign with the most sends, with the table's figures.
      const funnel = out.split('\n');
      const header = funnel.findIndex((l) => l.startsWith('Campaign funnel'));
      expect(header, out).to.be.at.least(0);
      const [campaign, sent, delivered] = funnel[header + 2].split(/\s+/);
      const { rows: [top] } = await c.query(
        `SELECT campaign_id, sum(sent)::int AS sent, sum(delivered)::int AS delivered,
                (SELECT max(n) FROM (SELECT sum(sent)::int AS n FROM campaign_analytics GROUP BY campaign_id) m) AS most
           FROM campaign_analytics WHERE campaign_id = $1 GROUP BY 1`,
        [campaign],
      );
      expect([sent, delivered]).to.deep.equal([String(top.sent), String(top.delivered)]);
      expect(top.sent).to.equal(top.most);
      expect(out).to.contain('Mailboxes (top 10 by emails sent)');

      // Following: one more send of that campaign, appended from another process.
      const { rows: [sample] } = await c.query(`SELECT tenant_id FROM campaign_analytics WHERE campaign_id = $1 LIMIT 1`, [top.campaign_id]);
      const file = path.join(os.tmpdir(), `floe-start-${process.pid}.ndjson`);
      const occurredAt = new Date().toISOString();
      writeFileSync(
        file,
        JSON.stringify({ type: 'email.sent', tenantId: sample.tenant_id, occurredAt, data: { emailId: 'start-spec-email', campaignId: top.campaign_id, mailboxId: 'start-spec-mailbox', leadId: 'start-spec-lead' } }) + '\n',
      );
      const appended = floe(db.url, ['append', file]);
      expect(appended.code, appended.err).to.equal(0);
      await until(() => /projected 1 new event\(s\)/.test(err), 'the appended event projected');
      const { rows: [now] } = await c.query(`SELECT sum(sent)::int AS sent FROM campaign_analytics WHERE campaign_id = $1`, [top.campaign_id]);
      expect(now.sent).to.equal(top.sent + 1);
      const { rows: [head] } = await c.query(`SELECT count(*)::int AS n FROM floe.events`);

      child.kill('SIGINT');
      const r = await done;
      expect(r.code, r.err).to.equal(0);

      const again = floe(db.url, ['start', '--no-follow']);
      expect(again.code, again.err).to.equal(0);
      expect(again.err).to.contain(`store already holds ${head.n.toLocaleString('en-US')} events`).and.not.contain('appending a demo month');
      const { rows: [after] } = await c.query(`SELECT count(*)::int AS n FROM floe.events`);
      expect(after.n).to.equal(head.n);
    } finally {
      await c.end();
    }
  });
});
