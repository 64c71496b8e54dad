import { expect } from 'chai';
import { Writable } from 'node:stream';
import { generateWorkload, writeWorkload } from '../../ops/generate';
import { THOUSAND } from './workloads';

/** A slow sink: takes each chunk on the next turn of the event loop and remembers the most it ever had buffered. */
function slowSink(fail?: (chunks: number) => Error | undefined): Writable & { text: () => string; maxBuffered: number } {
  const parts: string[] = [];
  const sink = new Writable({
    highWaterMark: 4096,
    write(chunk: Buffer, _enc, done) {
      parts.push(chunk.toString());
      sink.maxBuffered = Math.max(sink.maxBuffered, sink.writableLength);
      setImmediate(() => done(fail?.(parts.length)));
    },
  }) as Writable & { text: () => string; maxBuffered: number };
  sink.maxBuffered = 0;
  sink.text = () => parts.join('');
  return sink;
}

describe('writeWorkload', () => {
  it('writes the workload as NDJSON, one generated event a line', async () => {
    const sink = slowSink();
    const { events } = await writeWorkload(THOUSAND, sink);
    const expected = Array.from(generateWorkload(THOUSAND), (l) => JSON.stringify(l) + '\n').join('');
    expect(sink.text()).to.equal(expected);
    expect(events).to.equal(expected.split('\n').length - 1);
  });

  it('waits for drain instead of buffering the whole workload', async () => {
    const sink = slowSink();
    await writeWorkload(THOUSAND, sink);
    // About one 64 KiB chunk in flight at most, against ~1.8 MB of output.
    expect(sink.text().length).to.be.above(1_000_000);
    expect(sink.maxBuffered).to.be.below(100_000);
  });

  it('rejects with the error of a failing stream', async () => {
    const sink = slowSink((n) => (n === 3 ? new Error('disk full') : undefined));
    let caught: unknown;
    await writeWorkload(THOUSAND, sink).catch((e: unknown) => (caught = e));
    expect((caught as Error).message).to.equal('disk full');
  });
});
