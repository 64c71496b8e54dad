/**
 * NDJSON input for `floe append`: numbered lines from a file or stdin, and the outcome of
 * checking one line (a prepared event, or a reject naming the line, type, id and fields).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import type { Catalog } from '../../schemas';
import { isFloeError, ValidationError, ValidationIssue } from '../../schemas/errors';
import { MAX_EVENT_BYTES, prepareEvent, PreparedEvent } from '../../streams/prepare';
import { UsageError } from './args';

export interface Line {
  no: number;
  text: string;
}

export interface Reject {
  line: number;
  id?: string;
  type?: string;
  errors: ValidationIssue[];
  input: string;
}

/** Refuse (exit 2, named) an input that is neither `-` (stdin) nor an existing file, before anything starts. */
export function checkInputFile(source: string): void {
  if (source === '-') return;
  const stat = statSync(source, { throwIfNoEntry: false });
  if (!stat) throw new UsageError(`${source}: no such file (give an NDJSON file, or - for standard input)`);
  if (!stat.isFile()) throw new UsageError(`${source} is not a file`);
}

/**
 * Numbered non-empty lines of FILE, or of stdin for `-`. A UTF-8 byte order mark opening the
 * input (as some Windows editors write) is not part of the first line.
 */
export async function* readLines(file: string): AsyncIterable<Line> {
  const rl = createInterface({ input: file === '-' ? process.stdin : createReadStream(file), crlfDelay: Infinity });
  let no = 0;
  for await (const line of rl) {
    const text = no === 0 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
    no++;
    if (text.trim().length) yield { no, text };
  }
}

/** Stdin can be read once; a two-pass load copies it to a temporary file first. */
export async function spoolStdin(): Promise<{ file: string; cleanup: () => void }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'floe-append-'));
  const file = path.join(dir, 'stdin.ndjson');
  await pipeline(process.stdin, createWriteStream(file));
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function checkLine(catalog: Catalog, line: Line): PreparedEvent | Reject {
  const bytes = Buffer.byteLength(line.text);
  if (bytes > MAX_EVENT_BYTES) {
    // Named by its type and id when the line is JSON at all (and not absurdly long to parse).
    let o: Record<string, unknown> = {};
    try {
      if (bytes < 16 * MAX_EVENT_BYTES) o = JSON.parse(line.text) ?? {};
    } catch {
      // reported as over the limit either way
    }
    return {
      line: line.no,
      id: typeof o.id === 'string' ? o.id : undefined,
      type: typeof o.type === 'string' ? o.type : undefined,
      errors: [{ path: '', message: `event is ${bytes} bytes, over the limit of ${MAX_EVENT_BYTES} (256 KiB)` }],
      input: line.text.slice(0, 200) + '…',
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(line.text);
  } catch (e) {
    return { line: line.no, errors: [{ path: '', message: `malformed JSON: ${(e as Error).message}` }], input: line.text };
  }
  try {
    return prepareEvent(catalog, json, { byteLength: bytes });
  } catch (e) {
    const o = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
    const errors = e instanceof ValidationError ? e.issues : [{ path: '', message: isFloeError(e) ? e.message : String(e) }];
    return { line: line.no, id: typeof o.id === 'string' ? o.id : undefined, type: typeof o.type === 'string' ? o.type : undefined, errors, input: line.text };
  }
}

export const isReject = <T extends object>(r: T | Reject): r is Reject => 'errors' in r;

/** A short content digest, to find one id used for two different events within a file. */
export function contentDigest(e: PreparedEvent): string {
  return createHash('sha1')
    .update(`${e.type}\0${e.tenantId}\0${e.stream}\0${e.occurredAt.getTime()}\0${JSON.stringify(e.metadata)}\0`)
    .update(e.data)
    .digest('base64');
}

export function describeReject(r: Reject): string {
  const what = [r.type, r.id && `id ${r.id}`].filter(Boolean).join(', ');
  return `line ${r.line}${what ? ` (${what})` : ''}: ${r.errors.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`;
}
