/**
 * Global order under concurrency: many writers commit batches of random size after random
 * delays inside their transactions, while a live follower reads. The follower must see
 * every event exactly once, positions strictly increasing, each stream in order. Half the
 * writers chain their batches (`after`), looking each one up while the previous commits, as
 * `floe append` does: the others' commits in between must send them back to a lookup under
 * the lock.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { PostgresEventStore } from '../../streams/postgres';
import { prepareEvent } from '../../streams/prepare';
import type { AppendInput, AppendResult } from '../../streams/store';
import { useDatabase } from '../helpers/backends';

const WRITERS = 8;
const EVENTS_PER_WRITER = 2600; // 20,800 in all

describe('concurrent writers and a live follower', function () {
  this.timeout(180_000);
  const db = useDatabase();

  it('never makes the follower skip or repeat an event', async () => {
    const follower = await PostgresEventStore.open(db.url);
    const seen: Array<{ id: string; position: bigint; stream: string; streamPosition: number }> = [];
    const sub = follower.subscribe({ batchSize: 500, pollMs: 20 }, async (batch) => {
      for (const e of batch) seen.push({ id: e.id, position: e.position, stream: e.stream, streamPosition: e.streamPosition });
    });
    let rand = 12345;
    const random = () => ((rand = (rand * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const written: string[] = [];
    const writer = async (w: number) => {
      const store = await PostgresEventStore.open(db.url);
      let previous: Promise<AppendResult | null> = Promise.resolve(null);
      try {
        let left = EVENTS_PER_WRITER;
        while (left > 0) {
          const size = Math.min(left, 1 + Math.floor(random() * 300));
          const batch: AppendInput[] = [];
          for (let i = 0; i < size; i++) {
            // Shared streams across writers (tenant streams and a few hot emails) as well as private ones.
            const hot = random() < 0.2;
            const emailId = hot ? `hot-${Math.floor(random() * 5)}` : `w${w}-${left - i}`;
            batch.push({ id: randomUUID(), type: 'email.opened', tenantId: `t${w % 3}`, occurredAt: '2026-03-01T10:00:00.000Z', data: { emailId } });
          }
          const delay = Math.floor(random() * 25);
          const beforeCommit = () => new Promise<void>((r) => setTimeout(r, delay));
          if (w % 2) {
            const events = batch.map((e) => prepareEvent(store.catalog, e));
            const before = previous;
            previous = store.appendPrepared(events, { after: before, beforeCommit });
            previous.catch(() => {}); // awaited by the next batch or below
            await before; // at most two in flight: this one is looked up while the previous commits
          } else await store.append(batch, { beforeCommit });
          written.push(...batch.map((e) => e.id!));
          left -= size;
        }
        await previous;
      } finally {
        await store.close();
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, (_x, w) => writer(w)));
    const deadline = Date.now() + 30_000;
    while (seen.length < written.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await sub.stop();
    await follower.close();

    expect(seen.length).to.equal(WRITERS * EVENTS_PER_WRITER);
    expect(new Set(seen.map((s) => s.id)).size).to.equal(seen.length);
    expect(new Set(seen.map((s) => s.id))).to.deep.equal(new Set(written));
    for (let i = 1; i < seen.length; i++) expect(seen[i].position > seen[i - 1].position, `position order at ${i}`).to.equal(true);
    const next = new Map<string, number>();
    for (const s of seen) {
      expect(s.streamPosition, `stream ${s.stream}`).to.equal(next.get(s.stream) ?? 0);
      next.set(s.stream, s.streamPosition + 1);
    }
  });
});
