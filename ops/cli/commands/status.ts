import { Command, toJson } from '../args';
import { openContext } from '../context';
import { redact } from '../../db/connect';
import { projectionStatus } from '../../../projections/runtime/status';

export const status: Command = {
  usage: 'status [--json]',
  summary: 'Show the database in use, the store head, and per projection and shard: version, position, lag, parked events, dead letters, ignored sends',
  options: { json: { type: 'boolean' } },
  help: `
One line per projection and shard (kafka:TOPIC/P for a partition of floe project --source
kafka): its version, position, lag (head position minus its position), the events its lane
holds parked, its lane's open dead letters, and the later email.sent of emails already
counted that its lane ignored (counted nowhere: see Counting rules in the README) while the
projection was in it (a projection that joined the lane later shows fewer).

  --json   one JSON object: {"database","head":{"position","count"},"schemas",
           "projections":[{"name","version","shard","position","lag","parked","deadLetters","ignoredSends","kafka"?}]}
           A Kafka shard (kafka:TOPIC/P, floe project --source kafka) is one partition of the
           topic: its lag counts the partition's messages after its offset when its last batch
           was fetched, and "kafka" is {"topic","partition","offset","highWatermark"}.`,
  async run(p, io) {
    const ctx = await openContext((m) => io.err(m));
    try {
      const head = await ctx.store.head();
      const { rows } = await ctx.pool.query<{ n: string }>('SELECT count(*) AS n FROM floe.event_schemas');
      const projections = (await projectionStatus(ctx.pool, head.position)).map(({ lane: _lane, updatedAt: _u, ...p }) => p);
      const report = { database: redact(ctx.url), head, schemas: Number(rows[0].n), projections };
      if (p.values.json) io.out(toJson(report));
      else {
        io.out(`database   ${report.database}`);
        io.out(`events     ${head.count.toLocaleString('en-US')} (head position ${head.position})`);
        io.out(`schemas    ${report.schemas} registered`);
        if (!projections.length) io.out('projections none yet (floe project)');
        for (const x of projections) {
          io.out(
            `projection ${x.name.padEnd(26)} v${x.version} shard ${x.shard}  position ${x.position}  lag ${x.lag}` +
              `  parked ${x.parked}  dead letters ${x.deadLetters}  ignored sends ${x.ignoredSends}` +
              (x.kafka ? `  (offset ${x.kafka.offset} of ${x.kafka.highWatermark}; lag in messages)` : ''),
          );
        }
      }
      return 0;
    } finally {
      await ctx.close();
    }
  },
};
