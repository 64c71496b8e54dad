/** Jobs for the worker-thread tests (test/ops/worker.unit.spec.ts). */
import { getHeapSpaceStatistics } from 'node:v8';
import { FloeError } from '../../schemas/errors';
import type { WorkerJob } from '../../ops/cli/worker';

export const count: WorkerJob<{ to: number }, number> = async ({ to }, { emit }) => {
  for (let i = 1; i <= to; i++) emit({ i });
  return to * 2;
};

export const untilAborted: WorkerJob<null, never> = (_args, { emit, signal }) =>
  new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(new FloeError('ABORTED', 'stopped on request', { retriable: true, context: { at: 12n } })));
    emit('ready');
  });

export const newSpaceBytes: WorkerJob<null, number> = async () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;
