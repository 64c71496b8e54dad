/**
 * Binary COPY out (streams/postgres/copyOut.ts) must read the very values node-postgres reads
 * from the same rows in text: instants before 1970 and 2000 with microseconds, ±infinity,
 * 64-bit integers, UUIDs, non-ASCII text (interned or not), jsonb, bytea of every byte, NULLs,
 * in a session time zone that is not UTC; tuples cut across the stream's chunks; a server
 * error mid-way fails the read and the connection stays usable.
 */
import { expect } from 'chai';
import { Client } from 'pg';
import { copyOut, int8, int8Number, jsonb, text, TextInterner, timestamptz, uuid } from '../../streams/postgres/copyOut';
import { useDatabase } from '../helpers/backends';

const ROWS = `
  SELECT * FROM (VALUES
    (1, '2026-01-05 12:34:56.789123+00'::timestamptz, 9223372036854775807::bigint, '0b7f7c2e-8d1a-4c55-9a0e-6f3c2b1d4e5f'::uuid, 'email.opened', '{"a": [1, "é"], "b": null}'::jsonb, '\\x00ff10'::bytea),
    (2, '1999-12-31 23:59:59.9995+00', -9223372036854775808, 'ffffffff-ffff-4fff-bfff-ffffffffffff', 'é "quoted" \\ 🙂', NULL, ''::bytea),
    (3, '1969-07-20 20:17:40.000001+00', 9007199254740993, NULL, '', '"a JSON string"', NULL),
    (4, 'infinity', 0, '00000000-0000-0000-0000-000000000000', 'email.opened', '[]', '\\x0102'::bytea),
    (5, '-infinity', -1, NULL, NULL, '{}', '\\x'::bytea),
    (6, '2000-01-01 00:00:00+00', 1, NULL, 'tenant-é', NULL, '\\xdeadbeef'::bytea)
  ) AS v(n, at, big, id, label, doc, bytes)`;

describe('binary COPY out', function () {
  const db = useDatabase();
  let client: Client;

  before(async function () {
    if (!db.url) return this.skip();
    client = new Client({ connectionString: db.url });
    await client.connect();
    await client.query(`SET TIME ZONE 'America/Los_Angeles'`);
  });
  after(async () => {
    await client?.end();
  });

  it('reads every value as node-postgres reads its text form', async () => {
    const { rows: expected } = await client.query(`SELECT n, at, big::text, id::text, label, doc, bytes FROM (${ROWS}) r ORDER BY n`);
    const labels = new TextInterner();
    const read: unknown[] = [];
    const count = await copyOut(client, `SELECT n::bigint, at, big, id, label, doc, bytes FROM (${ROWS}) r ORDER BY n`, 7, (b, at, len) => {
      read.push({
        n: int8Number(b, at[0]),
        at: timestamptz(b, at[1]),
        big: int8(b, at[2]).toString(),
        id: len[3] < 0 ? null : uuid(b, at[3]),
        label: len[4] < 0 ? null : labels.get(b, at[4], len[4]),
        doc: jsonb(b, at[5], len[5]),
        bytes: len[6] < 0 ? null : Buffer.from(b.subarray(at[6], at[6] + len[6])),
      });
    });
    expect(count).to.equal(expected.length);
    expect(read).to.deep.equal(expected);
    // Milliseconds truncated toward the past; ±infinity the numbers ±Infinity, as node-postgres reads them.
    expect(read.map((r) => (r as { at: Date }).at.valueOf())).to.deep.equal([1767616496789, 946684799999, -14182940000, Infinity, -Infinity, 946684800000]);
  });

  it('reads uuids in their text form, every digit in its place', async () => {
    const sql = `SELECT n, md5(n::text)::uuid AS id FROM generate_series(1, 3000) n`;
    const { rows } = await client.query(`SELECT id::text FROM (${sql}) r ORDER BY n`);
    const read: string[] = [];
    await copyOut(client, `SELECT id FROM (${sql}) r ORDER BY n`, 1, (b, at) => read.push(uuid(b, at[0])));
    expect(read).to.deep.equal(rows.map((r) => r.id));
  });

  it('interns equal text as one string, and tells apart texts that differ in one byte or in length', () => {
    const labels = new TextInterner();
    const b = Buffer.from('email.openedemail.openeEemail.opened🙂🙂é');
    const first = labels.get(b, 0, 12);
    expect(first).to.equal('email.opened');
    expect(labels.get(b, 24, 12)).to.equal(first);
    expect(labels.get(b, 12, 12)).to.equal('email.openeE');
    expect(labels.get(b, 0, 11)).to.equal('email.opene');
    expect(labels.get(b, 36, 4)).to.equal('🙂');
    expect(labels.get(b, 40, 4)).to.equal('🙂');
    expect(labels.get(b, 44, 2)).to.equal('é');
    expect(text(b, 36, 10)).to.equal('🙂🙂é');
  });

  it('reads tuples cut across chunks: 20,000 rows of up to 2 kB, each value where it belongs', async () => {
    const sums: number[] = [];
    const ns: number[] = [];
    const count = await copyOut(
      client,
      `SELECT n::bigint, decode(repeat(lpad(to_hex(n % 256), 2, '0'), n % 2000), 'hex') FROM generate_series(1, 20000) n ORDER BY n`,
      2,
      (b, at, len) => {
        ns.push(int8Number(b, at[0]));
        let s = 0;
        for (let i = at[1]; i < at[1] + len[1]; i++) s += b[i];
        sums.push(s);
      },
    );
    expect(count).to.equal(20_000);
    expect(ns).to.deep.equal(Array.from({ length: 20_000 }, (_, i) => i + 1));
    expect(sums).to.deep.equal(ns.map((n) => (n % 256) * (n % 2000)));
  });

  it('fails with the server’s error part-way, and the connection answers afterwards', async () => {
    let seen = 0;
    const error = await copyOut(client, `SELECT 1 / (5000 - n) FROM generate_series(1, 10000) n`, 1, () => seen++).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).to.match(/division by zero/);
    expect(seen).to.be.below(5000);
    expect((await client.query('SELECT 2 AS two')).rows[0].two).to.equal(2);
  });

  it('fails with the reader’s error once the statement is drained, and the connection answers afterwards', async () => {
    const error = await copyOut(client, `SELECT n FROM generate_series(1, 10000) n`, 1, (b, at) => {
      if (b.readInt32BE(at[0]) === 17) throw new Error('row 17 is bad');
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).to.equal('row 17 is bad');
    expect((await client.query('SELECT 3 AS three')).rows[0].three).to.equal(3);
  });
});
