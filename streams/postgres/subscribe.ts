/**
 * Subscriptions: catch up page by page, then follow live. A dedicated connection LISTENs
 * on the append channel for a prompt wake-up; a polling timer covers lost notifications
 * and a dropped listener connection, so a follower never stalls for long.
 */
import { Client } from 'pg';
import type { RecordedEvent } from '../envelope';
import type { SubscribeOptions, Subscription } from '../store';
import { EVENTS_CHANNEL } from './append';

export function subscribe(
  url: string,
  readPage: (after: bigint, limit: number) => Promise<RecordedEvent[]>,
  options: SubscribeOptions,
  handler: (batch: RecordedEvent[]) => Promise<void>,
): Subscription {
  const batchSize = options.batchSize ?? 1000;
  const pollMs = options.pollMs ?? 1000;
  let after = options.after ?? 0n;
  let stopped = false;
  let wake: (() => void) | undefined;
  let listener: Client | undefined;
  const nap = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve();
      }, pollMs);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
    });

  async function listen(): Promise<void> {
    try {
      const c = new Client({ connectionString: url });
      c.on('notification', () => wake?.());
      c.on('error', () => {
        listener = undefined; // polling carries on; reconnect on the next idle turn
      });
      await c.connect();
      await c.query(`LISTEN ${EVENTS_CHANNEL}`);
      listener = c;
    } catch {
      listener = undefined;
    }
  }

  const done = (async () => {
    let caughtUp = false;
    await listen();
    try {
      while (!stopped) {
        const page = await readPage(after, batchSize);
        if (page.length) {
          after = page[page.length - 1].position;
          await handler(page);
        }
        if (page.length < batchSize) {
          if (!caughtUp) {
            caughtUp = true;
            options.onCaughtUp?.();
          }
          if (stopped) break;
          if (!listener) await listen();
          await nap();
        }
      }
    } finally {
      await listener?.end().catch(() => {});
    }
  })();

  return {
    done,
    async stop() {
      stopped = true;
      wake?.();
      await done.catch(() => {});
    },
  };
}
