import type { Type } from 'avsc';

/**
 * avsc decodes records into instances of generated classes. Floe hands out plain objects
 * (prototype Object, JSON-friendly, safe to spread, compare or serialize), so each reader
 * type gets a converter compiled once. Records compile to a generated function building
 * one object literal: every result shares one hidden class, which keeps projections that
 * read hundreds of thousands of payloads per second on V8's fast path.
 */

/** Turns one decoded avsc value into its plain form. */
export type ToPlain = (value: unknown) => unknown;

interface AvscRecord extends Type {
  fields: ReadonlyArray<{ name: string; type: Type }>;
}

/**
 * The converter for values of `type`, or undefined when they are already plain
 * (primitives, enums, bytes).
 *
 * @example const toPlain = plainConverter(schema.avro)!; toPlain(schema.avro.fromBuffer(body))
 */
export function plainConverter(type: Type, seen = new Map<Type, ToPlain>()): ToPlain | undefined {
  switch (type.typeName) {
    case 'record':
    case 'error':
      return record(type as AvscRecord, seen);
    case 'array': {
      const item = plainConverter((type as unknown as { itemsType: Type }).itemsType, seen);
      return item && ((v) => (v as unknown[]).map(item));
    }
    case 'map': {
      const value = plainConverter((type as unknown as { valuesType: Type }).valuesType, seen);
      return value && ((v) => mapValues(v as Record<string, unknown>, value));
    }
    case 'union:unwrapped':
      return union((type as unknown as { types: Type[] }).types, seen);
    default:
      return undefined;
  }
}

function record(type: AvscRecord, seen: Map<Type, ToPlain>): ToPlain {
  const known = seen.get(type);
  if (known) return known;
  let compiled: ToPlain = () => undefined;
  seen.set(type, (v) => compiled(v));
  const converters = type.fields.map((f) => plainConverter(f.type, seen));
  const props = type.fields.map((f, i) => {
    const read = `r[${JSON.stringify(f.name)}]`;
    return `${JSON.stringify(f.name)}: ${converters[i] ? `c[${i}](${read})` : read}`;
  });
  // Field names are Avro names ([A-Za-z_][A-Za-z0-9_]*) and are quoted besides.
  compiled = new Function('c', `return function (r) { return { ${props.join(', ')} }; };`)(converters) as ToPlain;
  return compiled;
}

function union(branches: Type[], seen: Map<Type, ToPlain>): ToPlain | undefined {
  let array: ToPlain | undefined;
  let object: ToPlain | undefined;
  for (const branch of branches) {
    const convert = plainConverter(branch, seen);
    if (convert && branch.typeName === 'array') array = convert;
    else if (convert) object = convert;
  }
  if (!array && !object) return undefined;
  return (v) => {
    if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return v;
    if (Array.isArray(v)) return array ? array(v) : v;
    return object ? object(v) : v;
  };
}

function mapValues(v: Record<string, unknown>, convert: ToPlain): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(v)) out[key] = convert(v[key]);
  return out;
}
