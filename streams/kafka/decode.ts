/**
 * One `floe.ingest` message → a prepared event, or the reason it cannot be one (which goes
 * to the dead-letter topic). Formats: messages.ts.
 */
import type { Catalog } from '../../schemas';
import { isFloeError, ValidationError } from '../../schemas/errors';
import { MAX_EVENT_BYTES, prepareEvent, PreparedEvent } from '../prepare';
import { H, headerText, ingestEventId } from './messages';
import type { InboundMessage } from './transport';

/** Decodes stored-form payloads, learning writer schemas it does not know (the store's SchemaResolver). */
export interface PayloadDecoder {
  decode(type: string, data: Buffer): Promise<{ data: Record<string, unknown> }>;
}

export type Decoded =
  | { ok: true; event: PreparedEvent }
  | { ok: false; code: 'UNDECODABLE' | 'INVALID'; reason: string; type?: string; id?: string };

const isAvro = (v: Buffer) => v.length >= 2 && v[0] === 0xc3 && v[1] === 0x01;

export async function decodeIngestMessage(m: InboundMessage, catalog: Catalog, payloads: PayloadDecoder): Promise<Decoded> {
  if (m.value === null || m.value.length === 0) return { ok: false, code: 'UNDECODABLE', reason: 'empty message (no value)' };
  if (m.value.length > MAX_EVENT_BYTES * 2) {
    return { ok: false, code: 'INVALID', reason: `message is ${m.value.length} bytes, over the event limit of ${MAX_EVENT_BYTES} (256 KiB)` };
  }
  let input: Record<string, unknown>;
  let byteLength: number | undefined;
  if (isAvro(m.value)) {
    const r = await fromAvro(m, payloads);
    if (!r.ok) return r;
    input = r.input;
  } else {
    let json: unknown;
    try {
      json = JSON.parse(m.value.toString('utf8'));
    } catch (e) {
      return { ok: false, code: 'UNDECODABLE', reason: `neither Avro single-object encoding (C3 01 …) nor JSON: ${(e as Error).message}` };
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: false, code: 'INVALID', reason: 'an event must be a JSON object' };
    input = json as Record<string, unknown>;
    byteLength = m.value.length;
  }
  if (input.id === undefined || input.id === null) input.id = ingestEventId(m.topic, m.partition, m.offset);
  try {
    return { ok: true, event: prepareEvent(catalog, input, { byteLength }) };
  } catch (e) {
    const type = typeof input.type === 'string' ? input.type : undefined;
    const id = typeof input.id === 'string' ? input.id : undefined;
    const why = e instanceof ValidationError ? e.message : isFloeError(e) ? e.message : String(e);
    return { ok: false, code: 'INVALID', reason: describe(type, id, why), type, id };
  }
}

function describe(type: string | undefined, id: string | undefined, why: string): string {
  const what = [type, id && `id ${id}`].filter(Boolean).join(', ');
  return what ? `${what}: ${why}` : why;
}

async function fromAvro(m: InboundMessage, payloads: PayloadDecoder): Promise<{ ok: true; input: Record<string, unknown> } | Extract<Decoded, { ok: false }>> {
  const type = headerText(m.headers, H.type);
  const id = headerText(m.headers, H.eventId);
  if (!type) return { ok: false, code: 'UNDECODABLE', reason: `Avro payload without a ${H.type} header`, id };
  const missing = [H.tenant, H.occurredAt].filter((h) => headerText(m.headers, h) === undefined);
  if (missing.length) return { ok: false, code: 'INVALID', reason: describe(type, id, `missing header ${missing.join(', ')}`), type, id };
  let data: Record<string, unknown>;
  try {
    data = (await payloads.decode(type, m.value!)).data;
  } catch (e) {
    const why = isFloeError(e) ? e.message : (e as Error).message;
    return { ok: false, code: 'UNDECODABLE', reason: describe(type, id, why), type, id };
  }
  let metadata: unknown;
  const metaText = headerText(m.headers, H.metadata);
  if (metaText !== undefined) {
    try {
      metadata = JSON.parse(metaText);
    } catch (e) {
      return { ok: false, code: 'INVALID', reason: describe(type, id, `${H.metadata}: not JSON: ${(e as Error).message}`), type, id };
    }
  }
  const input: Record<string, unknown> = { type, data };
  const tenantId = headerText(m.headers, H.tenant);
  const occurredAt = headerText(m.headers, H.occurredAt);
  const stream = headerText(m.headers, H.stream);
  if (id !== undefined) input.id = id;
  input.tenantId = tenantId;
  input.occurredAt = occurredAt;
  if (stream !== undefined) input.stream = stream;
  if (metadata !== undefined) input.metadata = metadata;
  return { ok: true, input };
}
