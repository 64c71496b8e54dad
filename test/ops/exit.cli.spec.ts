/**
 * What the CLI does with mistakes and with readers that stop early: bad input exits 2 with a
 * message naming it (not 1, which means the work itself failed), and output piped into
 * `head` ends the command quietly.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useDatabase } from '../helpers/backends';
import { floe } from '../helpers/cli';

const FLOE = path.join(__dirname, '..', '..', 'ops', 'cli', 'floe.js');
const ROOT = path.join(__dirname, '..', '..');

describe('floe exit codes', function () {
  this.timeout(120_000);
  const db = useDatabase();

  for (const [args, says] of [
    [['rebuild', 'no_such_projection'], /unknown projection no_such_projection/],
    [['project', '--only', ','], /--only names no projection/],
    [['generate', '--start', '0999-12-31'], /must fall in the years 1000-9998/],
    [['generate', '--start', '9998-12-25'], /must fall in the years 1000-9998/],
    [['project', '--only', 'campaign_analytics,nope', '--until-caught-up'], /unknown projection nope/],
    [['billing', 'show', '--tenant', 't-1', '--period', '2026-13'], /--period/],
    [['rebuild', 'campaign_analytics', '--period', '2026-3'], /--period must be YYYY-MM/],
    [['rebuild', 'companies', '--period', '2026-03'], /no monthly partitions/],
    [['schemas', 'check', '--dir', '/nonexistent/floe-schemas'], /nonexistent/],
    [['schemas', 'check', '--dir', path.join(ROOT, 'test/helpers')], /no schema files/],
    [['dead-letters', 'retry', '--event', 'notauuid'], /--event notauuid: not an event id/],
    [['kafka', 'ingest', '--topic', 'loop.t', '--dlq-topic', 'loop.t'], /--dlq-topic loop.t is the topic read/],
    [['kafka', 'ingest', '--session-timeout-ms', '2000'], /--session-timeout-ms must be an integer >= 6000/],
    [['project', '--source', 'kafka', '--session-timeout-ms', '2000'], /--session-timeout-ms must be an integer >= 6000/],
    [['append', '/nonexistent/events.ndjson'], /nonexistent/],
    [['status', '--json', 'extra'], /unexpected argument "extra"/],
    [['generate', '--emails', '10', '--truth', '/nonexistent/truth.ndjson'], /nonexistent/],
    [['status', '--bogus'], /^floe status: unknown option --bogus$/m],
    [['generate', '--emails', '-5'], /--emails -5: a value that starts with '-' reads as an option; write --emails=-5/],
    [['generate', '--emails=-5'], /--emails must be an integer >= 0, got "-5"/],
    [['read', '--from'], /--from needs a value/],
    [['status', '--json=yes'], /--json takes no value/],
    [['schemas', 'check', '--dir', path.join(ROOT, 'README.md')], /README.md: not a directory/],
    [['append', path.join(ROOT, 'package.json'), '--rejects', '/nonexistent/rejects.ndjson'], /--rejects \/nonexistent\/rejects.ndjson: no such file or directory/],
  ] as Array<[string[], RegExp]>) {
    it(`exits 2 for bad input: floe ${args.join(' ')}`, function () {
      if (!db.url) return this.skip();
      const r = floe(db.url, args);
      expect(r.code, r.err).to.equal(2);
      expect(r.err).to.match(says);
      expect(r.err).to.not.match(/\n\s+at /, 'no stack trace');
    });
  }

  it('names FLOE_HOME when it is not a directory, FLOE_KAFKA_ENCODER when it is not a known encoder, FLOE_PIPELINE when not 0 or 1 (exit 2)', () => {
    const home = spawnSync(process.execPath, [FLOE, 'db', 'url'], { env: { ...process.env, DATABASE_URL: '', FLOE_HOME: path.join(__dirname, '..', '..', 'package.json') }, encoding: 'utf8' });
    expect(home.status, home.stderr).to.equal(2);
    expect(home.stderr).to.match(/package\.json cannot be that directory \(a file is in the way\): set FLOE_HOME to a directory/);
    const encoder = spawnSync(process.execPath, [FLOE, 'kafka', 'produce', 'package.json'], { env: { ...process.env, FLOE_KAFKA_ENCODER: 'bogus', KAFKA_BROKERS: '127.0.0.1:1' }, encoding: 'utf8' });
    expect(encoder.status, encoder.stderr).to.equal(2);
    expect(encoder.stderr).to.contain('FLOE_KAFKA_ENCODER must be floe (the default) or kafkajs, not "bogus"');
    const pipeline = spawnSync(process.execPath, [FLOE, 'project', '--until-caught-up'], { env: { ...process.env, DATABASE_URL: db.url, FLOE_PIPELINE: 'abc' }, encoding: 'utf8' });
    expect(pipeline.status, pipeline.stderr).to.equal(2);
    expect(pipeline.stderr).to.contain('FLOE_PIPELINE must be 0 or 1, not "abc"');
  });

  it('names the address and port of a PostgreSQL it cannot reach (exit 1)', () => {
    const r = floe('postgres://floe:floe@127.0.0.1:1/floe', ['status']);
    expect(r.code, r.err).to.equal(1);
    expect(r.err).to.contain('cannot connect to PostgreSQL at 127.0.0.1:1: connection refused (check DATABASE_URL)');
  });

  it('has --help for the command groups, listing their subcommands', () => {
    for (const group of ['billing', 'dead-letters', 'schemas', 'kafka', 'db']) {
      const r = floe(db.url, [group, '--help']);
      expect(r.code, r.err).to.equal(0);
      expect(r.out).to.match(new RegExp(`^  ${group} \\S+ +\\S`, 'm'));
    }
    const bare = floe(db.url, ['billing']);
    expect(bare.code).to.equal(2);
    expect(bare.err).to.contain('needs a subcommand');
  });

  it('ends quietly when the reader of its output stops early (floe generate | head -1)', async () => {
    const child = spawn(process.execPath, [FLOE, 'generate', '--seed', '1', '--tenants', '2', '--emails', '20000', '--start', '2026-01-01', '--days', '30'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (c) => resolve(String(c))));
    child.stdout.destroy(); // the reader goes away, as `head` does after its line
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(first).to.match(/^\{"/);
    expect(err).to.not.contain('EPIPE');
    expect(code).to.equal(0);
  });

  it('removes the oracle and exits 1 when the reader stops early (floe generate --truth F | head -1)', async () => {
    const truth = path.join(os.tmpdir(), `floe-truth-${process.pid}.ndjson`);
    const child = spawn(process.execPath, [FLOE, 'generate', '--emails', '20000', '--truth', truth], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    await new Promise((resolve) => child.stdout.once('data', resolve));
    expect(existsSync(truth), 'the truth file is opened before the first event').to.equal(true);
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, err).to.equal(1);
    expect(err).to.contain(`${truth} removed`);
    expect(existsSync(truth)).to.equal(false);
  });
});
