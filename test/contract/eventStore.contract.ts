/**
 * The contract every EventStore backend must pass (DESIGN §4): append, read, expected
 * version, idempotency, atomicity, ordering, subscriptions. A backend's spec calls
 * `eventStoreContract` with a factory that opens the store on a fresh, empty database.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { EventIdConflictError, ValidationError, WrongExpectedVersionError } from '../../streams/errors';
import type { RecordedEvent } from '../../streams/envelope';
import type { AppendInput, EventStore } from '../../streams/store';

let n = 0;
const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 10, minute)).toISOString();

export function opened(emailId: string, tenantId = 't1', extra: Partial<AppendInput> = {}): AppendInput {
  return { id: randomUUID(), type: 'email.opened', tenantId, occurredAt: at(n++ % 60), data: { emailId, machine: false }, ...extra };
}

export function sent(emailId: string, tenantId = 't1'): AppendInput {
  return { id: randomUUID(), type: 'email.sent', tenantId, occurredAt: at(n++ % 60), data: { emailId, mailboxId: 'm1', leadId: 'l1', campaignId: 'c1' } };
}

async function all(store: EventStore, options = {}): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const page of store.readAll({ ...options, batchSize: 7 })) out.push(...page);
  return out;
}

export function eventStoreContract(name: string, open: () => Promise<{ store: EventStore; cleanup: () => Promise<void> }>): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let cleanup: () => Promise<void>;
    beforeEach(async function () {
      ({ store, cleanup } = await open());
    });
    afterEach(async () => cleanup?.());

    describe('append and read', () => {
      it('stores a batch and reads it back decoded, in order, with stream positions 0..n-1', async () => {
        const events = [sent('e1'), opened('e1'), opened('e1'), sent('e2')];
        const r = await store.append(events);
        expect(r.appended).to.equal(4);
        expect(r.duplicates).to.equal(0);
        const read = await all(store);
        expect(read.map((e) => e.id)).to.deep.equal(events.map((e) => e.id));
        expect(read.map((e) => e.stream)).to.deep.equal(['email-e1', 'email-e1', 'email-e1', 'email-e2']);
        expect(read.map((e) => e.streamPosition)).to.deep.equal([0, 1, 2, 0]);
        expect(read[1].data).to.deep.equal({ emailId: 'e1', machine: false, ip: null, userAgent: null });
        expect(read[0].occurredAt.toISOString()).to.equal(events[0].occurredAt);
        expect(read[0].position).to.equal(r.firstPosition);
        expect(read[3].position).to.equal(r.lastPosition);
        for (let i = 1; i < read.length; i++) expect(read[i].position > read[i - 1].position).to.equal(true);
      });

      it('assigns a UUIDv7 id when the producer gives none', async () => {
        const e = opened('e1');
        delete e.id;
        const r = await store.append([e]);
        expect(r.results[0].id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      });

      it('reads one stream, one tenant, a type prefix, exact types, and from a position', async () => {
        await store.append([sent('e1', 'tA'), opened('e1', 'tA'), sent('e2', 'tB'), opened('e2', 'tB'), { ...sent('x', 'tB'), type: 'email.sent' }]);
        expect((await all(store, { stream: 'email-e2' })).map((e) => e.type)).to.deep.equal(['email.sent', 'email.opened']);
        expect((await all(store, { tenant: 'tA' })).map((e) => e.stream)).to.deep.equal(['email-e1', 'email-e1']);
        expect((await all(store, { typePrefix: 'email.op' })).length).to.equal(2);
        expect((await all(store, { typePrefix: 'email.' })).length).to.equal(5);
        expect((await all(store, { tenant: 'tB', types: ['email.opened', 'lead.imported'] })).map((e) => e.stream)).to.deep.equal(['email-e2']);
        const everything = await all(store);
        const after = await all(store, { after: everything[2].position });
        expect(after.map((e) => e.id)).to.deep.equal(everything.slice(3).map((e) => e.id));
      });

      it('reports the head position and count', async () => {
        expect(await store.head()).to.deep.equal({ position: 0n, count: 0 });
        const r = await store.append([sent('e1'), sent('e2')]);
        expect(await store.head()).to.deep.equal({ position: r.lastPosition, count: 2 });
      });
    });

    describe('expected version', () => {
      it('accepts a matching version, no_stream on a new stream, stream_exists on an existing one', async () => {
        await store.append([sent('e1')], { expectedVersion: 'no_stream' });
        await store.append([opened('e1')], { expectedVersion: 0 });
        await store.append([opened('e1')], { expectedVersion: 'stream_exists' });
        await store.append([opened('e1')], { expectedVersion: 'any' });
        expect((await all(store, { stream: 'email-e1' })).map((e) => e.streamPosition)).to.deep.equal([0, 1, 2, 3]);
      });

      it('rejects a conflict with a typed error naming stream, expected and actual, storing nothing', async () => {
        await store.append([sent('e1'), opened('e1')]);
        const err = await store.append([sent('e9'), opened('e1')], { expectedVersion: 5 }).catch((e) => e);
        expect(err).to.be.instanceOf(WrongExpectedVersionError);
        expect(err.stream).to.equal('email-e9');
        expect(err.expected).to.equal(5);
        expect(err.actual).to.equal(-1);
        const err2 = await store.append([opened('e1')], { expectedVersion: 'no_stream' }).catch((e) => e);
        expect(err2).to.be.instanceOf(WrongExpectedVersionError);
        expect(err2.message).to.contain('email-e1').and.contain('no_stream').and.contain('actual 1');
        const err3 = await store.append([opened('e7')], { expectedVersion: 'stream_exists' }).catch((e) => e);
        expect(err3).to.be.instanceOf(WrongExpectedVersionError);
        expect((await store.head()).count).to.equal(2);
      });

      it('checks a per-event expected version against the events before it in the same call', async () => {
        await store.append([{ ...sent('e1'), expectedVersion: 'no_stream' }, { ...opened('e1'), expectedVersion: 0 }]);
        const err = await store.append([opened('e1'), { ...opened('e1'), expectedVersion: 1 }]).catch((e) => e);
        expect(err).to.be.instanceOf(WrongExpectedVersionError);
        expect(err.actual).to.equal(2);
        expect((await store.head()).count).to.equal(2);
      });
    });

    describe('idempotency', () => {
      it('stores an event id once and reports repeats as duplicates', async () => {
        const batch = [sent('e1'), opened('e1')];
        const first = await store.append(batch);
        const again = await store.append([...batch, batch[1]]);
        expect(first).to.include({ appended: 2, duplicates: 0 });
        expect(again).to.include({ appended: 0, duplicates: 3 });
        expect(again.firstPosition).to.equal(null);
        const mixed = await store.append([batch[0], opened('e1')]);
        expect(mixed).to.include({ appended: 1, duplicates: 1 });
        expect((await store.head()).count).to.equal(3);
      });

      it('refuses an id stored with different content, storing nothing of the call', async () => {
        const e = opened('e1');
        await store.append([e]);
        const err = await store.append([opened('e2'), { ...e, data: { emailId: 'e1', machine: true } }]).catch((x) => x);
        expect(err).to.be.instanceOf(EventIdConflictError);
        expect(err.message).to.contain(e.id!);
        expect((await store.head()).count).to.equal(1);
      });

      it('counts a retried event with metadata as a duplicate, as stored (-0 is 0, undefined members dropped)', async () => {
        const e = { ...sent('e1'), metadata: { attempt: -0, note: undefined, source: 'retry-test' } };
        await store.append([e]);
        expect(await store.append([e])).to.include({ appended: 0, duplicates: 1 });
      });

      it('ignores an expected version on a duplicate, so a retried append succeeds', async () => {
        const e = sent('e1');
        await store.append([e], { expectedVersion: 'no_stream' });
        const retry = await store.append([e], { expectedVersion: 'no_stream' });
        expect(retry).to.include({ appended: 0, duplicates: 1 });
      });
    });

    describe('atomicity', () => {
      it('stores nothing of a batch with one invalid event', async () => {
        const bad = { ...opened('e2'), data: { emailId: 'e2', machine: 'yes' } };
        const err = await store.append([sent('e1'), bad]).catch((x) => x);
        expect(err).to.be.instanceOf(ValidationError);
        expect(err.issues[0].path).to.equal('data.machine');
        expect((await store.head()).count).to.equal(0);
      });
    });

    describe('subscriptions', () => {
      it('catches up, then delivers live appends in order, exactly once', async () => {
        await store.append([sent('e1'), opened('e1')]);
        const seen: string[] = [];
        let caughtUp!: () => void;
        const isCaughtUp = new Promise<void>((r) => (caughtUp = r));
        const sub = store.subscribe({ batchSize: 3, pollMs: 50, onCaughtUp: () => caughtUp() }, async (batch) => {
          seen.push(...batch.map((e) => e.id));
        });
        await isCaughtUp;
        expect(seen.length).to.equal(2);
        const live = [opened('e1'), opened('e1'), sent('e3'), opened('e3')];
        await store.append(live.slice(0, 2));
        await store.append(live.slice(2));
        const deadline = Date.now() + 5000;
        while (seen.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        await sub.stop();
        const stored = (await all(store)).map((e) => e.id);
        expect(seen).to.deep.equal(stored);
      });
    });
  });
}
