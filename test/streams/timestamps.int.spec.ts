/**
 * Reads of events parse timestamptz text with Floe's own parser (streams/postgres/read.ts):
 * it must give node-postgres' instants for whatever PostgreSQL prints, in any session time
 * zone, and a stored event must come back with the instant it was appended with.
 */
import { expect } from 'chai';
import { Client, types } from 'pg';
import { parseTimestamptz } from '../../streams/postgres/read';
import { PostgresEventStore } from '../../streams/postgres';
import { useDatabase } from '../helpers/backends';

const nodePostgres = types.getTypeParser(1184, 'text') as (s: string) => Date;

describe('timestamptz reads', function () {
  this.timeout(60_000);
  const db = useDatabase();

  it('equals node-postgres on what PostgreSQL prints, in zones with hour, half-hour and odd offsets', async () => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      const instants = [
        '2026-01-05T12:34:56.789Z', '2026-03-29T01:00:00Z', '2026-12-31T23:59:59.999Z', '2000-02-29T00:00:00.001Z',
        '1999-12-31T23:59:59.5Z', '2026-06-15T08:00:00.123456Z', '2026-06-15T08:00:00.000001Z', '1970-01-01T00:00:00Z',
        '0999-06-01T00:00:00Z', '0050-06-01T12:00:00Z', '1900-06-01T00:00:00.25Z',
      ];
      let compared = 0;
      for (const zone of ['UTC', 'Europe/Paris', 'America/St_Johns', 'Asia/Kathmandu', 'Pacific/Chatham', 'Africa/Monrovia', 'Europe/Amsterdam']) {
        await c.query(`SET TIME ZONE '${zone}'`);
        const { rows } = await c.query<{ t: string }>({
          text: `SELECT t::text AS t FROM unnest($1::timestamptz[]) AS u(t)
                 UNION ALL SELECT x::text FROM (VALUES ('infinity'::timestamptz), ('-infinity'), ('0044-03-15 12:00:00 BC')) AS v(x)`,
          values: [instants],
        });
        for (const { t } of rows) {
          const ours = parseTimestamptz(t);
          const theirs = nodePostgres(t);
          expect(ours instanceof Date ? ours.getTime() : ours, `${zone}: ${t}`).to.deep.equal(theirs instanceof Date ? theirs.getTime() : theirs);
          compared++;
        }
      }
      expect(compared).to.equal(7 * (instants.length + 3));
      // The instants themselves, not only agreement: printed in UTC and Kathmandu (+05:45).
      expect(parseTimestamptz('2026-06-15 13:45:00.123456+05:45').toISOString()).to.equal('2026-06-15T08:00:00.123Z');
      expect(parseTimestamptz('2026-01-05 12:34:56.789+00').toISOString()).to.equal('2026-01-05T12:34:56.789Z');
      expect(parseTimestamptz('2026-01-05 09:04:56-03:30').toISOString()).to.equal('2026-01-05T12:34:56.000Z');
      expect(parseTimestamptz('1900-06-01 00:19:32.25+00:19:32').toISOString()).to.equal('1900-06-01T00:00:00.250Z');
      for (const t of ['1900-06-01 00:19:32.25+00:19:32', '1900-06-01 00:19:32-00:19:32', '2026-01-05 12:34:56.7+01', '12345-01-01 00:00:00+00', '2026-01-05 12:34:56', '2026-01-05']) {
        expect(parseTimestamptz(t)?.getTime(), t).to.equal(nodePostgres(t)?.getTime());
      }
    } finally {
      await c.end();
    }
  });

  it('gives back the occurredAt an event was appended with', async () => {
    const store = await PostgresEventStore.open(db.url);
    try {
      const at = ['2026-01-05T12:34:56.789Z', '2026-02-01T00:00:00.000Z', '2026-02-28T23:59:59.001Z'];
      await store.append(at.map((occurredAt, i) => ({ type: 'tenant.created', tenantId: `t-${i}`, occurredAt, data: { name: `Tenant ${i}` } })));
      const read: string[] = [];
      for await (const page of store.readAll({})) read.push(...page.map((e) => e.occurredAt.toISOString()));
      expect(read).to.deep.equal(at);
    } finally {
      await store.close();
    }
  });
});
