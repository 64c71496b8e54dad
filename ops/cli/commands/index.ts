/** The command table of `floe`; order is the order of `floe --help`. */
import type { Command } from '../args';
import { append } from './append';
import { bench } from './bench';
import { billingClose, billingRecompute, billingShow } from './billing';
import { dbStop, dbUrl } from './db';
import { deadLettersList, deadLettersRetry } from './deadLetters';
import { generate } from './generate';
import { kafkaIngest, kafkaPublish } from './kafka';
import { migrateCommand } from './migrate';
import { project } from './project';
import { rebuild } from './rebuild';
import { read } from './read';
import { schemasCheck, schemasList } from './schemas';
import { start } from './start';
import { status } from './status';

export const COMMANDS: Record<string, Command> = {
  start,
  migrate: migrateCommand,
  generate,
  append,
  read,
  project,
  rebuild,
  status,
  'billing show': billingShow,
  'billing close': billingClose,
  'billing recompute': billingRecompute,
  'dead-letters list': deadLettersList,
  'dead-letters retry': deadLettersRetry,
  'schemas list': schemasList,
  'schemas check': schemasCheck,
  'kafka ingest': kafkaIngest,
  'kafka publish': kafkaPublish,
  'db url': dbUrl,
  'db stop': dbStop,
  bench,
};
