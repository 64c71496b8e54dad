/**
 * A stop (SIGTERM, Ctrl-C) that reaches a long-running command while it is still connecting to
 * the database is kept: once connected, the command stops as it would have later (exit 0, a
 * run with nothing done). A second stop before then ends the process at once. The connection is
 * held open by a relay in front of the test database, so the stop lands in that window.
 */
import { expect } from 'chai';
import * as net from 'node:net';
import { useDatabase } from '../helpers/backends';
import { exited, floe, floeChild } from '../helpers/cli';

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
});
