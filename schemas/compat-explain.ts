/**
 * Explains, in a schema author's words, why a reader schema cannot resolve data written with
 * a writer schema, following the Avro resolution rules: record fields matched by name (or
 * reader alias) and defaulted when missing, enum symbols, numeric promotions, unions matched
 * branch by branch. Type changes are told from the older to the newer version whichever
 * side reads, e.g. `field "smtpCode" changed type from int to string`.
 */

type Json = Record<string, unknown>;

/** A schema node with its names resolved: the enclosing namespace travels with it. */
interface Node {
  s: string | Json | unknown[];
  ns: string;
}

interface Walk {
  readerNames: Map<string, Node>;
  writerNames: Map<string, Node>;
  readerIsNewer: boolean;
  visited: Set<string>;
}

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

const NAMED = new Set(['record', 'error', 'enum', 'fixed']);

const COMPLEX = new Set([...NAMED, 'array', 'map']);

const PROMOTIONS: Record<string, string[]> = {
  int: ['long', 'float', 'double'],
  long: ['float', 'double'],
  float: ['double'],
  string: ['bytes'],
  bytes: ['string'],
};

/**
 * Reasons `reader` cannot read `writer` data (parsed schema JSON); empty if none is found.
 *
 * @example explainUnreadable(v2.schema, v1.schema, true) // ['field "country" has no default']
 */
export function explainUnreadable(reader: object, writer: object, readerIsNewer: boolean): string[] {
  const walk: Walk = { readerNames: new Map(), writerNames: new Map(), readerIsNewer, visited: new Set() };
  collectNames(reader, '', walk.readerNames);
  collectNames(writer, '', walk.writerNames);
  const problems = explain(
    deref({ s: reader as Json, ns: '' }, walk.readerNames),
    deref({ s: writer as Json, ns: '' }, walk.writerNames),
    '',
    walk,
  );
  return [...new Set(problems)];
}

/** `shown` is what a type-change message names: the whole unions, not the branch compared. */
function explain(r: Node, w: Node, path: string, walk: Walk, shown: [Node, Node] = [r, w]): string[] {
  if (Array.isArray(w.s)) {
    return w.s.flatMap((b) => explain(r, deref({ s: b as Json, ns: w.ns }, walk.writerNames), path, walk, shown));
  }
  if (Array.isArray(r.s)) {
    const branches = r.s.map((b) => deref({ s: b as Json, ns: r.ns }, walk.readerNames));
    const match = branches.find((b) => kind(b) === kind(w) && sameName(b, w)) ?? branches.find((b) => promotes(w, b));
    return match ? explain(match, w, path, walk, shown) : [changed(shown, path, walk)];
  }
  if (kind(r) !== kind(w)) return promotes(w, r) ? [] : [changed(shown, path, walk)];
  if (typeof r.s === 'string' || typeof w.s === 'string') return [];
  const rs = r.s as Json;
  const ws = w.s as Json;
  if (NAMED.has(String(rs.type)) && !sameName(r, w)) {
    // An alias on the new schema lets it read the old name; the old schema is frozen and can never read the new one.
    const fix = walk.readerIsNewer ? 'add an alias' : 'the older version cannot be given an alias: keep the old name';
    return [`${where(path)} was renamed from ${fullNameOf(walk.readerIsNewer ? w : r)} to ${fullNameOf(walk.readerIsNewer ? r : w)} (${fix})`];
  }
  switch (rs.type) {
    case 'record':
    case 'error':
      return record(r, w, path, walk);
    case 'enum': {
      const missing = (ws.symbols as string[]).filter((sym) => !(rs.symbols as string[]).includes(sym));
      if (missing.length === 0 || rs.default !== undefined) return [];
      return walk.readerIsNewer
        ? [`${where(path)} lost enum symbols ${missing.join(', ')}`]
        : [`${where(path)} gained enum symbols ${missing.join(', ')} (give enum ${fullNameOf(r)} a default symbol for older readers)`];
    }
    case 'fixed':
      return rs.size === ws.size ? [] : [changed(shown, path, walk)];
    case 'array':
      return explain(child(rs.items, r, walk.readerNames), child(ws.items, w, walk.writerNames), `${path}[]`, walk);
    case 'map':
      return explain(child(rs.values, r, walk.readerNames), child(ws.values, w, walk.writerNames), `${path}{}`, walk);
    default:
      return [];
  }
}

