import type { ValidationIssue } from './errors';
import type { SchemaVersion } from './schema-version';

/**
 * Payload validation against an event type's Avro schema, reporting every problem with the
 * field path a producer can act on (`data.smtpCode: expected int, got string "550"`) instead
 * of avsc's single "invalid value". The schema JSON is compiled once per SchemaVersion into
 * a tree of checks; custom attributes `floe.min` / `floe.max` (on a field or an int/long
 * type) bound numbers.
 */

/** Checks one value, pushes its problems, and returns it normalized (defaults filled). */
type Check = (value: unknown, path: string, issues: ValidationIssue[]) => unknown;

type Json = Record<string, unknown>;

/** Named types seen so far (full name → its check and the kind of JavaScript value it takes). */
type Names = Map<string, { check: Check; kind: string }>;

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

const compiled = new WeakMap<SchemaVersion, Check>();

/**
 * Validates a payload and returns it ready for `schema.avro` (and `encode`): absent optional
 * fields become null, absent fields with a default take it. `value` is undefined when there
 * are issues. Unknown fields are rejected.
 *
 * @example
 * const { value, issues } = validatePayload(catalog.current('email.bounced'), { emailId: 'e1', bounceType: 'medium' });
 * // issues: [{ path: 'data.bounceType', message: '"medium" is not one of hard, soft' }]
 */
export function validatePayload(
  schema: SchemaVersion,
  data: unknown,
  pathPrefix = 'data',
): { value: Record<string, unknown> | undefined; issues: ValidationIssue[] } {
  let check = compiled.get(schema);
  if (!check) {
    check = compile(schema.schema, '', new Map());
    compiled.set(schema, check);
  }
  const issues: ValidationIssue[] = [];
  const value = check(data, pathPrefix, issues) as Record<string, unknown>;
  return issues.length === 0 ? { value, issues } : { value: undefined, issues };
}

function compile(schema: unknown, namespace: string, names: Names): Check {
  if (typeof schema === 'string') return primitive(schema) ?? reference(fullName(schema, namespace), names);
  if (Array.isArray(schema)) return union(schema.map((b) => [b, compile(b, namespace, names)] as const), namespace, names);
  const s = schema as Json;
  if (typeof s.type !== 'string') return compile(s.type, namespace, names);
  switch (s.type) {
    case 'record':
    case 'error':
      return record(s, namespace, names);
    case 'enum':
      return define(s, namespace, names, enumeration(s.symbols as string[]), 'string');
    case 'fixed':
      return define(s, namespace, names, fixed(Number(s.size)), 'bytes');
    case 'array':
      return array(compile(s.items, namespace, names));
    case 'map':
      return map(compile(s.values, namespace, names));
    default:
      return withRange(compile(s.type, namespace, names), s);
  }
}

function record(s: Json, enclosing: string, names: Names): Check {
  const name = fullName(String(s.name), typeof s.namespace === 'string' ? s.namespace : enclosing);
  const inner = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '';
  const fields: Array<{ name: string; check: Check; default?: unknown }> = [];
  const known = new Set<string>();
  const check: Check = (value, path, issues) => {
    if (!isObject(value)) {
      issues.push({ path, message: `expected an object, got ${describe(value)}` });
      return undefined;
    }
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      const v = value[f.name];
      if (v !== undefined) out[f.name] = f.check(v, `${path}.${f.name}`, issues);
      else if ('default' in f) out[f.name] = typeof f.default === 'object' && f.default !== null ? structuredClone(f.default) : f.default;
      else issues.push({ path: `${path}.${f.name}`, message: 'required field is missing' });
    }
    for (const key of Object.keys(value)) {
      if (!known.has(key)) issues.push({ path: `${path}.${key}`, message: 'unknown field' });
    }
    return out;
  };
  names.set(name, { check, kind: 'object' });
  for (const f of s.fields as Json[]) {
    const entry = { name: String(f.name), check: withRange(compile(f.type, inner, names), f) };
    known.add(entry.name);
    fields.push('default' in f ? { ...entry, default: f.default } : entry);
  }
  return check;
}

function primitive(type: string): Check | undefined {
  switch (type) {
    case 'null':
      return expect('null', (v) => v === null);
    case 'boolean':
      return expect('boolean', (v) => typeof v === 'boolean');
    case 'string':
      return expect('string', (v) => typeof v === 'string');
    case 'bytes':
      return expect('bytes', (v) => Buffer.isBuffer(v));
    case 'float':
    case 'double':
      return expect(type, (v) => typeof v === 'number' && Number.isFinite(v));
    case 'int':
      return integer('int', (n) => n >= INT_MIN && n <= INT_MAX, 'outside the 32-bit range');
    case 'long':
      return integer('long', Number.isSafeInteger, 'beyond ±2^53, not exact in JavaScript');
    default:
      return undefined;
  }
}

