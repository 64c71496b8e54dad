/**
 * Binary arrays and COPY rows (streams/postgres/binary.ts) must reach PostgreSQL as the
 * very values their text forms do: every type, NULLs, instants before 1970 and 2000,
 * non-ASCII text, in a session time zone that is not UTC.
 */
import { expect } from 'chai';
import { Client } from 'pg';
import { encodeArray } from '../../streams/postgres/binary';
import { arrayLiteral, copyRows, queryArrays } from '../../projections/runtime/sql';
import { useDatabase } from '../helpers/backends';

const SAMPLES: Record<string, unknown[]> = {
  // ASCII copied by hand up to 64 units, the runtime's encoder past that or at the first non-ASCII unit
  text: ['a', '', 'é "quoted" \\ back\\slash, {braces}', null, 'NULL', '🙂', 42, 'x'.repeat(64), 'y'.repeat(65), 'ascii first, then é', '€'.repeat(64), 'z'.repeat(5000)],
  int: [0, -1, 2147483647, -2147483648, null, '17'],
  bigint: [0n, -1n, 9007199254740993n, '-9223372036854775808', 12, null],
  boolean: [true, false, null],
  date: ['2026-01-31', '1999-12-31', '2000-01-01', '1970-01-01', '0999-06-01', null],
  // (beyond about 285 years from 2000, microseconds no longer fit a double exactly: 1500 and 9999 take the other path)
  timestamptz: [Date.UTC(2026, 0, 5, 12, 34, 56, 789), 0, -1, Date.UTC(2200, 5, 1, 0, 0, 0, 1), Date.UTC(1800, 0, 1, 23, 59, 59, 999), Date.UTC(1500, 0, 1), Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(1999, 11, 31, 23, 59, 59, 999), new Date(Date.UTC(2000, 1, 29)), '2026-03-29T01:00:00.5Z', '2026-03-29T01:00:00+00:00', null],
  uuid: ['0b7f7c2e-8d1a-4c55-9a0e-6f3c2b1d4e5f', null, 'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF'],
  jsonb: [{ a: 1, b: [true, null, 'x'] }, null, '{"already": "JSON text"}', '"a JSON string"'],
};

/** The value as callers sent it in text before: epoch ms as ISO strings, JSON values stringified (a string is JSON text). */
const asText = (type: string, v: unknown): unknown =>
  v === null ? null
  : type === 'timestamptz' && typeof v === 'number' ? new Date(v).toISOString()
  : type === 'jsonb' && typeof v !== 'string' ? JSON.stringify(v)
  : v;

describe('binary arrays and COPY rows', function () {
  this.timeout(60_000);
  const db = useDatabase();
  let c: Client;
  before(async () => {
    c = new Client({ connectionString: db.url });
    await c.connect();
    await c.query(`SET TIME ZONE 'Asia/Kathmandu'`);
  });
  after(() => c.end());

  for (const [type, values] of Object.entries(SAMPLES)) {
    it(`${type}[] in binary equals the text literal`, async () => {
      expect(encodeArray(type, values), 'encodable').to.be.instanceOf(Buffer);
      const { rows } = await queryArrays<{ a: string; b: string }>(c, `SELECT $1::${type}[]::text AS a, $2::${type}[]::text AS b`, [
        values,
        { toPostgres: () => arrayLiteral(values.map((v) => asText(type, v))) },
      ]);
      expect(rows[0].a).to.equal(rows[0].b);
      expect(rows[0].a).to.not.equal('{}');
    });
  }

  it('falls back to text for what binary cannot carry, and PostgreSQL still judges the value', async () => {
    expect(encodeArray('int', [2147483648])).to.equal(undefined);
    expect(encodeArray('timestamptz', ['2026-01-01T00:00:00.123456Z'])).to.equal(undefined); // microseconds
    expect(encodeArray('numeric', [1.5])).to.equal(undefined);
    const { rows } = await queryArrays<{ t: string }>(c, `SELECT (($1::timestamptz[])[1] AT TIME ZONE 'UTC')::text AS t`, [['2026-01-01T00:00:00.123456Z']]);
    expect(String(rows[0].t)).to.contain('00:00:00.123456');
    const { rows: inf } = await queryArrays<{ t: string }>(c, `SELECT $1::timestamptz[]::text AS t`, [[Infinity, -Infinity]]);
    expect(inf[0].t).to.equal('{infinity,-infinity}');
    let error: unknown;
    await queryArrays(c, 'SELECT $1::int[]', [[2147483648]]).catch((e) => (error = e));
    expect(String(error)).to.match(/out of range/);
  });

  it('COPY rows land as the same values as an INSERT of their text', async () => {
    const types = Object.keys(SAMPLES);
    const n = Math.max(...Object.values(SAMPLES).map((v) => v.length));
    const columns = types.map((t) => Array.from({ length: n }, (_, i) => SAMPLES[t][i % SAMPLES[t].length]));
    await c.query(`CREATE TEMP TABLE bin_copy (${types.map((t) => `c_${t} ${t}`).join(', ')})`);
    await c.query(`CREATE TEMP TABLE bin_text (${types.map((t) => `c_${t} ${t}`).join(', ')})`);
    const cols = types.map((t) => ({ name: `c_${t}`, type: t }));
    expect(await copyRows(c, 'bin_copy', cols, columns)).to.equal(n);
    await c.query(
      `INSERT INTO bin_text SELECT * FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`,
      types.map((t, i) => ({ toPostgres: () => arrayLiteral(columns[i].map((v) => asText(t, v))) })),
    );
    const dump = async (table: string) =>
      (await c.query(`SELECT ${types.map((t) => `coalesce(c_${t}::text, 'NULL!')`).join(` || '|' || `)} AS r FROM ${table}`)).rows.map((r) => r.r);
    const copied = await dump('bin_copy');
    expect(copied).to.have.length(n);
    expect(copied).to.deep.equal(await dump('bin_text'));
  });
});
