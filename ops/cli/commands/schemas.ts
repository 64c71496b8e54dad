import * as path from 'node:path';
import { Catalog } from '../../../schemas';
import { registeredSchemas, schemaProblems } from '../../../streams/postgres/schemaRegistry';
import { Command, stringOption, toJson, UsageError, withPath } from '../args';
import { databaseUrl, openPool } from '../../db/connect';
import { migrate } from '../../db/migrate';

const dirOption = { dir: { type: 'string' as const }, json: { type: 'boolean' as const } };

/**
 * The schema files, and the versions registered in the database. The files are not
 * registered here: a breaking one must be explained, not stored for good.
 */
async function loadSchemas(dir: string | undefined, log: (m: string) => void) {
  const catalog = dir ? withPath('--dir', dir, (d) => Catalog.load(path.resolve(d))) : Catalog.load();
  if (dir && catalog.types().length === 0) throw new UsageError(`--dir ${dir}: no schema files (<type>.v<version>.avsc) there`);
  const url = await databaseUrl(log);
  await migrate(url, { register: false });
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
CRC-64-AVRO fingerprint and whether it is registered in floe.event_schemas, and the
registered versions that have no file here ("registered, no file": written by another
producer, or a file removed); the files are not registered by this command.
  --dir DIR   list the schema files in DIR instead of schemas/avro
  --json      one JSON array: [{"type","version","fingerprint","registered","file","current"}]`,
  async run(p, io) {
    const { catalog, registered } = await loadSchemas(stringOption(p, 'dir'), (m) => io.err(m));
    const known = new Set(registered.map((r) => r.fingerprint.toString('hex')));
    const rows = catalog.types().flatMap((type) => {
      const versions = catalog.versions(type);
      return versions.map((s) => ({ type, version: s.version, fingerprint: s.fingerprintHex, registered: known.has(s.fingerprintHex), file: true, current: s === versions[versions.length - 1] }));
    });
    // Versions registered (events may be written with them) whose file is not here.
    const files = new Set(rows.map((r) => r.fingerprint));
    for (const r of registered) {
      const fingerprint = r.fingerprint.toString('hex');
      if (!files.has(fingerprint)) rows.push({ type: r.type, version: r.version, fingerprint, registered: true, file: false, current: false });
    }
    rows.sort((a, b) => (a.type === b.type ? a.version - b.version : a.type < b.type ? -1 : 1));
    if (p.values.json) io.out(toJson(rows));
    else {
      for (const r of rows) {
        const where = r.registered ? (r.file ? 'registered' : 'registered, no file') : 'not registered';
        io.out(`${r.type.padEnd(28)} v${r.version}  ${r.fingerprint}  ${where}${r.current ? '  (current)' : ''}`);
      }
    }
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
    const problems = schemaProblems(catalog, registered).map(({ type, message }) => ({ type, message }));
    if (p.values.json) io.out(toJson({ ok: problems.length === 0, problems }));
    else if (problems.length === 0) io.out(`all ${catalog.types().length} types are FULL compatible across their versions`);
    else problems.forEach((x) => io.err(`✗ ${x.message}`));
    return problems.length ? 1 : 0;
  },
};
