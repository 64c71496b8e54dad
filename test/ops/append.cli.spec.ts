/**
 * `floe append`, `floe read` and `floe status` as a user runs them: a generated file with
 * retried duplicates appends with exact counts and nothing the second time; one bad line
 * appends nothing and names the line; --rejects appends the rest; stored data decodes with
 * plain avsc and the schema stored in floe.event_schemas; streams run 0..n-1.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as avro from 'avsc';
import { Client } from 'pg';
import { useDatabase } from '../helpers/backends';
import { floe } from '../helpers/cli';



describe('floe append / read / status (CLI)', function () {
  this.timeout(120_000);
  const db = useDatabase();
  const dir = mkdtempSync(path.join(tmpdir(), 'floe-cli-'));
  const file = path.join(dir, 'events.ndjson');
  let lines: string[];

  before(function () {
    if (!db.url) return this.skip();
    const g = floe(db.url, ['generate', '--seed', '11', '--tenants', '3', '--emails', '3000', '--start', '2026-03-01', '--days', '20']);
    expect(g.code, g.err).to.equal(0);
    writeFileSync(file, g.out);
    lines = g.out.trim().split('\n');
  });

  it('appends a generated file with exact counts, and nothing the second time', () => {
    const distinct = new Set(lines.map((l) => JSON.parse(l).id)).size;
    expect(distinct).to.be.lessThan(lines.length); // the workload retries some events
    const first = floe(db.url, ['append', file, '--batch-size', '500']);
    expect(first.code, first.err).to.equal(0);
    const r = JSON.parse(first.out);
    expect(r).to.include({ appended: distinct, duplicates: lines.length - distinct, rejected: 0 });
    expect(r.lastPosition - r.firstPosition + 1).to.equal(distinct);
    // The first run kept the events it checked for the append; this one reads the file again.
    process.env.FLOE_APPEND_KEEP_BYTES = '0';
    try {
      const again = JSON.parse(floe(db.url, ['append', file]).out);
      expect(again).to.deep.equal({ appended: 0, duplicates: lines.length, rejected: 0, firstPosition: null, lastPosition: null });
    } finally {
      delete process.env.FLOE_APPEND_KEEP_BYTES;
    }
    const status = JSON.parse(floe(db.url, ['status', '--json']).out);
    expect(status.head).to.deep.equal({ position: r.lastPosition, count: distinct });
  });

  it('keeps every stream gap-free and data decodable by plain avsc with the registered schema', async () => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      const gaps = await c.query(`SELECT stream_id FROM floe.events GROUP BY stream_id HAVING min(stream_position) <> 0 OR max(stream_position) <> count(*) - 1`);
      expect(gaps.rows).to.deep.equal([]);
      const { rows } = await c.query(`SELECT e.event_id, e.type, e.data, s.schema FROM floe.events e JOIN floe.event_schemas s ON s.fingerprint = e.schema_fingerprint WHERE e.type IN ('email.bounced', 'email.sent', 'subscription.started') ORDER BY e.global_position LIMIT 300`);
      expect(rows.length).to.be.greaterThan(50);
      const byId = new Map(lines.map((l) => JSON.parse(l)).map((e) => [e.id, e]));
      for (const r of rows) {
        expect(r.data.subarray(0, 2).toString('hex')).to.equal('c301');
        const decoded = avro.Type.forSchema(r.schema).fromBuffer(r.data.subarray(10));
        const input = byId.get(r.event_id).data;
        for (const [k, v] of Object.entries(input)) expect(decoded[k], `${r.type}.${k}`).to.deep.equal(v);
      }
    } finally {
      await c.end();
    }
  });

  it('reads one stream back as NDJSON envelopes with decoded data', () => {
    const sent = lines.map((l) => JSON.parse(l)).find((e) => e.type === 'email.sent');
    const r = floe(db.url, ['read', '--stream', `email-${sent.data.emailId}`]);
    expect(r.code, r.err).to.equal(0);
    const events = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.streamPosition)).to.deep.equal(events.map((_e, i) => i));
    expect(events.find((e) => e.id === sent.id).data).to.deep.include(sent.data);
    const limited = floe(db.url, ['read', '--type-prefix', 'email.open', '--limit', '5']).out.trim().split('\n');
    expect(limited.length).to.equal(5);
    expect(limited.every((l) => JSON.parse(l).type === 'email.opened')).to.equal(true);
  });

  it('appends nothing from a file with one bad line, naming the line, field and reason (exit 2)', () => {
    const good = (i: number) => JSON.stringify({ type: 'email.opened', tenantId: 'bad-t', occurredAt: '2026-03-02T10:00:00.000Z', data: { emailId: `b${i}` } });
    const input = [good(1), good(2), JSON.stringify({ type: 'email.bounced', tenantId: 'bad-t', occurredAt: '2026-03-02T10:00:00.000Z', data: { emailId: 'b3', bounceType: 'medium' } }), good(4)].join('\n');
    const before = JSON.parse(floe(db.url, ['status', '--json']).out).head.count;
    const r = floe(db.url, ['append', '-'], input);
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('line 3').and.contain('email.bounced').and.contain('data.bounceType').and.contain('"medium" is not one of hard, soft');
    expect(JSON.parse(floe(db.url, ['status', '--json']).out).head.count).to.equal(before);
    // An id the store holds with other content is named as such.
    const id = '7a2f4c1e-1111-4c2d-9e3f-000000000001';
    const once = (emailId: string) => JSON.stringify({ id, type: 'email.opened', tenantId: 'bad-t', occurredAt: '2026-03-02T10:00:00.000Z', data: { emailId } });
    expect(floe(db.url, ['append', '-'], once('b9')).code).to.equal(0);
    const conflict = floe(db.url, ['append', '-'], once('b10'));
    expect(conflict.code).to.equal(2);
    expect(conflict.err).to.contain('line 1').and.contain('already stored with different content');
    // Lines of a stored id are each compared with the stored event: the retry is a duplicate
    // (in either order), the other content one bad line, reported once.
    for (const lines of [[once('b9'), once('b10')], [once('b10'), once('b9')]]) {
      const both = floe(db.url, ['append', '-'], lines.join('\n'));
      const bad = lines.indexOf(once('b10')) + 1;
      expect(both.code, both.err).to.equal(2);
      expect(both.err.split('\n').filter((l) => l.startsWith('line '))).to.deep.equal([
        `line ${bad} (email.opened, id ${id}): id: already stored with different content (stream email-b9 vs email-b10)`,
      ]);
      expect(both.err).to.contain('1 bad line(s)');
    }
    // An id not stored: the line repeating it with other content is the bad one.
    const fresh = (emailId: string) => JSON.stringify({ id: '7a2f4c1e-1111-4c2d-9e3f-000000000002', type: 'email.opened', tenantId: 'bad-t', occurredAt: '2026-03-02T10:00:00.000Z', data: { emailId } });
    const repeated = floe(db.url, ['append', '-'], [fresh('b11'), fresh('b11'), fresh('b12')].join('\n'));
    expect(repeated.code, repeated.err).to.equal(2);
    expect(repeated.err.split('\n').filter((l) => l.startsWith('line '))).to.deep.equal([
      'line 3 (email.opened, id 7a2f4c1e-1111-4c2d-9e3f-000000000002): id: line 1 has the same id with different content',
    ]);
  });

  it('reads a file that opens with a UTF-8 byte order mark, and names a NUL in a field as the line\'s error', () => {
    const opened = (emailId: string) => JSON.stringify({ type: 'email.opened', tenantId: 'bom-t', occurredAt: '2026-03-02T10:00:00.000Z', data: { emailId } });
    const bom = path.join(dir, 'bom.ndjson');
    writeFileSync(bom, '\ufeff' + [opened('bom-1'), opened('bom-2')].join('\r\n') + '\r\n');
    const r = floe(db.url, ['append', bom]);
    expect(r.code, r.err).to.equal(0);
    expect(JSON.parse(r.out)).to.include({ appended: 2, rejected: 0 });
    const nul = floe(db.url, ['append', '-'], [opened('bom-3'), opened('bom-\u0000-4')].join('\n'));
    expect(nul.code).to.equal(2);
    expect(nul.err).to.contain('line 2').and.contain('data.emailId: contains the character U+0000 (NUL)');
  });

  it('with --rejects, appends the valid lines and writes each bad one with its reason', () => {
    const base = { tenantId: 'rej-t', occurredAt: '2026-03-02T10:00:00.000Z' };
    const input = [
      JSON.stringify({ ...base, type: 'email.opened', data: { emailId: 'r1' } }),
      '{"type": "email.opened", ',
      JSON.stringify({ ...base, type: 'email.teleported', data: {} }),
      JSON.stringify({ type: 'email.opened', occurredAt: base.occurredAt, data: { emailId: 'r2' } }),
      JSON.stringify({ ...base, occurredAt: 'yesterday', type: 'email.opened', data: { emailId: 'r3' } }),
      JSON.stringify({ ...base, type: 'email.bounced', data: { emailId: 'r4', bounceType: 'hard', smtpCode: '550' } }),
      JSON.stringify({ ...base, type: 'email.clicked', data: { emailId: 'r5' } }),
      JSON.stringify({ ...base, type: 'email.opened', data: { emailId: 'r6', userAgent: 'x'.repeat(300 * 1024) } }),
      JSON.stringify({ ...base, type: 'email.opened', data: { emailId: 'r7' } }),
    ].join('\n');
    const rejects = path.join(dir, 'rejects.ndjson');
    const r = floe(db.url, ['append', '-', '--rejects', rejects], input);
    expect(r.code, r.err).to.equal(0);
    expect(JSON.parse(r.out)).to.include({ appended: 2, rejected: 7 });
    const bad = readFileSync(rejects, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(bad.map((b) => b.line)).to.deep.equal([2, 3, 4, 5, 6, 7, 8]);
    const reason = (i: number) => bad[i].errors.map((e: { path: string; message: string }) => `${e.path}: ${e.message}`).join('; ');
    expect(reason(0)).to.contain('malformed JSON');
    expect(reason(1)).to.contain('type: unknown event type "email.teleported"');
    expect(reason(2)).to.contain('tenantId: required field is missing');
    expect(reason(3)).to.contain('occurredAt: not an ISO-8601 timestamp');
    expect(reason(4)).to.contain('data.smtpCode').and.contain('int');
    expect(reason(5)).to.contain('data.url').and.contain('missing');
    expect(reason(6)).to.contain('256 KiB');
    expect(bad[6].type, 'an over-size event is named by its type').to.equal('email.opened');
  });

  it('with --rejects, a batch retried without a refused line is what the next batch builds on', () => {
    const ev = (id: string, emailId: string, at = '2026-03-03T10:00:00.000Z') =>
      JSON.stringify({ id, type: 'email.opened', tenantId: 'retry-t', occurredAt: at, data: { emailId } });
    const [a, b, c] = ['0193a000-0000-7000-8000-00000000000a', '0193a000-0000-7000-8000-00000000000b', '0193a000-0000-7000-8000-00000000000c'];
    expect(floe(db.url, ['append', '-'], ev(b, 'retry-2')).code).to.equal(0);
    const rejects = path.join(dir, 'retry-rejects.ndjson');
    // Batch 1 is refused for b (stored with other content) and retried with a alone; batch 2,
    // chained after it, repeats a (a duplicate, not a second copy) and appends to a's stream.
    const input = [ev(a, 'retry-1'), ev(b, 'retry-2', '2026-03-04T10:00:00.000Z'), ev(a, 'retry-1'), ev(c, 'retry-1', '2026-03-05T10:00:00.000Z')].join('\n');
    const r = floe(db.url, ['append', '-', '--batch-size', '2', '--rejects', rejects], input);
    expect(r.code, r.err).to.equal(0);
    expect(JSON.parse(r.out)).to.include({ appended: 2, duplicates: 1, rejected: 1 });
    expect(JSON.parse(readFileSync(rejects, 'utf8')).line).to.equal(2);
    const stream = floe(db.url, ['read', '--stream', 'email-retry-1']).out.trim().split('\n').map((l) => JSON.parse(l));
    expect(stream.map((e) => [e.id, e.streamPosition])).to.deep.equal([[a, 0], [c, 1]]);
  });

  it('stops at a batch the store refuses (expectedVersion), naming the line; the batches before it stay, none after it, and it says how many', () => {
    const ev = (i: number, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ type: 'company.created', tenantId: 'ev-t', stream: 'company-ev-1', occurredAt: `2026-03-02T10:00:0${i}.000Z`, data: { companyId: 'ev-1', name: `v${i}` }, ...extra });
    // Batches of 2: the third is refused; the fourth, already looked up while the third held the lock, must not land.
    const input = [ev(1), ev(2), ev(3), ev(4), ev(5, { expectedVersion: 999 }), ev(6), ev(7), ev(8)].join('\n');
    const before = JSON.parse(floe(db.url, ['status', '--json']).out).head.count;
    const r = floe(db.url, ['append', '-', '--batch-size', '2'], input);
    expect(r.code).to.equal(1);
    expect(r.err).to.match(/line 5 \(company\.created, id [0-9a-f-]{36}\): stream company-ev-1: expected version 999, actual 3/);
    expect(r.err).to.contain('lines 5-6').and.contain('4 appended');
    // Its lines have no id: running it again as it is would append lines 1-4 a second time.
    expect(r.err).to.contain('remove lines 1-4 before running again: 4 of the events appended had no id');
    expect(JSON.parse(r.out)).to.include({ appended: 4, duplicates: 0 });
    expect(JSON.parse(floe(db.url, ['status', '--json']).out).head.count).to.equal(before + 4);
  });

  it('refuses paths it cannot use before appending anything (exit 2)', () => {
    const before = JSON.parse(floe(db.url, ['status', '--json']).out).head.count;
    for (const [args, says] of [
      [['append', file, '--rejects', path.join(dir, 'no-such-dir', 'rejects.ndjson')], /no-such-dir/],
      [['append', dir], /is not a file/],
      [['append', path.join(dir, 'missing.ndjson')], /missing\.ndjson: no such file/],
      [['append', file, file], /unexpected argument/],
      [['append', file, '--rejects', file], /is the input file/],
      [['append', file, '--rejects', path.join(dir, '.', path.basename(file))], /is the input file/],
    ] as Array<[string[], RegExp]>) {
      const r = floe(db.url, args);
      expect(r.code, `${args.join(' ')}: ${r.err}`).to.equal(2);
      expect(r.err).to.match(says).and.not.match(/\n\s+at /);
    }
    expect(JSON.parse(floe(db.url, ['status', '--json']).out).head.count).to.equal(before);
    expect(readFileSync(file, 'utf8').trim().split('\n'), 'the input is left as it was').to.deep.equal(lines);
  });

  it('explains usage errors and has --help', () => {
    const r = floe(db.url, ['append', '--batch-size', 'lots']);
    expect(r.code).to.equal(2);
    expect(r.err).to.contain('--batch-size must be an integer');
    const h = floe(db.url, ['read', '--help']);
    expect(h.code).to.equal(0);
    expect(h.out).to.contain('--type-prefix');
  });
});
