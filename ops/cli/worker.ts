/**
 * Long folds on a worker thread with a larger young generation. Node.js sizes a process's
 * young generation (where objects start) only from its command line; a fold keeps a page or
 * two of decoded events alive at any moment, several megabytes, and with the default
 * semi-spaces of 16 MB each collection copies them again (a rebuild of `campaign_analytics`
 * spent a fifth of its Node.js CPU in the scavenger). A worker thread's heap is sized when it
 * starts and, unlike a child process, it cannot outlive the command that started it.
 *
 * @example
 *   // the command, on the main thread:
 *   const r = await runInWorker<Result>({ module: __filename, export: 'job', args }, { signal, onEvent });
 *   // the same module, on the worker: a function of (args, { emit, signal })
 *   export const job: WorkerJob<Args, Result> = async (args, { emit, signal }) => { ... };
 */
import { setFlagsFromString } from 'node:v8';
import { parentPort, Worker, workerData } from 'node:worker_threads';

/**
 * Semi-spaces of 128 MB from the start (the new space then holds 256 MB). A rebuild of
 * `campaign_analytics` over 858k events ran 69 scavenges with 64 MB instead of 265 with the
 * default, 3.5 s of scavenger time instead of 4.4 s (`--trace-gc`), for about 140 MB more
 * resident memory; over 1.73 million events, 128 MB ran 64-68 scavenges instead of 103-105,
 * 2.5-2.9 s instead of 4.2-4.6 s, at the same peak RSS (760-790 MB against 920-950 MB: less
 * is promoted to the old generation). Larger settings change nothing (256 MB: 63-68).
 */
export const SEMI_SPACE_MB = 128;

export type WorkerJob<A, R> = (args: A, tools: { emit(event: unknown): void; signal: AbortSignal }) => Promise<R>;

type FromWorker = { kind: 'event'; event: unknown } | { kind: 'done'; result: unknown } | { kind: 'failed'; error: SerializedError };

interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  props: Record<string, unknown>;
}

/**
 * Run `job` (an exported `WorkerJob` of `module`) on a worker thread: its events reach
 * `onEvent` in order, an abort of `signal` aborts the job's signal, and the job's result or
 * error (with its code, context and the like) comes back as the promise's.
 */
export function runInWorker<R>(job: { module: string; export: string; args: unknown }, o: RunOptions = {}): Promise<R> {
  return startWorker(job).run<R>(job.args, o);
}

/** How a run reports: `signal` aborts the job's signal, `onEvent` gets its events in order. */
export interface RunOptions {
  signal?: AbortSignal;
  onEvent?: (event: unknown) => void;
}

/** A worker thread loading a job's code, waiting for its arguments (`startWorker`). */
export interface StartedWorker {
  /** Run the job with these arguments (once): as `runInWorker`. */
  run<R>(args: unknown, o?: RunOptions): Promise<R>;
  /** Let the thread go without running the job (nothing to do when it ran). */
  cancel(): Promise<void>;
}

/**
 * Start the worker thread of `job` now, and give it its arguments later (`run`): the thread
 * loads the job's code (a few hundred milliseconds) while the caller gets them ready.
 */
export function startWorker(job: { module: string; export: string }): StartedWorker {
  // V8 reads heap flags when an isolate is made: these size the worker's heap, not this
  // thread's. (A worker's resourceLimits cap its young generation but leave it to grow from
  // 1 MB, which it barely did: a rebuild's collections stayed as frequent as by default.)
  setFlagsFromString(`--max-semi-space-size=${SEMI_SPACE_MB}`);
  setFlagsFromString(`--min-semi-space-size=${SEMI_SPACE_MB}`);
  // An evaluated worker resolves modules from the working directory: name tsx by its path.
  const worker = new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(__filename)}).workerMain();`, {
    eval: true,
    workerData: { module: job.module, export: job.export },
  });
  let onEvent: ((event: unknown) => void) | undefined;
  let outcome: { ok: true; value: unknown } | { ok: false; error: unknown } | undefined;
  let settle: ((o: NonNullable<typeof outcome>) => void) | undefined;
  let ran = false;
  /** The first outcome is the job's (a thread that exits after its result has one already). */
  const finish = (o: NonNullable<typeof outcome>) => {
    if (outcome) return;
    outcome = o;
    settle?.(o);
  };
  worker.on('message', (m: FromWorker) => {
    if (m.kind === 'event') onEvent?.(m.event);
    else if (m.kind === 'done') finish({ ok: true, value: m.result });
    else finish({ ok: false, error: revive(m.error) });
  });
  worker.on('error', (error) => finish({ ok: false, error }));
  const exited = new Promise<void>((resolve) =>
    worker.on('exit', (code) => {
      finish({ ok: false, error: new Error(`the worker thread exited (code ${code}) before its job finished`) });
      resolve();
    }),
  );
  return {
    run<R>(args: unknown, o: RunOptions = {}): Promise<R> {
      if (ran) throw new Error('a started worker runs its job once');
      ran = true;
      onEvent = o.onEvent;
      const abort = () => worker.postMessage('abort');
      worker.postMessage({ kind: 'run', args });
      if (o.signal?.aborted) abort();
      else o.signal?.addEventListener('abort', abort, { once: true });
      return new Promise<R>((resolve, reject) => {
        settle = (x) => (x.ok ? resolve(x.value as R) : reject(x.error));
        if (outcome) settle(outcome);
      }).finally(() => o.signal?.removeEventListener('abort', abort));
    },
    async cancel() {
      if (ran) return;
      await worker.terminate();
      await exited;
    },
  };
}

/**
 * The worker's side: load the job's module at once, run the job when its arguments come,
 * report its events and its outcome, then let the thread end.
 */
export function workerMain(): void {
  const port = parentPort!;
  const { module, export: name } = workerData as { module: string; export: string };
  const stop = new AbortController();
  let loaded: Record<string, unknown> | undefined;
  let failedToLoad: unknown;
  try {
    loaded = require(module);
  } catch (e) {
    failedToLoad = e;
  }
  const run = async (args: unknown) => {
    try {
      if (!loaded) throw failedToLoad;
      const job = loaded[name] as WorkerJob<unknown, unknown>;
      const result = await job(args, { emit: (event) => port.postMessage({ kind: 'event', event }), signal: stop.signal });
      port.postMessage({ kind: 'done', result });
    } catch (e) {
      port.postMessage({ kind: 'failed', error: serialize(e) });
    } finally {
      port.removeAllListeners('message');
      port.unref();
    }
  };
  port.on('message', (m: 'abort' | { kind: 'run'; args: unknown }) => {
    if (m === 'abort') stop.abort();
    else if (m.kind === 'run') void run(m.args);
  });
}

function serialize(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e), props: {} };
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    try {
      props[k] = structuredClone(v);
    } catch {
      props[k] = String(v); // a value that cannot cross threads (a function, a socket)
    }
  }
  return { name: e.name, message: e.message, stack: e.stack, props };
}

/** The error as the job threw it, as far as it can cross threads: name, message, stack and own properties (code, context, retriable, SQLSTATE fields). */
function revive(s: SerializedError): Error {
  const e = Object.assign(new Error(s.message), s.props);
  e.name = s.name;
  if (s.stack) e.stack = s.stack;
  return e;
}
