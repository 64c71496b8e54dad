import { createWriteStream, openSync, statSync, WriteStream } from 'node:fs';
import { EarlierAppendFailedError, EventIdConflictError, WrongExpectedVersionError } from '../../../streams/errors';
import type { PreparedEvent } from '../../../streams/prepare';
import type { AppendResult } from '../../../streams/store';
import type { PostgresEventStore } from '../../../streams/postgres';
import { Command, intOption, stringOption, toJson, UsageError, withPath } from '../args';
import { openContext } from '../context';
import { checkInputFile, checkLine, contentDigest, describeReject, isReject, readLines, Reject, spoolStdin } from '../lines';
import { Progress } from '../progress';

const MAX_REPORTED = 20;

/**
 * The store refused a batch (expected version, or an id stored meanwhile with other content):
 * the batches before it are committed, nothing from it on is.
 */
class AppendStopped extends Error {
  constructor(
    message: string,
    readonly totals: Totals,
  ) {
    super(message);
  }
}

interface Totals {
  appended: number;
  duplicates: number;
  rejected: number;
  firstPosition: bigint | null;
  lastPosition: bigint | null;
}

export const append: Command = {
  usage: 'append [FILE|-] [--batch-size N] [--rejects FILE]',
  summary: 'Append NDJSON events (one per line) to the store',
  options: { 'batch-size': { type: 'string' }, rejects: { type: 'string' } },
  positionals: 1,
  help: `
Reads events from FILE, or stdin when FILE is - or absent, one JSON object per line:
  {"id"?, "type", "tenantId", "occurredAt", "data": {...}, "metadata"?, "stream"?, "expectedVersion"?}
Each batch (default 1000 events) is appended atomically. Events whose id is already stored
with the same content are counted as duplicates, not stored again.

Every bad line is reported with its line number, type, id, field path and reason.
  without --rejects  all lines are checked first; if any is bad, nothing is appended (exit 2)
  --rejects FILE     valid lines are appended; each bad line is written to FILE as
                     {"line","id","type","errors":[{"path","message"}],"input"} (exit 0)

Prints one JSON line: {"appended","duplicates","rejected","firstPosition","lastPosition"}.
A batch the store refuses (an expectedVersion that does not hold, an id stored meanwhile with
other content) stops the append there, naming the line: the batches before it stay appended,
the JSON line says how many; run again once fixed (what is stored counts as duplicates, for
lines with an id: lines without one get a new id each time).

Exit codes: 0 done, 1 failure (database, a refused batch), 2 bad input or usage.`,
  async run(p, io) {
    const batchSize = intOption(p, 'batch-size', 1000, 1);
    const rejectsPath = stringOption(p, 'rejects');
    const source = p.positionals[0] ?? '-';
    checkInputFile(source);
    const keepBytes = keepCheckedBytes();
    if (rejectsPath && source !== '-' && sameFile(source, rejectsPath)) {
      throw new UsageError(`--rejects ${rejectsPath} is the input file: writing rejects there would destroy the input`);
    }
    // Opened before anything is read or started: a path that cannot be written is a usage error.
    const rejectsOut = rejectsPath ? createWriteStream('', { fd: withPath('--rejects', rejectsPath, (f) => openSync(f, 'w')) }) : undefined;
    const spool = source === '-' && !rejectsPath ? await spoolStdin() : undefined;
    const file = spool?.file ?? source;
    const ctx = await openContext((m) => io.err(m));
    try {
      let checked: Checked[] | undefined;
      if (!rejectsOut) {
        const { rejects, events } = await checkAll(ctx.store, file, statSync(file).size <= keepBytes);
        checked = events;
        if (rejects.length) {
          rejects.slice(0, MAX_REPORTED).forEach((r) => io.err(describeReject(r)));
          if (rejects.length > MAX_REPORTED) io.err(`… and ${rejects.length - MAX_REPORTED} more bad lines`);
          io.err(`${rejects.length} bad line(s): nothing was appended (use --rejects FILE to append the valid lines)`);
          io.out(toJson({ appended: 0, duplicates: 0, rejected: rejects.length, firstPosition: null, lastPosition: null }));
          return 2;
        }
      }
      const totals = await appendAll(ctx.store, checked ?? checkedLines(ctx.store, file), batchSize, rejectsOut, io);
      io.out(toJson(totals));
      return 0;
    } catch (e) {
      if (!(e instanceof AppendStopped)) throw e;
      io.err(`floe append: ${e.message}`);
      io.out(toJson(e.totals));
      return 1;
    } finally {
      if (rejectsOut) await new Promise((r) => rejectsOut.end(r));
      spool?.cleanup();
      await ctx.close();
    }
  },
};

