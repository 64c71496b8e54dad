/**
 * Stop a consumer group's member once the group has nothing left to read: polls the group's
 * lag on `topic` and calls `stop` when it is zero (`--until-idle`, `--until-caught-up`).
 * While `ready` says no (the member has not set its start offsets yet), the lag is not asked.
 */
import type { KafkaTransport } from './transport';

export function stopWhenIdle(
  transport: KafkaTransport,
  groupId: string,
  topic: string,
  stop: () => unknown,
  log: (m: string) => void,
  everyMs = 500,
  ready: () => boolean = () => true,
): NodeJS.Timeout {
  let checking = false;
  let said: string | undefined;
  return setInterval(() => {
    if (checking || !ready()) return;
    checking = true;
    transport
      .groupLag(groupId, topic)
      .then((lag) => {
        if (lag === 0 && ready()) void stop(); // not if an assignment came while asking
      })
      .catch((e) => {
        // Said once (and again only when the reason changes), not at every check.
        const reason = e instanceof Error ? e.message : String(e);
        if (reason !== said) log(`could not read the lag of group ${groupId}: ${reason}`);
        said = reason;
      })
      .finally(() => (checking = false));
  }, everyMs);
}
