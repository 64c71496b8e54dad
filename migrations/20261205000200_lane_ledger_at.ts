/**
 * `projection_lanes.ledger_at`: NULL when the lane's saved email ledger is in step with its
 * position (it is saved with every batch). A lane that keeps its ledger in memory (`floe
 * rebuild` from position 0) sets it to the position its saved ledger reflects (0) and back to
 * NULL once the ledger is saved; a lane found with another value (its run died before saving)
 * has a ledger that lacks entries, and its projections are folded again from the start.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE floe.projection_lanes ADD COLUMN ledger_at bigint');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE floe.projection_lanes DROP COLUMN ledger_at');
}
