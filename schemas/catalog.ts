import * as fs from 'fs';
import * as path from 'path';
import { FloeError } from './errors';
import { createSchemaVersion, SchemaVersion } from './schema-version';

export type { SchemaVersion } from './schema-version';

const FILE_NAME = /^([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+)\.v([1-9][0-9]*)\.avsc$/;

/** Where the shipped catalog lives: `schemas/avro`, next to this module. */
export const DEFAULT_SCHEMA_DIR = path.join(__dirname, 'avro');

/**
 * The event catalog: every version of every event type's payload schema.
 *
 * The `.avsc` files are the catalog (`<type>.v<version>.avsc`); the highest file version of a
 * type is its current schema, used to validate and encode new events and as the reader that
 * old events are resolved to. Writer schemas known only from the store's schema registry are
 * added with `addWriter` so their events can still be decoded; they never become current.
 *
 * `new Catalog()` is an empty catalog, e.g. to hold writer schemas read from a registry.
 *
 * @example
 * const catalog = Catalog.load();
 * catalog.current('email.opened').version // 1
 */
export class Catalog {
  private readonly files = new Map<string, SchemaVersion>();
  private readonly byType = new Map<string, SchemaVersion[]>();
  private readonly byHex = new Map<string, SchemaVersion>();

  /** Loads every `<type>.v<version>.avsc` of `dir` (default: the shipped `schemas/avro`). */
  static load(dir: string = DEFAULT_SCHEMA_DIR): Catalog {
    const catalog = new Catalog();
    const files = fs
      .readdirSync(dir)
      .filter((name) => name.endsWith('.avsc'))
      .map((name) => {
        const match = FILE_NAME.exec(name);
        if (!match) {
          throw new FloeError('SCHEMA_INVALID', `${path.join(dir, name)}: file name must be <type>.v<version>.avsc`, {
            context: { file: name },
          });
        }
        return { file: path.join(dir, name), type: match[1], version: Number(match[2]) };
      })
      .sort((a, b) => (a.type === b.type ? a.version - b.version : a.type < b.type ? -1 : 1));
    for (const { file, type, version } of files) {
      const text = fs.readFileSync(file, 'utf8');
      catalog.files.set(type, catalog.register(createSchemaVersion(type, version, text)));
    }
    return catalog;
  }

  /** The catalog's event types (those with a schema file), sorted. */
  types(): string[] {
    return [...this.files.keys()].sort();
  }

  /** Whether `type` is a catalog type (has a current schema). */
  has(type: string): boolean {
    return this.files.has(type);
  }

  /** The current (highest file) version of `type`; throws FloeError `UNKNOWN_TYPE` otherwise. */
  current(type: string): SchemaVersion {
    const current = this.files.get(type);
    if (!current) throw unknownType(type);
    return current;
  }

  /** Every known version of `type`, files and registered writers, ascending. */
  versions(type: string): SchemaVersion[] {
    const versions = this.byType.get(type);
    if (!versions) throw unknownType(type);
    return [...versions];
  }

  /**
   * The schema with this fingerprint (hex of the 8 header bytes). Versions of a type that
   * differ only in docs or defaults share a canonical form, hence a fingerprint: the first
   * registered (lowest file version) answers for them.
   */
  byFingerprint(hex: string): SchemaVersion | undefined {
    return this.byHex.get(hex.toLowerCase());
  }

  /** Every version of every type, by type then version. */
  all(): SchemaVersion[] {
    return [...this.byType.keys()].sort().flatMap((t) => this.byType.get(t) ?? []);
  }

  /**
   * Registers a writer schema read from the store's schema registry, so events written with
   * it decode. Idempotent; throws FloeError `SCHEMA_CONFLICT` if that type and version are
   * already known with another canonical form.
   *
   * @example catalog.addWriter(row.type, row.version, row.schema_json)
   */
  addWriter(type: string, version: number, schemaJson: string | object): SchemaVersion {
    const existing = this.byType.get(type)?.find((v) => v.version === version);
    const candidate = createSchemaVersion(type, version, schemaJson);
    if (!existing) return this.register(candidate);
    if (existing.canonical !== candidate.canonical) {
      throw new FloeError(
        'SCHEMA_CONFLICT',
        `${type} v${version} is already known with fingerprint ${existing.fingerprintHex}; the registered writer has ${candidate.fingerprintHex}`,
        { context: { type, version, known: existing.fingerprintHex, registered: candidate.fingerprintHex } },
      );
    }
    return existing;
  }

  private register(v: SchemaVersion): SchemaVersion {
    const owner = this.byHex.get(v.fingerprintHex);
    if (owner && owner.type !== v.type) {
      throw new FloeError(
        'SCHEMA_CONFLICT',
        `${v.type} v${v.version} has the same fingerprint ${v.fingerprintHex} as ${owner.type} v${owner.version}: give its record another name`,
        { context: { type: v.type, version: v.version, fingerprint: v.fingerprintHex } },
      );
    }
    if (!owner) this.byHex.set(v.fingerprintHex, v);
    const list = this.byType.get(v.type) ?? [];
    list.push(v);
    list.sort((a, b) => a.version - b.version);
    this.byType.set(v.type, list);
    return v;
  }
}

let cached: Catalog | undefined;

/** The shipped catalog, loaded once per process. */
export function defaultCatalog(): Catalog {
  cached ??= Catalog.load();
  return cached;
}

function unknownType(type: string): FloeError {
  return new FloeError('UNKNOWN_TYPE', `unknown event type "${type}": not in the schema catalog`, {
    context: { type },
  });
}
