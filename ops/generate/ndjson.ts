/**
 * NDJSON to a writable stream in 64 KiB chunks, waiting for `drain` when the stream asks,
 * so a workload or its truth tables of any size stay flat in memory.
 */
import { once } from 'node:events';

const CHUNK = 64 * 1024;

/**
 * Write each value as one JSON line; resolves with the number of lines. An error the
 * stream emits between two writes is rethrown (a wait for `drain` would otherwise never end).
 *
 * @example await writeNdjson(fs.createWriteStream('out.ndjson'), [{ a: 1 }, { a: 2 }]);
 */
export async function writeNdjson(out: NodeJS.WritableStream, values: Iterable<unknown>): Promise<number> {
  let failure: { error: unknown } | undefined;
  const onError = (error: unknown): void => {
    failure ??= { error };
  };
  out.on('error', onError);
  let lines = 0;
  let chunk = '';
  const flush = async (): Promise<void> => {
    if (failure) throw failure.error;
    const ok = out.write(chunk);
    chunk = '';
    if (!ok) await once(out as NodeJS.EventEmitter, 'drain');
  };
  try {
    for (const value of values) {
      chunk += JSON.stringify(value) + '\n';
      lines++;
      if (chunk.length >= CHUNK) await flush();
    }
    if (chunk.length > 0) await flush();
    if (failure) throw failure.error;
  } finally {
    out.removeListener('error', onError);
  }
  return lines;
}
