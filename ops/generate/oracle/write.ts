/**
 * Writes the oracle tables as NDJSON, one `{"table": name, "row": {...}}` per line, in
 * table order then row order, with backpressure so 100k-email workloads stay flat in memory.
 */
import { once } from 'node:events';
import type { WorkloadTruth } from '../truth';
import { computeTruthTables } from './index';

const CHUNK = 64 * 1024;

/** @example await writeTruthTables(truth, fs.createWriteStream('truth.ndjson')); */
export async function writeTruthTables(truth: WorkloadTruth, out: NodeJS.WritableStream): Promise<{ rows: number }> {
  const tables = computeTruthTables(truth);
  let failure: { error: unknown } | undefined;
  const onError = (error: unknown): void => {
    failure ??= { error };
  };
  out.on('error', onError);
  let rows = 0;
  let chunk = '';
  const flush = async (): Promise<void> => {
    if (failure) throw failure.error;
    const ok = out.write(chunk);
    chunk = '';
    if (!ok) await once(out as NodeJS.EventEmitter, 'drain');
  };
  try {
    for (const [table, list] of Object.entries(tables)) {
      for (const row of list) {
        chunk += JSON.stringify({ table, row }) + '\n';
        rows++;
        if (chunk.length >= CHUNK) await flush();
      }
    }
    if (chunk.length > 0) await flush();
    if (failure) throw failure.error;
  } finally {
    out.removeListener('error', onError);
  }
  return { rows };
}
