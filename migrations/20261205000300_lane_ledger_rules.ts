/**
 * `projection_lanes.ledger_rules`: the version of the email ledger's rules (`LEDGER_RULES` in
 * projections/runtime/ledger.ts) that built the lane's ledger and parked events from position 0,
 * or NULL when code of another version folded part of them. A rebuild whose shadow ends at the
 * live lane's position keeps the rebuilt projection in that lane, on the ledger the lane has,
 * instead of saving the ledger it built: only when the two were built by the same rules.
 * Lanes that exist when the migration runs were built by code of unknown rules: NULL.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE floe.projection_lanes ADD COLUMN ledger_rules int');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE floe.projection_lanes DROP COLUMN ledger_rules');
}
