import * as path from 'node:path';
import { Catalog, checkTypeHistory, SchemaVersion } from '../../../schemas';
import { registeredSchemas } from '../../../streams/postgres/schemaRegistry';
import { Command, stringOption, toJson, UsageError } from '../args';
import { databaseUrl, openPool } from '../../db/connect';
import { migrate } from '../../db/migrate';

const dirOption = { dir: { type: 'string' as const }, json: { type: 'boolean' as const } };

/** The schema files, plus every version registered in the database that the files lack. */
async function loadSchemas(dir: string | undefined, log: (m: string) => void) {
  const catalog = Catalog.load(dir ? path.resolve(dir) : undefined);
  if (dir && catalog.types().length === 0) throw new UsageError(`--dir ${dir}: no schema files (<type>.v<version>.avsc) there`);
  const url = await databaseUrl(log);
  await migrate(url);
  const pool = await openPool(url, { max: 1 });
  try {
    return { catalog, registered: await registeredSchemas(pool) };
  } finally {
    await pool.end();
  }
}

export const schemasList: Command = {
  usage: 'schemas list [--json] [--dir DIR]',
  summary: 'List event types, their schema versions and fingerprints',
  options: dirOption,
  help: `
Lists every type of the catalog (schemas/avro, or --dir DIR) with each version's
CRC-64-AVRO fingerprint and whether it is registered in floe.event_schemas.
  --json   one JSON array: [{"type","version","fingerprint","registered","current"}]`,
  async run(p, io) {
    const { catalog, registered } = await loadSchemas(stringOption(p, 'dir'), (m) => io.err(m));
    const known = new Set(registered.map((r) => r.fingerprint.toString('hex')));
    const rows = catalog.types().flatMap((type) => {
      const versions = catalog.versions(type);
      return versions.map((s) => ({ type, version: s.version, fingerprint: s.fingerprintHex, registered: known.has(s.fingerprintHex), current: s === versions[versions.length - 1] }));
    });
    if (p.values.json) io.out(toJson(rows));
    else for (const r of rows) io.out(`${r.type.padEnd(28)} v${r.version}  ${r.fingerprint}  ${r.registered ? 'registered' : 'not registered'}${r.current ? '  (current)' : ''}`);
    return 0;
  },
};

export const schemasCheck: Command = {
  usage: 'schemas check [--json] [--dir DIR]',
  summary: 'Check FULL compatibility of each type across all its versions',
  options: dirOption,
  help: `
For every type, the newest schema file must be FULL compatible (each can read the other's
data) with every older version, in the files and registered in floe.event_schemas
(transitive). A registered version whose file was edited in place is an error too.
Exit 0 when compatible; exit 1 with one explanation per problem otherwise.
  --dir DIR   check the schema files in DIR instead of schemas/avro
  --json      {"ok", "problems": [{"type","message"}]}`,
  async run(p, io) {
    const { catalog, registered } = await loadSchemas(stringOption(p, 'dir'), (m) => io.err(m));
    const problems: Array<{ type: string; message: string }> = [];
    for (const type of catalog.types()) {
      const files = catalog.versions(type);
      const history = new Map<number, SchemaVersion>(files.map((s) => [s.version, s]));
      for (const r of registered.filter((x) => x.type === type)) {
        const file = history.get(r.version);
        if (file && !file.fingerprint.equals(r.fingerprint)) {
          problems.push({ type, message: `${type} v${r.version} was changed in place: the file differs from the registered schema (fingerprint ${r.fingerprint.toString('hex')}); add a new version file instead` });
        } else if (!file) {
          history.set(r.version, new Catalog().addWriter(type, r.version, r.schema));
        }
      }
      const ordered = [...history.values()].sort((a, b) => a.version - b.version);
      for (const message of checkTypeHistory(ordered)) problems.push({ type, message });
    }
    if (p.values.json) io.out(toJson({ ok: problems.length === 0, problems }));
    else if (problems.length === 0) io.out(`all ${catalog.types().length} types are FULL compatible across their versions`);
    else problems.forEach((x) => io.err(`✗ ${x.message}`));
    return problems.length ? 1 : 0;
  },
};
