/**
 * `runInWorker` (ops/cli/worker.ts), how `floe rebuild` folds on a worker thread: the job's
 * events arrive in order, its result comes back, an abort reaches its signal, its error
 * comes back with its code, context and retriability (the CLI's exit code depends on them),
 * and its heap has the larger young generation the worker exists for.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { isFloeError } from '../../schemas/errors';
import { runInWorker, SEMI_SPACE_MB, startWorker } from '../../ops/cli/worker';

const JOBS = path.join(__dirname, '..', 'helpers', 'workerJobs.ts');

describe('runInWorker: a job on a worker thread', function () {
  this.timeout(30_000);

  it('hands over its events in order and its result', async () => {
    const events: unknown[] = [];
    const result = await runInWorker<number>({ module: JOBS, export: 'count', args: { to: 5 } }, { onEvent: (e) => events.push(e) });
    expect(events).to.deep.equal([1, 2, 3, 4, 5].map((i) => ({ i })));
    expect(result).to.equal(10);
  });

  it('aborts the job’s signal, and rejects with its error as thrown: code, context, retriable', async () => {
    const stop = new AbortController();
    const error = await runInWorker({ module: JOBS, export: 'untilAborted', args: null }, { signal: stop.signal, onEvent: () => stop.abort() }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(isFloeError(error), String(error)).to.equal(true);
    expect(error).to.include({ name: 'FloeError', message: 'stopped on request', code: 'ABORTED', retriable: true });
    expect((error as unknown as { context: unknown }).context).to.deep.equal({ at: 12n });
  });

  it('rejects naming a job the module does not export', async () => {
    const error = await runInWorker({ module: JOBS, export: 'nope', args: null }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).to.match(/not a function/);
  });

  it('let go unrun, its thread ends: the process that started it can exit', () => {
    // In a process of its own: this one's other workers come and go (the tests above).
    const script = (cancel: boolean) =>
      `const { startWorker } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'ops', 'cli', 'worker.ts'))});
       const w = startWorker({ module: ${JSON.stringify(JOBS)}, export: 'count' });
       ${cancel ? "w.cancel().then(() => console.log('let go'));" : "console.log('waiting');"}`;
    const exec = (cancel: boolean) => spawnSync(process.execPath, ['-r', 'tsx/cjs', '-e', script(cancel)], { encoding: 'utf8', timeout: cancel ? 15_000 : 3_000 });
    const cancelled = exec(true);
    expect(cancelled.stdout.trim(), cancelled.stderr).to.equal('let go');
    expect(cancelled.signal, 'it exits by itself').to.equal(null);
    expect(cancelled.status).to.equal(0);
    const waiting = exec(false);
    expect(waiting.stdout.trim(), waiting.stderr).to.equal('waiting');
    expect(waiting.signal, 'a thread waiting for its arguments keeps it alive until killed').to.equal('SIGTERM');
  });

  it('started before its arguments are ready, runs the job once given them', async () => {
    const started = startWorker({ module: JOBS, export: 'count' });
    await new Promise((r) => setTimeout(r, 300)); // the caller getting its arguments ready
    const events: unknown[] = [];
    expect(await started.run<number>({ to: 3 }, { onEvent: (e) => events.push(e) })).to.equal(6);
    expect(events).to.deep.equal([{ i: 1 }, { i: 2 }, { i: 3 }]);
    expect(() => started.run({ to: 1 })).to.throw('once');
  });

  it('rejects with the error of a module that fails to load, once run', async () => {
    const started = startWorker({ module: path.join(__dirname, 'no-such-module.ts'), export: 'count' });
    const error = await started.run({ to: 1 }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).to.match(/Cannot find module/);
  });

  it(`gives the job semi-spaces of ${SEMI_SPACE_MB} MB from the start (by default a whole new space holds at most 32 MB)`, async () => {
    const bytes = await runInWorker<number>({ module: JOBS, export: 'newSpaceBytes', args: null });
    expect(bytes).to.be.at.least(SEMI_SPACE_MB * 1024 * 1024);
  });
});
