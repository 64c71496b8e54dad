import { createWriteStream, openSync, unlinkSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { WorkloadTruth, writeWorkload } from '../../generate';
import { writeTruthTables } from '../../generate/oracle/write';
import { Command, intOption, stringOption, UsageError, withPath } from '../args';

export const generate: Command = {
  usage: 'generate [--seed S] [--tenants N] [--emails M] [--start YYYY-MM-DD] [--days D] [--truth FILE]',
  summary: 'Write a deterministic, realistic workload as NDJSON on stdout',
  options: {
    seed: { type: 'string' },
    tenants: { type: 'string' },
    emails: { type: 'string' },
    start: { type: 'string' },
    days: { type: 'string' },
    truth: { type: 'string' },
  },
  help: `
Generates tenants (subscriptions, billing anchors), companies, domains, mailboxes with
warmups, campaigns with steps, leads and the email lifecycle with realistic rates, plus what
real tracking produces: late opens, machine opens, retried duplicates (same id), out-of-order
arrival, opens before their send, second sends and events naming another tenant's email.
The same arguments always give the same bytes.
  --seed S            default 1
  --tenants N         default 3
  --emails M          emails sent in all, default 1000
  --start YYYY-MM-DD  first day, default 2026-01-01
  --days D            days of sending, default 30
  --truth FILE        also write the expected analytics tables (the oracle) to FILE as
                      NDJSON, one {"table": name, "row": {...}} per line; removed, and
                      exit 1, when stdout is closed before the end (| head)

Example: floe generate --seed 7 --tenants 5 --emails 20000 > events.ndjson && floe append events.ndjson`,
  async run(p) {
    const start = stringOption(p, 'start') ?? '2026-01-01';
    const day = /^\d{4}-\d{2}-\d{2}$/.test(start) ? new Date(`${start}T00:00:00Z`) : undefined;
    if (!day || Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== start) {
      throw new UsageError(`--start must be a date YYYY-MM-DD, got ${JSON.stringify(start)}`);
    }
    const options = {
      seed: stringOption(p, 'seed') ?? '1',
      tenants: intOption(p, 'tenants', 3, 1),
      emails: intOption(p, 'emails', 1000, 0),
      start,
      days: intOption(p, 'days', 30, 1),
    };
    const truthFile = stringOption(p, 'truth');
    // Opened first: a path that cannot be written fails before any event is on stdout.
    const truthFd = truthFile === undefined ? undefined : withPath('--truth', truthFile, (f) => openSync(f, 'w'));
    const truth = truthFd === undefined ? undefined : new WorkloadTruth();
    // A reader that stops early (`| head`) ends the command quietly, but an oracle of events
    // that were never written would pass for the truth of what was: it goes, and exit is 1.
    const stopped = (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE' || truthFile === undefined) return;
      unlinkSync(truthFile);
      process.stderr.write(`floe generate: stdout was closed before the workload was written; ${truthFile} removed (it would describe events that were not written)\n`);
      process.exitCode = 1;
    };
    process.stdout.prependListener('error', stopped);
    await writeWorkload(options, process.stdout, truth);
    process.stdout.removeListener('error', stopped);
    if (truth && truthFd !== undefined) {
      const file = createWriteStream('', { fd: truthFd });
      await writeTruthTables(truth, file);
      file.end();
      await finished(file);
    }
    return 0;
  },
};
