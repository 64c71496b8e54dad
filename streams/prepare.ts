/**
 * Turning an input event into what a backend stores: envelope checks, payload validation
 * against the type's current schema, Avro single-object encoding, the derived stream name
 * and an id when the producer gave none. Backend-independent, and cheap enough to run on
 * every event of a bulk load.
 */
import { Catalog, encode, validatePayload } from '../schemas';
import { ValidationError, ValidationIssue } from '../schemas/errors';
import { streamFor } from './envelope';
import type { AppendInput, ExpectedVersion } from './store';
import { isUuid, uuidv7 } from './uuid';

/** The largest event Floe accepts: its JSON form, as a producer sends it. */
export const MAX_EVENT_BYTES = 256 * 1024;

/** ISO-8601 date-time with an explicit offset (Z or ±hh:mm); fractional seconds optional. */
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):?(\d{2}))$/;

/** The years an `occurredAt` may fall in, in UTC. */
export const MIN_YEAR = 1000;
export const MAX_YEAR = 9998;

/** Days of each month, February in a common year. */
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const leap = (year: number): boolean => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
const daysIn = (year: number, month: number): number => (month === 2 && leap(year) ? 29 : MONTH_DAYS[month - 1]);

/**
 * The instant of an `occurredAt`, or why it is not one. JavaScript's Date takes a day past the
 * month's end (2026-02-30 is 2026-03-02) and the hour 24 as the next day: both are refused
 * here, with every other field out of its range, so no event lands on a day its producer did
 * not write.
 */
export function parseInstant(text: unknown): Date | string {
  const m = typeof text === 'string' ? ISO_RE.exec(text) : null;
  if (!m) return `not an ISO-8601 timestamp with a time zone: ${JSON.stringify(text)}`;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const wrong = (what: string) => `not a valid timestamp: ${JSON.stringify(text)} (${what})`;
  if (month < 1 || month > 12) return wrong(`month ${m[2]}`);
  if (day < 1 || day > daysIn(year, month)) return wrong(`${m[1]}-${m[2]} has no day ${m[3]}`);
  if (hour > 23 || minute > 59 || second > 59) return wrong(`time ${m[4]}:${m[5]}:${m[6]}`);
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return wrong(`offset ${m[8]}`);
  const at = new Date(text as string);
  if (Number.isNaN(at.getTime())) return wrong('out of range');
  // Partitions, days and periods are named with four-digit years, and a projection makes the
  // partitions of the month before and after an event's: years 1000-9998 keep all of them in
  // 1000-9999 (year 0000 is not even a year PostgreSQL keeps: it is 1 BC there).
  const utcYear = at.getUTCFullYear();
  return utcYear < MIN_YEAR || utcYear > MAX_YEAR ? wrong(`outside the years ${MIN_YEAR}-${MAX_YEAR} in UTC`) : at;
}

/**
 * The path of the first string (or object key) under `value` holding U+0000, which PostgreSQL
 * cannot store in text or jsonb: such an event would fail its append, or be stored and then
 * fail every projection that writes the string.
 */
function nulAt(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\0') ? path : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const at = nulAt(value[i], `${path}[${i}]`);
      if (at) return at;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (key.includes('\0')) return `${path}.${key}`;
    const at = nulAt((value as Record<string, unknown>)[key], `${path}.${key}`);
    if (at) return at;
  }
  return undefined;
}
const NUL_MESSAGE = 'contains the character U+0000 (NUL), which PostgreSQL cannot store in text';

export interface PreparedEvent {
  id: string;
  type: string;
  stream: string;
  tenantId: string;
  occurredAt: Date;
  /** Avro single-object encoding of the payload. */
  data: Buffer;
  fingerprint: Buffer;
  metadata: Record<string, unknown> | null;
  expectedVersion?: ExpectedVersion;
  /** The input had no id and this one was generated: the same input appended again makes new events. */
  idGenerated?: boolean;
}

const ENVELOPE_FIELDS = new Set(['id', 'type', 'tenantId', 'occurredAt', 'data', 'metadata', 'stream', 'expectedVersion']);

function checkExpectedVersion(v: unknown): boolean {
  return v === 'any' || v === 'no_stream' || v === 'stream_exists' || (Number.isSafeInteger(v) && (v as number) >= -1);
}