/** Whether two paths name one file (the second may not exist yet). */
function sameFile(a: string, b: string): boolean {
  const sb = statSync(b, { throwIfNoEntry: false });
  if (!sb) return false;
  const sa = statSync(a);
  return sa.dev === sb.dev && sa.ino === sb.ino;
}

/** An event line that passed the checks, with what reports need of its line. */
interface Checked {
  e: PreparedEvent;
  line: number;
  text: string;
}

/**
 * Files up to this size (`FLOE_APPEND_KEEP_BYTES`, default 64 MiB) are read and checked once:
 * pass 1 keeps the prepared events for pass 2, a few hundred bytes of memory each. Larger
 * ones are read again.
 */
function keepCheckedBytes(): number {
  const v = process.env.FLOE_APPEND_KEEP_BYTES;
  if (v === undefined || v === '') return 64 * 2 ** 20;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`FLOE_APPEND_KEEP_BYTES must be a number of bytes (an integer >= 0), got ${JSON.stringify(v)}`);
  return n;
}

/**
 * Pass 1 (all-or-nothing mode): every line valid, no id reused for other content, in the file
 * or the store. `keep`: also return the prepared events (without their text), for pass 2.
 */
async function checkAll(store: PostgresEventStore, file: string, keep: boolean): Promise<{ rejects: Reject[]; events?: Checked[] }> {
  const rejects: Reject[] = [];
  const events: Checked[] = [];
  const digests = new Map<string, { line: number; digest: string }>();
  // A line repeating an earlier line's id with other content is bad only when the id is not
  // stored: a stored event is what every line of its id is compared with.
  const repeats: Reject[] = [];
  const stored = new Set<string>();
  let chunk: Checked[] = [];
  // The store is asked about one chunk of ids while the next is read and checked.
  let asking: Promise<void> = Promise.resolve();
  const flush = async () => {
    const asked = chunk;
    chunk = [];
    await asking;
    asking = store.findIdConflicts(asked.map((c) => c.e)).then((found) => {
      for (const id of found.stored) stored.add(id);
      for (const c of found.conflicts) {
        const { e, line, text } = asked[c.index];
        rejects.push({ line, id: e.id, type: e.type, errors: [{ path: 'id', message: c.reason }], input: text });
      }
    });
    asking.catch(() => {}); // awaited by the next flush or below
  };
  for await (const line of readLines(file)) {
    const r = checkLine(store.catalog, line);
    if (isReject(r)) {
      rejects.push(r);
      continue;
    }
    const digest = contentDigest(r);
    const first = digests.get(r.id);
    if (first && first.digest !== digest) {
      repeats.push({ line: line.no, id: r.id, type: r.type, errors: [{ path: 'id', message: `line ${first.line} has the same id with different content` }], input: line.text });
    } else if (!first) digests.set(r.id, { line: line.no, digest });
    chunk.push({ e: r, line: line.no, text: line.text });
    if (keep) events.push({ e: r, line: line.no, text: '' });
    if (chunk.length >= 5000) await flush();
  }
  if (chunk.length) await flush();
  await asking;
  for (const r of repeats) if (!stored.has(r.id!)) rejects.push(r);
  return { rejects: rejects.sort((a, b) => a.line - b.line), events: keep ? events : undefined };
}

/** The file's lines, checked: prepared events, and the rejects of bad lines. */
async function* checkedLines(store: PostgresEventStore, file: string): AsyncIterable<Checked | Reject> {
  for await (const line of readLines(file)) {
    const r = checkLine(store.catalog, line);
    yield isReject(r) ? r : { e: r, line: line.no, text: line.text };
  }
}

