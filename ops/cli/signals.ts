/**
 * Ctrl-C and SIGTERM for long-running commands: they abort a signal the work watches
 * (finish the batch, commit, exit 0) instead of killing the process mid-transaction.
 *
 * A command catches them from its start (`catchStops`), before it connects and migrates: a
 * stop that comes then is kept, and the work, once begun, sees it and ends as it would have
 * later. A second stop before the work begins (a connection that hangs) ends the process.
 *
 * @example
 *   const [ctx, stops] = await catchStopsDuring(() => openContext(log));
 *   return untilStopped((signal) => work(ctx, signal), undefined, stops);
 */
export interface Stops {
  readonly signal: AbortSignal;
  /** Called once, at the first stop (at once if it came already). */
  onStop(f: () => void): void;
  /** The work has begun: a second stop no longer ends the process. */
  begin(): void;
  dispose(): void;
}

const EXIT_CODE: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export function catchStops(): Stops {
  const stop = new AbortController();
  let notify: (() => void) | undefined;
  let working = false;
  const onSignal = (name: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      if (!working) process.exit(EXIT_CODE[name] ?? 1);
      return;
    }
    stop.abort();
    notify?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: stop.signal,
    onStop(f) {
      notify = f;
      if (stop.signal.aborted) f();
    },
    begin() {
      working = true;
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Catch stops from now on, while `start` runs (connecting, migrating); they are let go if it fails. */
export async function catchStopsDuring<T>(start: () => Promise<T>): Promise<[T, Stops]> {
  const stops = catchStops();
  try {
    return [await start(), stops];
  } catch (e) {
    stops.dispose();
    throw e;
  }
}

/** Run the work with the stops caught (from now, or from `catchStops` earlier), then let them go. */
export async function untilStopped<T>(work: (signal: AbortSignal) => Promise<T>, onStop?: () => void, stops: Stops = catchStops()): Promise<T> {
  if (onStop) stops.onStop(onStop);
  stops.begin();
  try {
    return await work(stops.signal);
  } finally {
    stops.dispose();
  }
}