function record(r: Node, w: Node, path: string, walk: Walk): string[] {
  const key = `${fullNameOf(r)}|${fullNameOf(w)}`;
  if (walk.visited.has(key)) return [];
  walk.visited.add(key);
  const inner = (n: Node) => namespaceOf(fullNameOf(n));
  const writerFields = (w.s as Json).fields as Json[];
  return ((r.s as Json).fields as Json[]).flatMap((field) => {
    const names = [field.name, ...((field.aliases as string[] | undefined) ?? [])];
    const written = writerFields.find((f) => names.includes(f.name));
    const fieldPath = path ? `${path}.${String(field.name)}` : String(field.name);
    if (!written) {
      if ('default' in field) return [];
      // The reader needs a field the writer lacks: a new field (newer reader) or a removed one (older reader).
      return [walk.readerIsNewer ? `${where(fieldPath)} has no default` : `${where(fieldPath)} was removed, and the older version has no default for it`];
    }
    return explain(
      deref({ s: field.type as Json, ns: inner(r) }, walk.readerNames),
      deref({ s: written.type as Json, ns: inner(w) }, walk.writerNames),
      fieldPath,
      walk,
    );
  });
}

function changed([r, w]: [Node, Node], path: string, walk: Walk): string {
  const [from, to] = walk.readerIsNewer ? [w, r] : [r, w];
  return `${where(path)} changed type from ${describe(from)} to ${describe(to)}`;
}

function where(path: string): string {
  return path ? `field "${path}"` : 'the record';
}

function describe(n: Node): string {
  if (typeof n.s === 'string') return n.s;
  if (Array.isArray(n.s)) return n.s.map((b) => describe({ s: b as Json, ns: n.ns })).join(' | ');
  const s = n.s;
  switch (s.type) {
    case 'record':
    case 'error':
    case 'enum':
      return `${s.type} ${fullNameOf(n)}`;
    case 'fixed':
      return `fixed ${fullNameOf(n)} (${String(s.size)} bytes)`;
    case 'array':
      return `array of ${describe({ s: s.items as Json, ns: n.ns })}`;
    case 'map':
      return `map of ${describe({ s: s.values as Json, ns: n.ns })}`;
    default:
      return describe({ s: s.type as Json, ns: n.ns });
  }
}

function promotes(w: Node, r: Node): boolean {
  return typeof w.s === 'string' && typeof r.s === 'string' && (PROMOTIONS[w.s] ?? []).includes(r.s);
}

function kind(n: Node): string {
  if (typeof n.s === 'string') return n.s;
  return Array.isArray(n.s) ? 'union' : String(n.s.type);
}

function sameName(r: Node, w: Node): boolean {
  if (typeof r.s !== 'object' || Array.isArray(r.s) || r.s.name === undefined) return true;
  const aliases = ((r.s.aliases as string[] | undefined) ?? []).map((a) => fullName(a, namespaceOf(fullNameOf(r))));
  return fullNameOf(r) === fullNameOf(w) || aliases.includes(fullNameOf(w));
}

/** Replaces references to named types with their definitions; `{"type": "int"}` becomes `"int"`. */
function deref(n: Node, names: Map<string, Node>): Node {
  const s = n.s;
  if (typeof s === 'string') return PRIMITIVES.has(s) ? n : (names.get(fullName(s, n.ns)) ?? n);
  if (Array.isArray(s) || COMPLEX.has(String(s.type))) return n;
  return deref({ s: s.type as Json, ns: n.ns }, names);
}

function child(s: unknown, parent: Node, names: Map<string, Node>): Node {
  return deref({ s: s as Json, ns: parent.ns }, names);
}

function collectNames(s: unknown, ns: string, names: Map<string, Node>): void {
  if (Array.isArray(s)) return s.forEach((b) => collectNames(b, ns, names));
  if (s === null || typeof s !== 'object') return;
  const o = s as Json;
  if (o.name !== undefined && NAMED.has(String(o.type))) {
    const full = fullNameOf({ s: o, ns });
    names.set(full, { s: o, ns });
    if (o.fields) (o.fields as Json[]).forEach((f) => collectNames(f.type, namespaceOf(full), names));
    return;
  }
  collectNames(o.type, ns, names);
  collectNames(o.items, ns, names);
  collectNames(o.values, ns, names);
}

function fullNameOf(n: Node): string {
  const s = n.s as Json;
  return fullName(String(s.name), typeof s.namespace === 'string' ? s.namespace : n.ns);
}

function fullName(name: string, namespace: string): string {
  return name.includes('.') || namespace === '' ? name : `${namespace}.${name}`;
}

function namespaceOf(full: string): string {
  return full.includes('.') ? full.slice(0, full.lastIndexOf('.')) : '';
}