/** Pass 2: append in batches; with a rejects file, bad lines (and id conflicts) go there. */
async function appendAll(
  store: PostgresEventStore,
  items: Iterable<Checked | Reject> | AsyncIterable<Checked | Reject>,
  batchSize: number,
  rejectsOut: WriteStream | undefined,
  io: Parameters<Command['run']>[1],
): Promise<Totals> {
  const totals: Totals = { appended: 0, duplicates: 0, rejected: 0, firstPosition: null, lastPosition: null };
  const progress = io.tty ? new Progress('append', io.err) : undefined;
  const reject = (r: Reject) => {
    totals.rejected++;
    rejectsOut?.write(toJson(r) + '\n');
  };
  type Pending = Checked[];
  let generated = 0; // committed events whose line had no id (see stopped)
  // The first attempt is chained after the batch before (looked up while that one commits);
  // a retry without the lines the store refused comes after it anyway.
  const flush = async (batch: Pending, after: Promise<AppendResult | null>): Promise<AppendResult | null> => {
    let chained: Promise<AppendResult | null> | undefined = after;
    while (batch.length) {
      try {
        const r = await store.appendPrepared(batch.map((b) => b.e), { after: chained });
        totals.appended += r.appended;
        totals.duplicates += r.duplicates;
        totals.firstPosition ??= r.firstPosition;
        totals.lastPosition = r.lastPosition ?? totals.lastPosition;
        generated += batch.filter((b, i) => b.e.idGenerated && r.results[i].position !== 'duplicate').length;
        progress?.tick(batch.length);
        return r;
      } catch (e) {
        chained = undefined;
        if (e instanceof EarlierAppendFailedError) throw e; // reported by that batch
        if (!rejectsOut) throw stopped(e, batch, totals, generated);
        if (e instanceof EventIdConflictError) {
          const bad = new Set(e.conflicts.map((c) => c.index));
          e.conflicts.forEach((c) => {
            const b = batch[c.index];
            reject({ line: b.line, id: b.e.id, type: b.e.type, errors: [{ path: 'id', message: c.reason }], input: b.text });
          });
          batch = batch.filter((_b, i) => !bad.has(i));
        } else if (e instanceof WrongExpectedVersionError) {
          const i = batch.findIndex((b) => b.e.id === e.context.eventId);
          if (i < 0) throw e;
          const b = batch[i];
          reject({ line: b.line, id: b.e.id, type: b.e.type, errors: [{ path: 'expectedVersion', message: e.message }], input: b.text });
          batch.splice(i, 1);
        } else throw e;
      }
    }
    await after;
    return null;
  };
  // A batch is read and prepared, then looked up, while the one before holds the append lock
  // (at most two in flight); batches still commit in order. A batch the store refuses stops
  // the append: the batches after it are never committed.
  let previous: Promise<AppendResult | null> = Promise.resolve(null);
  let older: Promise<unknown> = previous;
  const send = async (batch: Pending) => {
    await older;
    older = previous;
    previous = flush(batch, previous);
    previous.catch(() => {}); // awaited by the next send or below; keeps an early failure from being unhandled
  };
  let batch: Pending = [];
  let n = 0;
  for await (const r of items) {
    if (isReject(r)) reject(r);
    else batch.push(r);
    // Events checked in pass 1 come without a wait: let the appends' replies in now and then.
    if ((++n & 255) === 0) await new Promise((resolve) => setImmediate(resolve));
    if (batch.length >= batchSize) {
      await send(batch);
      batch = [];
    }
  }
  await send(batch);
  await older;
  await previous;
  progress?.done();
  return totals;
}

/** The error for a batch the store refused without --rejects: which line, and how far the append got. */
function stopped(e: unknown, batch: Array<{ e: PreparedEvent; line: number }>, totals: Totals, generated: number): unknown {
  let where: string;
  if (e instanceof WrongExpectedVersionError) {
    const b = batch.find((x) => x.e.id === e.context.eventId);
    if (!b) return e;
    where = `line ${b.line} (${b.e.type}, id ${b.e.id}): ${e.message} [${e.code}]`;
  } else if (e instanceof EventIdConflictError) {
    where = e.conflicts.map((c) => `line ${batch[c.index].line} (${batch[c.index].e.type}, id ${c.id}): ${c.reason}`).join('; ') + ` [${e.code}]`;
  } else return e;
  const lines = batch.length === 1 ? `line ${batch[0].line}` : `lines ${batch[0].line}-${batch[batch.length - 1].line}`;
  const before = totals.appended + totals.duplicates
    ? `the batches before it are committed (${totals.appended} appended, ${totals.duplicates} duplicates, up to position ${totals.lastPosition ?? '-'}); `
    : '';
  const again =
    generated > 0
      ? `fix the line, and remove lines 1-${batch[0].line - 1} before running again: ${generated} of the events appended had no id (one was generated), so appending them again would store them twice (or give every line an id)`
      : 'fix the line and run again: what is stored already counts as duplicates (or use --rejects FILE)';
  return new AppendStopped(
    `${where}\nnothing from its batch (${lines}) on was appended; ${before}${again}`,
    { ...totals },
  );
}
