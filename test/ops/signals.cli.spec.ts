/**
 * A stop (SIGTERM, Ctrl-C) that reaches a long-running command while it is still connecting to
 * the database is kept: once connected, the command stops as it would have later (exit 0, a
 * run with nothing done). A second stop before then ends the process at once. The connection is
 * held open by a relay in front of the test database, so the stop lands in that window.
 */
import { expect } from 'chai';
import * as net from 'node:net';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { useDatabase } from '../helpers/backends';
import { exited, floe, floeChild } from '../helpers/cli';
import { useKafka } from '../helpers/kafka';
import { appendLines, useStore, workload } from '../helpers/pipeline';

const FLOE = path.join(__dirname, '..', '..', 'ops', 'cli', 'floe.js');

/** A TCP relay to `target` that tells when a client connects, and relays once released. */
function relay(target: URL) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let connected!: () => void;
  const firstClient = new Promise<void>((r) => (connected = r));
  const sockets: net.Socket[] = [];
  const server = net.createServer((client) => {
    sockets.push(client);
    connected();
    client.pause();
    void released.then(() => {
      const upstream = net.connect(Number(target.port), target.hostname);
      sockets.push(upstream);
      client.pipe(upstream).pipe(client);
      client.resume();
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
  });
  return {
    async listen(): Promise<string> {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const u = new URL(target.toString());
      u.hostname = '127.0.0.1';
      u.port = String((server.address() as net.AddressInfo).port);
      return u.toString();
    },
    firstClient,
    release,
    async close() {
      release();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

describe('stops while a command starts', function () {
  this.timeout(120_000);
  const db = useDatabase();

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`floe project keeps a ${signal} that comes while it connects, and then stops cleanly (exit 0, nothing projected)`, async function () {
      if (!db.url) return this.skip();
      const r = relay(new URL(db.url));
      try {
        const child = floeChild(await r.listen(), ['project', '--until-caught-up', '--json']);
        const done = exited(child);
        await r.firstClient;
        child.kill(signal);
        await new Promise((res) => setTimeout(res, 200));
        r.release();
        const { code, signal: killedBy, out, err } = await done;
        expect(killedBy, err).to.equal(null);
        expect(code, err).to.equal(0);
        expect(JSON.parse(out)).to.include({ events: 0, batches: 0 });
      } finally {
        await r.close();
      }
    });
  }

  it('a second stop before the command has connected ends it at once (exit 143)', async function () {
    if (!db.url) return this.skip();
    const r = relay(new URL(db.url));
    try {
      const child = floeChild(await r.listen(), ['rebuild', 'campaign_analytics']);
      const done = exited(child);
      await r.firstClient;
      child.kill('SIGTERM');
      await new Promise((res) => setTimeout(res, 200));
      child.kill('SIGTERM');
      const { code, err } = await done;
      expect(code, err).to.equal(143);
    } finally {
      await r.close();
    }
    // Nothing was started: no shadow, the projection where it was.
    const status = JSON.parse(floe(db.url, ['status', '--json']).out);
    expect(status.projections.filter((x: { name: string }) => x.name.startsWith('campaign_analytics')).map((x: { name: string; position: number }) => [x.name, x.position])).to.deep.equal([
      ['campaign_analytics', 0],
    ]);
  });

  describe('a Kafka projection worker', () => {
    const k = useKafka();
    it('stopped while it connects, never joins its group and exits 0', async function () {
      if (!db.url || !k.brokers.length) return this.skip();
      const topic = k.unique('stop');
      await k.createTopic(topic, 2);
      const r = relay(new URL(db.url));
      try {
        const child = spawn(process.execPath, [FLOE, 'project', '--source', 'kafka', '--topic', topic, '--group', k.unique('stop'), '--until-caught-up', '--json'], {
          env: { ...process.env, DATABASE_URL: await r.listen(), KAFKA_BROKERS: k.brokers.join(',') },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const done = exited(child);
        await r.firstClient;
        child.kill('SIGTERM');
        await new Promise((res) => setTimeout(res, 200));
        r.release();
        const timeout = setTimeout(() => child.kill('SIGKILL'), 30_000); // it used to spin for ever
        const { code, signal, err } = await done;
        clearTimeout(timeout);
        expect(signal, err).to.equal(null);
        expect(code, err).to.equal(0);
        expect(err).to.not.contain('assigned');
      } finally {
        await r.close();
      }
    });
  });
});

describe('a stop while floe project rebuilds a projection first', function () {
  this.timeout(300_000);
  const h = useStore();

  it('ends like any stop (exit 0), and the next run resumes the rebuild', async function () {
    await appendLines(h.store, workload({ seed: 'stop-rebuild', tenants: 3, emails: 4000, start: '2026-03-01', days: 20 }).lines);
    expect(floe(h.db.url, ['project', '--until-caught-up']).code).to.equal(0);
    // Make one projection stale, as a version bump does: its checkpoint says an older version.
    await h.pool.query(`UPDATE floe.projection_checkpoints SET version = version - 1 WHERE projection = 'campaign_analytics'`);
    const child = floeChild(h.db.url, ['project', '--batch-size', '200']);
    const done = exited(child);
    let err = '';
    child.stderr!.on('data', (c) => (err += c));
    for (let i = 0; i < 600 && !err.includes('rebuilding it blue/green'); i++) await new Promise((res) => setTimeout(res, 50));
    await new Promise((res) => setTimeout(res, 300));
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.match(/rebuild of campaign_analytics stopped at position \d+; run it again to resume/);
    const again = floe(h.db.url, ['project', '--until-caught-up', '--json']);
    expect(again.code, again.err).to.equal(0);
    const status = JSON.parse(floe(h.db.url, ['status', '--json']).out);
    const campaign = status.projections.find((x: { name: string }) => x.name === 'campaign_analytics');
    expect([campaign.lag, status.projections.some((x: { name: string }) => x.name.endsWith('__shadow'))]).to.deep.equal([0, false]);
  });
});
