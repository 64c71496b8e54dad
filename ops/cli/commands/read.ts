import type { RecordedEvent } from '../../../streams/envelope';
import type { ReadOptions } from '../../../streams/store';
import { Command, intOption, stringOption, toJson, UsageError } from '../args';
import { openContext } from '../context';

/** The NDJSON form of a stored event: the envelope with its payload decoded. */
export function envelopeJson(e: RecordedEvent): string {
  return toJson({
    position: e.position,
    id: e.id,
    type: e.type,
    stream: e.stream,
    streamPosition: e.streamPosition,
    tenantId: e.tenantId,
    occurredAt: e.occurredAt.toISOString(),
    recordedAt: e.recordedAt.toISOString(),
    schemaVersion: e.schemaVersion,
    data: e.data,
    metadata: e.metadata,
  });
}

export const read: Command = {
  usage: 'read [--stream S] [--tenant T] [--type-prefix P] [--from POS] [--limit N] [--follow]',
  summary: 'Print stored events as NDJSON envelopes with decoded data',
  options: {
    stream: { type: 'string' },
    tenant: { type: 'string' },
    'type-prefix': { type: 'string' },
    from: { type: 'string' },
    limit: { type: 'string' },
    follow: { type: 'boolean', short: 'f' },
  },
  help: `
Prints events in global order, one JSON object per line:
  {"position","id","type","stream","streamPosition","tenantId","occurredAt","recordedAt","schemaVersion","data","metadata"}
  --stream S        only the stream S (e.g. email-<emailId>, tenant-<tenantId>)
  --tenant T        only tenant T
  --type-prefix P   only types starting with P (e.g. email. or email.opened)
  --from POS        start at global position POS (inclusive; default: the beginning)
  --limit N         stop after N events
  --follow          after the stored events, keep printing new ones as they are appended (Ctrl-C stops)`,
  async run(p, io) {
    const from = stringOption(p, 'from');
    if (from !== undefined && !/^\d+$/.test(from)) throw new UsageError(`--from must be a position (a non-negative integer), got ${JSON.stringify(from)}`);
    const limit = p.values.limit === undefined ? Infinity : intOption(p, 'limit', 0, 1);
    const filter: ReadOptions = {
      after: from === undefined || from === '0' ? 0n : BigInt(from) - 1n,
      stream: stringOption(p, 'stream'),
      tenant: stringOption(p, 'tenant'),
      typePrefix: stringOption(p, 'type-prefix'),
    };
    const ctx = await openContext((m) => io.err(m));
    let printed = 0;
    try {
      if (!p.values.follow) {
        for await (const page of ctx.store.readAll({ ...filter, limit: limit === Infinity ? undefined : limit })) {
          for (const e of page) io.out(envelopeJson(e));
        }
        return 0;
      }
      await new Promise<void>((resolve, reject) => {
        const sub = ctx.store.subscribe(filter, async (batch) => {
          for (const e of batch) {
            if (printed >= limit) break;
            io.out(envelopeJson(e));
            printed++;
          }
          if (printed >= limit) void sub.stop();
        });
        const stop = () => void sub.stop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        sub.done.then(resolve, reject).finally(() => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        });
      });
      return 0;
    } finally {
      await ctx.close();
    }
  },
};
