/**
 * Ctrl-C and SIGTERM for long-running commands: they abort a signal the work watches
 * (finish the batch, commit, exit 0) instead of killing the process mid-transaction.
 */
export async function untilStopped<T>(work: (signal: AbortSignal) => Promise<T>, onStop?: () => void): Promise<T> {
  const stop = new AbortController();
  const onSignal = () => {
    if (!stop.signal.aborted) onStop?.();
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
