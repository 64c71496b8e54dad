import { PROJECTIONS, selectProjections } from '../../../projections';
import { listDeadLetters, retryDeadLetters } from '../../../projections/runtime/deadLetters';
import { SHADOW } from '../../../projections/rebuild';
import { isUuid } from '../../../streams/uuid';
import { Command, Parsed, stringOption, toJson, UsageError } from '../args';
import { openContext } from '../context';

/** --projection NAME: a projection as in floe status (a rebuild's NAME__shadow too); unknown ones fail as in floe project --only. */
function projectionOption(p: Parsed): string | undefined {
  const name = stringOption(p, 'projection');
  if (name !== undefined) selectProjections([name.endsWith(SHADOW) ? name.slice(0, -SHADOW.length) : name]);
  return name;
}

export const deadLettersList: Command = {
  usage: 'dead-letters list [--projection NAME] [--all] [--json]',
  summary: 'List events the projector could not apply, with their errors',
  options: { projection: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' } },
  help: `
A dead letter is an event a projection lane skipped after retries: its fold threw, a write
kept failing for it, or it names another tenant's email. No projection of the lane counted it.

  --projection NAME   only the lane NAME belongs to (names as in floe status; an unknown
                      one is an error, exit 2)
  --all               include resolved ones
Without --json: a header line, then one tab-separated line per dead letter (none: nothing on
stdout; the count is on stderr either way): position, event
id, type, tenant, lane (shard), the projection whose fold threw (or "(every one of the
lane)": a tenant mismatch, or a write no single fold is to blame for), attempts, error.
  --json              one JSON object per line: {"eventId","position","type","tenantId","lane","shard",
                      "projection","error","retriable","attempts","failedAt","resolvedAt"}`,
  async run(p, io) {
    const projection = projectionOption(p);
    const ctx = await openContext((m) => io.err(m));
    try {
      const rows = await listDeadLetters(ctx.pool, { all: p.values.all === true, projection });
      if (!p.values.json && rows.length) io.out(['position', 'event', 'type', 'tenant', 'lane (shard)', 'projection', 'attempts', 'error'].join('\t'));
      for (const d of rows) {
        if (p.values.json) io.out(toJson({ ...d, id: undefined }));
        else {
          // No projection: the whole lane skipped it (a tenant mismatch, or a write no fold is to blame for).
          const cells = [d.position, d.eventId, d.type, d.tenantId, `${d.lane} (${d.shard})`, d.projection ?? '(every one of the lane)', d.attempts, d.error];
          io.out(cells.join('\t') + (d.resolvedAt ? '\t(resolved)' : ''));
        }
      }
      if (!p.values.json) io.err(`${rows.length} dead letter(s)`);
      return 0;
    } finally {
      await ctx.close();
    }
  },
};

export const deadLettersRetry: Command = {
  usage: 'dead-letters retry [--event ID[,ID…]] [--projection NAME] [--json]',
  summary: 'Re-apply dead letters (after fixing their cause)',
  options: { event: { type: 'string' }, projection: { type: 'string' }, json: { type: 'boolean' } },
  help: `
Re-applies open dead letters (all; or those of the given event ids; or those of the lane
--projection NAME belongs to, names as in floe status) through the same path as the
projector, one transaction per lane (one per event when a write fails for the lane's letters
together). Events that fail again stay dead with the new error and one more attempt. An
--event id with no open dead letter is a warning; one that is not a UUID, exit 2.
Events naming another tenant's email are never re-applied. The lane's projector must not be
running (its projections are locked while it runs): stop it, retry, start it again.

Prints {"retried","resolved","stillFailing":[{"eventId","error"}],"skipped":[…]}; exit 1 if any still fails.`,
  async run(p, io) {
    const projection = projectionOption(p);
    const ids = stringOption(p, 'event')?.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const bad = ids?.find((id) => !isUuid(id));
    if (bad !== undefined) throw new UsageError(`--event ${bad}: not an event id (a UUID)`);
    const ctx = await openContext((m) => io.err(m));
    try {
      if (ids) {
        const open = new Set((await listDeadLetters(ctx.pool, { projection })).map((d) => d.eventId));
        for (const id of ids) if (!open.has(id)) io.err(`warning: no open dead letter for event ${id}${projection ? ` in the lane of ${projection}` : ''}`);
      }
      const r = await retryDeadLetters(ctx.pool, ctx.store.schemas, PROJECTIONS, { eventIds: ids, projection });
      io.out(toJson(r));
      return r.stillFailing.length ? 1 : 0;
    } finally {
      await ctx.close();
    }
  },
};
