/**
 * Stop a consumer group's member once the group has nothing left to read: polls the group's
 * lag on `topic` and calls `stop` when it is zero (`--until-idle`, `--until-caught-up`).
 */
import type { KafkaTransport } from './transport';

export function stopWhenIdle(
  transport: KafkaTransport,
  groupId: string,
  topic: string,
  stop: () => unknown,
  log: (m: string) => void,
  everyMs = 500,
): NodeJS.Timeout {
  let checking = false;
  return setInterval(() => {
    if (checking) return;
    checking = true;
    transport
      .groupLag(groupId, topic)
      .then((lag) => {
        if (lag === 0) void stop();
      })
      .catch((e) => log(`could not read the lag of group ${groupId}: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => (checking = false));
  }, everyMs);
}
