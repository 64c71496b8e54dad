/**
 * `runInWorker` (ops/cli/worker.ts), how `floe rebuild` folds on a worker thread: the job's
 * events arrive in order, its result comes back, an abort reaches its signal, its error
 * comes back with its code, context and retriability (the CLI's exit code depends on them),
 * and its heap has the larger young generation the worker exists for.
 */
import { expect } from 'chai';
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

  it('started before its arguments are ready, runs the job once given them; let go unrun, its thread ends', async () => {
    const ports = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
    const before = ports();
    const unrun = startWorker({ module: JOBS, export: 'count' });
    expect(ports(), 'the waiting thread keeps the process alive').to.equal(before + 1);
    await unrun.cancel();
    expect(ports(), 'and no longer once let go').to.equal(before);

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