/**
 * Validate and encode one event. Throws a ValidationError listing every problem, each with
 * its field path (`tenantId`, `data.bounceType`, ...); `context` carries the event id and type.
 */
export function prepareEvent(catalog: Catalog, input: unknown, options: { byteLength?: number } = {}): PreparedEvent {
  const issues: ValidationIssue[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError([{ path: '', message: 'an event must be a JSON object' }]);
  }
  const e = input as Partial<AppendInput> & Record<string, unknown>;
  const context = { eventId: e.id, type: e.type };
  const size = options.byteLength ?? Buffer.byteLength(JSON.stringify(e));
  if (size > MAX_EVENT_BYTES) {
    throw new ValidationError([{ path: '', message: `event is ${size} bytes, over the limit of ${MAX_EVENT_BYTES} (256 KiB)` }], context);
  }
  for (const key of Object.keys(e)) if (!ENVELOPE_FIELDS.has(key)) issues.push({ path: key, message: 'unknown envelope field' });
  if (e.id !== undefined && e.id !== null && !isUuid(e.id)) issues.push({ path: 'id', message: `must be a UUID, got ${JSON.stringify(e.id)}` });
  if (typeof e.tenantId !== 'string' || e.tenantId.length === 0) {
    issues.push({ path: 'tenantId', message: e.tenantId === undefined ? 'required field is missing' : 'must be a non-empty string' });
  }
  let occurredAt: Date | undefined;
  if (e.occurredAt === undefined || e.occurredAt === null) issues.push({ path: 'occurredAt', message: 'required field is missing' });
  else {
    const at = parseInstant(e.occurredAt);
    if (typeof at === 'string') issues.push({ path: 'occurredAt', message: at });
    else occurredAt = at;
  }
  if (e.metadata !== undefined && e.metadata !== null && (typeof e.metadata !== 'object' || Array.isArray(e.metadata))) {
    issues.push({ path: 'metadata', message: 'must be an object' });
  }
  if (e.stream !== undefined && (typeof e.stream !== 'string' || e.stream.length === 0)) issues.push({ path: 'stream', message: 'must be a non-empty string' });
  if (e.expectedVersion !== undefined && !checkExpectedVersion(e.expectedVersion)) {
    issues.push({ path: 'expectedVersion', message: 'must be a stream version (integer >= -1), "no_stream", "stream_exists" or "any"' });
  }
  let payload: Record<string, unknown> | undefined;
  let schema;
  if (typeof e.type !== 'string' || e.type.length === 0) {
    issues.push({ path: 'type', message: e.type === undefined ? 'required field is missing' : 'must be a non-empty string' });
  } else if (!catalog.has(e.type)) {
    issues.push({ path: 'type', message: `unknown event type ${JSON.stringify(e.type)}` });
  } else {
    schema = catalog.current(e.type);
    if (e.data === undefined) issues.push({ path: 'data', message: 'required field is missing' });
    else {
      const r = validatePayload(schema, e.data);
      issues.push(...r.issues);
      payload = r.value;
    }
  }
  for (const [field, v] of [['tenantId', e.tenantId], ['stream', e.stream], ['data', e.data], ['metadata', e.metadata]] as const) {
    const at = nulAt(v, field);
    if (at) issues.push({ path: at, message: NUL_MESSAGE });
  }
  let stream = e.stream;
  if (stream === undefined && payload && typeof e.tenantId === 'string') {
    stream = streamFor(e.type as string, e.tenantId, payload);
    if (stream === undefined) issues.push({ path: 'stream', message: `cannot derive the stream of ${e.type}` });
  }
  if (issues.length || !schema || !payload || !occurredAt || !stream) throw new ValidationError(issues, context);
  return {
    id: (e.id ?? uuidv7()).toLowerCase(),
    type: e.type as string,
    stream,
    tenantId: e.tenantId as string,
    occurredAt,
    data: encode(schema, payload),
    fingerprint: schema.fingerprint,
    // As jsonb will hold it (-0 is 0, undefined members are dropped), so a retry compares equal.
    metadata: e.metadata === undefined || e.metadata === null ? null : (JSON.parse(JSON.stringify(e.metadata)) as Record<string, unknown>),
    expectedVersion: e.expectedVersion,
    ...(e.id === undefined || e.id === null ? { idGenerated: true } : {}),
  };
}
