/**
 * Writes the oracle tables as NDJSON, one `{"table": name, "row": {...}}` per line, in
 * table order then row order, with backpressure so 100k-email workloads stay flat in memory.
 */
import type { WorkloadTruth } from '../truth';
import { writeNdjson } from '../ndjson';
import { computeTruthTables } from './index';

/** @example await writeTruthTables(truth, fs.createWriteStream('truth.ndjson')); */
export async function writeTruthTables(truth: WorkloadTruth, out: NodeJS.WritableStream): Promise<{ rows: number }> {
  const tables = computeTruthTables(truth);
  function* lines(): Generator<{ table: string; row: unknown }> {
    for (const [table, list] of Object.entries(tables)) for (const row of list) yield { table, row };
  }
  return { rows: await writeNdjson(out, lines()) };
}
