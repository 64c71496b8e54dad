/**
 * The command table of `floe`; order is the order of `floe --help`. A command's module (and
 * what it pulls in: pg, avsc, kafkajs, knex …) is loaded only when that command runs, so a
 * short command does not pay for every other one's start-up.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
import type { Command } from '../args';

export const COMMANDS: Record<string, () => Command> = {
  start: () => (require('./start') as typeof import('./start')).start,
  migrate: () => (require('./migrate') as typeof import('./migrate')).migrateCommand,
  generate: () => (require('./generate') as typeof import('./generate')).generate,
  append: () => (require('./append') as typeof import('./append')).append,
  read: () => (require('./read') as typeof import('./read')).read,
  project: () => (require('./project') as typeof import('./project')).project,
  rebuild: () => (require('./rebuild') as typeof import('./rebuild')).rebuild,
  status: () => (require('./status') as typeof import('./status')).status,
  'billing show': () => (require('./billing') as typeof import('./billing')).billingShow,
  'billing close': () => (require('./billing') as typeof import('./billing')).billingClose,
  'billing recompute': () => (require('./billing') as typeof import('./billing')).billingRecompute,
  'dead-letters list': () => (require('./deadLetters') as typeof import('./deadLetters')).deadLettersList,
  'dead-letters retry': () => (require('./deadLetters') as typeof import('./deadLetters')).deadLettersRetry,
  'schemas list': () => (require('./schemas') as typeof import('./schemas')).schemasList,
  'schemas check': () => (require('./schemas') as typeof import('./schemas')).schemasCheck,
  'kafka produce': () => (require('./kafka') as typeof import('./kafka')).kafkaProduce,
  'kafka ingest': () => (require('./kafka') as typeof import('./kafka')).kafkaIngest,
  'kafka publish': () => (require('./kafka') as typeof import('./kafka')).kafkaPublish,
  'db url': () => (require('./db') as typeof import('./db')).dbUrl,
  'db stop': () => (require('./db') as typeof import('./db')).dbStop,
  bench: () => (require('./bench') as typeof import('./bench')).bench,
};