function expect(name: string, ok: (v: unknown) => boolean): Check {
  return (v, path, issues) => {
    if (!ok(v)) issues.push({ path, message: `expected ${name}, got ${describe(v)}` });
    return v;
  };
}

function integer(name: string, inRange: (n: number) => boolean, outOfRange: string): Check {
  return (v, path, issues) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      issues.push({ path, message: `expected ${name}, got ${describe(v)}` });
    } else if (!inRange(v)) {
      issues.push({ path, message: `expected ${name}, got ${describe(v)} (${outOfRange})` });
    }
    return v;
  };
}

function withRange(check: Check, attrs: Json): Check {
  const min = typeof attrs['floe.min'] === 'number' ? attrs['floe.min'] : -Infinity;
  const max = typeof attrs['floe.max'] === 'number' ? attrs['floe.max'] : Infinity;
  if (min === -Infinity && max === Infinity) return check;
  return (v, path, issues) => {
    const before = issues.length;
    const out = check(v, path, issues);
    if (issues.length === before && typeof out === 'number' && (out < min || out > max)) {
      issues.push({ path, message: `must be between ${min} and ${max}, got ${out}` });
    }
    return out;
  };
}

function enumeration(symbols: string[]): Check {
  const list = symbols.join(', ');
  return (v, path, issues) => {
    if (typeof v !== 'string') issues.push({ path, message: `expected one of ${list}, got ${describe(v)}` });
    else if (!symbols.includes(v)) issues.push({ path, message: `${JSON.stringify(v)} is not one of ${list}` });
    return v;
  };
}

function fixed(size: number): Check {
  return expect(`${size} bytes`, (v) => Buffer.isBuffer(v) && v.length === size);
}

function array(item: Check): Check {
  return (v, path, issues) => {
    if (!Array.isArray(v)) {
      issues.push({ path, message: `expected an array, got ${describe(v)}` });
      return v;
    }
    return v.map((x, i) => item(x, `${path}[${i}]`, issues));
  };
}

function map(value: Check): Check {
  return (v, path, issues) => {
    if (!isObject(v)) {
      issues.push({ path, message: `expected a map (object), got ${describe(v)}` });
      return v;
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v)) out[key] = value(v[key], `${path}.${key}`, issues);
    return out;
  };
}

/** Avro unions hold at most one branch per JavaScript kind of value (unwrapped unions). */
function union(branches: ReadonlyArray<readonly [unknown, Check]>, namespace: string, names: Names): Check {
  const nonNull = branches.filter(([b]) => b !== 'null');
  const allowsNull = nonNull.length < branches.length;
  const expected = branches.map(([b]) => typeName(b)).join(' or ');
  return (v, path, issues) => {
    if (v === null) {
      if (!allowsNull) issues.push({ path, message: `expected ${expected}, got null` });
      return null;
    }
    const branch = nonNull.length === 1 ? nonNull[0] : nonNull.find(([b]) => kindOf(b, namespace, names) === kindOfValue(v));
    if (branch) return branch[1](v, path, issues);
    issues.push({ path, message: `expected ${expected}, got ${describe(v)}` });
    return v;
  };
}

function define(s: Json, enclosing: string, names: Names, check: Check, kind: string): Check {
  names.set(fullName(String(s.name), typeof s.namespace === 'string' ? s.namespace : enclosing), { check, kind });
  return check;
}

function reference(name: string, names: Names): Check {
  return (v, path, issues) => {
    const named = names.get(name);
    if (!named) throw new Error(`schema references undefined type ${name}`);
    return named.check(v, path, issues);
  };
}

function typeName(schema: unknown): string {
  if (typeof schema === 'string') return schema;
  const s = schema as Json;
  if (s.type === 'enum' || s.type === 'record' || s.type === 'fixed') return String(s.name);
  return typeof s.type === 'string' ? s.type : typeName(s.type);
}

const KINDS: Record<string, string> = {
  boolean: 'boolean', int: 'number', long: 'number', float: 'number', double: 'number',
  string: 'string', enum: 'string', bytes: 'bytes', fixed: 'bytes', array: 'array', map: 'object', record: 'object',
};

function kindOf(schema: unknown, namespace: string, names: Names): string | undefined {
  if (typeof schema === 'string') return KINDS[schema] ?? names.get(fullName(schema, namespace))?.kind;
  const t = (schema as Json).type;
  return typeof t === 'string' ? KINDS[t] : kindOf(t, namespace, names);
}

function kindOfValue(v: unknown): string {
  if (Buffer.isBuffer(v)) return 'bytes';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  return kindOfValue(v) === 'object' ? 'an object' : kindOfValue(v) === 'array' ? 'an array' : kindOfValue(v);
}

function fullName(name: string, namespace: string): string {
  return name.includes('.') || namespace === '' ? name : `${namespace}.${name}`;
}
