import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileSync } from 'node:fs';
import { benchAppend, median } from '../../bench/append';
import { databaseUrl } from '../../db/connect';
import { Command, intOption, toJson } from '../args';

const BENCHMARKS_MD = path.join(__dirname, '..', '..', '..', 'BENCHMARKS.md');

export const bench: Command = {
  usage: 'bench [--events N] [--runs R] [--quick] [--json] [--no-write]',
  summary: 'Measure append throughput against the naive baseline and rewrite BENCHMARKS.md',
  options: {
    events: { type: 'string' },
    runs: { type: 'string' },
    quick: { type: 'boolean' },
    json: { type: 'boolean' },
    'no-write': { type: 'boolean' },
  },
  help: `
Append: generated NDJSON parsed, validated, Avro-encoded and appended by Floe in batches of
1,000 with durable commits; beside it, the naive approach (one INSERT per event into a plain
table) on the first 10,000 of the same events. A warm-up, then R measured runs, each on a
fresh database; medians are reported and written to BENCHMARKS.md.
  --events N   events per run (default 200000; --quick: 20000)
  --runs R     measured runs (default 5; --quick: 3)
  --json       print the figures as JSON
  --no-write   do not rewrite BENCHMARKS.md`,
  async run(p, io) {
    const quick = Boolean(p.values.quick);
    const events = intOption(p, 'events', quick ? 20_000 : 200_000, 1000);
    const runs = intOption(p, 'runs', quick ? 3 : 5, 1);
    const url = await databaseUrl((m) => io.err(m));
    const results = await benchAppend({ url, events, runs, batchSize: 1000, naiveEvents: Math.min(10_000, events), log: (m) => io.err(m) });
    const summary = {
      date: new Date().toISOString().slice(0, 10),
      machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.cpus()[0]?.model ?? 'unknown cpu'}`,
      events,
      runs,
      append: {
        floe: Math.round(median(results.map((r) => r.floe))),
        naive: Math.round(median(results.map((r) => r.naive))),
        prepare: Math.round(median(results.map((r) => r.prepare))),
        all: results.map((r) => ({ floe: Math.round(r.floe), naive: Math.round(r.naive) })),
      },
    };
    if (p.values.json) io.out(toJson(summary));
    else io.out(`append: floe ${summary.append.floe} events/s (median of ${runs}), naive ${summary.append.naive} events/s, ratio ${(summary.append.floe / summary.append.naive).toFixed(1)}x`);
    if (!p.values['no-write'] && !quick) writeFileSync(BENCHMARKS_MD, report(summary));
    return 0;
  },
};

function report(s: { date: string; machine: string; events: number; runs: number; append: { floe: number; naive: number; prepare: number; all: Array<{ floe: number; naive: number }> } }): string {
  const target = 50_000;
  return `# Benchmarks

Written by \`npm run bench\` on ${s.date}. Machine: ${s.machine} (shared, noisy: compare ratios
measured in the same run). PostgreSQL: the embedded server (17), \`synchronous_commit = on\`.

## Append

${s.events.toLocaleString('en-US')} generated events per run (the \`floe generate\` workload), parsed, validated,
Avro-encoded and appended in batches of 1,000, each batch one durable transaction; median of
${s.runs} runs after a warm-up, each run on a fresh database.

| contender | events/s (median) | ratio |
| --- | ---: | ---: |
| Floe \`appendPrepared\`, batches of 1,000 | ${s.append.floe.toLocaleString('en-US')} | ${(s.append.floe / s.append.naive).toFixed(1)}× |
| naive: one INSERT per event, plain table, autocommit | ${s.append.naive.toLocaleString('en-US')} | 1.0× |

Runs: ${s.append.all.map((r) => `${r.floe.toLocaleString('en-US')}`).join(', ')} (Floe); client-side parse + validate + encode alone: ${s.append.prepare.toLocaleString('en-US')} events/s.

Target: ${target.toLocaleString('en-US')} events/s — ${s.append.floe >= target ? 'met' : `**missed** (${((100 * s.append.floe) / target).toFixed(0)}% of it)`}.

Reproduce: \`npm run bench\` (or \`npx floe bench --events 200000 --runs 5\`).

### Where the time goes

Profiled on 85,000 events (one process, batches of 1,000): the Node.js side (parse, validate,
Avro-encode, build the binary COPY) runs at about 120,000 events/s and is idle most of the
time; the server is the bottleneck. Per batch: the id/stream-head lookup about 6 ms, the COPY
about 25 ms, the commit about 4 ms. Inserting the same 85,000 rows server-side with
\`INSERT … SELECT\` takes 1.36 s with the five indexes \`floe.events\` carries (primary key,
unique event id, unique (stream, stream position), tenant, type) against 0.79 s without the
tenant and type indexes and 0.18 s into a bare heap: index maintenance, mostly on random
UUIDs and stream names, dominates. Appends are serialised by the append lock (positions are
handed out in commit order, see README), so the second core helps only the client side.
Overlapping client preparation with the previous batch's COPY gave no measurable gain.
`;
}
