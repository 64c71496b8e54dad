/**
 * The email ledger keeps each entry as one text value (`state`) instead of 22 typed
 * columns: PostgreSQL takes one text column in several times faster, and the ledger is
 * written for every email a lane sees. Nothing reads it by field; `projections/runtime/
 * ledger.ts` (`encodeState`, `decodeState`) owns the format, and the conversion below
 * follows it: fields separated by U+001F; strings `=value` (null: empty) with `\` and
 * U+001F escaped as `\\` and `\u`; instants as epoch milliseconds (null: empty); booleans 1/0.
 */
import type { Knex } from 'knex';

// chr(92) is a backslash (no dependence on standard_conforming_strings).
const str = (c: string) => `COALESCE('=' || replace(replace(${c}, chr(92), chr(92) || chr(92)), chr(31), chr(92) || 'u'), '')`;
const ms = (c: string) => `COALESCE(((extract(epoch FROM ${c}) * 1000)::int8)::text, '')`;
const bool = (c: string) => `CASE WHEN ${c} THEN '1' ELSE '0' END`;

const STATE_COLUMNS: Array<[string, (c: string) => string, string]> = [
  ['tenant_id', str, 'text NOT NULL'],
  ['campaign_id', str, 'text'],
  ['step_id', str, 'text'],
  ['mailbox_id', str, 'text NOT NULL'],
  ['lead_id', str, 'text NOT NULL'],
  ['company_id', str, 'text'],
  ['message_id', str, 'text'],
  ['sent_at', ms, 'timestamptz NOT NULL'],
  ['sent_position', (c) => `${c}::text`, 'bigint NOT NULL'],
  ['delivered_at', ms, 'timestamptz'],
  ['first_opened_at', ms, 'timestamptz'],
  ['human_opened', bool, 'boolean NOT NULL DEFAULT false'],
  ['first_clicked_at', ms, 'timestamptz'],
  ['replied_at', ms, 'timestamptz'],
  ['bounced_at', ms, 'timestamptz'],
  ['bounce_type', str, 'text'],
  ['hard_bounced', bool, 'boolean NOT NULL DEFAULT false'],
  ['failed_at', ms, 'timestamptz'],
  ['unsubscribed_at', ms, 'timestamptz'],
  ['complained_at', ms, 'timestamptz'],
  ['open_count', (c) => `${c}::text`, 'int NOT NULL DEFAULT 0'],
  ['click_count', (c) => `${c}::text`, 'int NOT NULL DEFAULT 0'],
];

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE floe.projection_email_ledger_next (
      lane      text NOT NULL,
      shard     text NOT NULL,
      email_id  text NOT NULL,
      state     text NOT NULL,
      PRIMARY KEY (lane, shard, email_id)
    );
    INSERT INTO floe.projection_email_ledger_next (lane, shard, email_id, state)
    SELECT lane, shard, email_id, concat_ws(chr(31), ${STATE_COLUMNS.map(([c, f]) => f(c)).join(', ')})
      FROM floe.projection_email_ledger;
    DROP TABLE floe.projection_email_ledger;
    ALTER TABLE floe.projection_email_ledger_next RENAME TO projection_email_ledger;
    ALTER INDEX floe.projection_email_ledger_next_pkey RENAME TO projection_email_ledger_pkey;
  `);
}

export async function down(knex: Knex): Promise<void> {
  const field = (i: number) => `split_part(state, chr(31), ${i + 1})`;
  // Split on escaped backslashes, turn `\u` back into U+001F within each part, join with backslashes.
  const back = (i: number, type: string): string => {
    const f = field(i);
    const unescaped = `array_to_string(ARRAY(SELECT replace(part, chr(92) || 'u', chr(31)) FROM unnest(string_to_array(substr(${f}, 2), chr(92) || chr(92))) WITH ORDINALITY AS p(part, n) ORDER BY n), chr(92))`;
    if (type.startsWith('text')) return `CASE WHEN ${f} = '' THEN NULL ELSE ${unescaped} END`;
    if (type.startsWith('timestamptz')) return `CASE WHEN ${f} = '' THEN NULL ELSE to_timestamp(${f}::numeric / 1000) END`;
    if (type.startsWith('boolean')) return `${f} = '1'`;
    return `${f}::${type.split(' ')[0]}`;
  };
  await knex.raw(`
    CREATE TABLE floe.projection_email_ledger_prev (
      lane text NOT NULL, shard text NOT NULL, email_id text NOT NULL,
      ${STATE_COLUMNS.map(([c, , type]) => `${c} ${type}`).join(',\n      ')},
      PRIMARY KEY (lane, shard, email_id)
    );
    INSERT INTO floe.projection_email_ledger_prev (lane, shard, email_id, ${STATE_COLUMNS.map(([c]) => c).join(', ')})
    SELECT lane, shard, email_id, ${STATE_COLUMNS.map(([, , type], i) => back(i, type)).join(', ')}
      FROM floe.projection_email_ledger;
    DROP TABLE floe.projection_email_ledger;
    ALTER TABLE floe.projection_email_ledger_prev RENAME TO projection_email_ledger;
    ALTER INDEX floe.projection_email_ledger_prev_pkey RENAME TO projection_email_ledger_pkey;
  `);
}
