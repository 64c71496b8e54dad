/** Errors of the event store contract (DESIGN §4). */
import { FloeError } from '../schemas/errors';
import type { ExpectedVersion } from './store';

export { FloeError, ValidationError, isFloeError } from '../schemas/errors';

/** The stream was not at the version the caller expected. Nothing of the append was stored. */
export class WrongExpectedVersionError extends FloeError {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
    eventId?: string,
  ) {
    super('WRONG_EXPECTED_VERSION', `stream ${stream}: expected version ${String(expected)}, actual ${actual < 0 ? 'no_stream' : actual}`, {
      context: { stream, expected, actual, eventId },
    });
  }
}

/** An event id already stored (or earlier in the same append) with different content; `reason` says which and how. Nothing of the append was stored. */
export class EventIdConflictError extends FloeError {
  constructor(readonly conflicts: Array<{ id: string; index: number; reason: string }>) {
    super(
      'EVENT_ID_CONFLICT',
      conflicts.map((c) => `event ${c.id}: ${c.reason}`).join('; '),
      { context: { ids: conflicts.map((c) => c.id) } },
    );
  }
}

/**
 * An append chained `after` another that failed: nothing of it was stored. `cause` is the
 * earlier append's error, the one to report.
 */
export class EarlierAppendFailedError extends FloeError {
  constructor(cause: unknown) {
    super('EARLIER_APPEND_FAILED', `not appended: the append before it failed (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
  }
}
