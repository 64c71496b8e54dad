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
  // Without the column an unsaved lane would look like any other and go on with a ledger that lacks entries.
  const { rows } = await knex.raw(`SELECT lane, shard FROM floe.projection_lanes WHERE ledger_at IS NOT NULL AND ledger_at <> position`);
  if (rows.length) {
    throw new Error(`lanes ${rows.map((r: { lane: string; shard: string }) => `${r.lane} (${r.shard})`).join(', ')} have email ledgers not saved yet: finish their rebuilds (floe rebuild) before migrating down`);
  }
  await knex.raw('ALTER TABLE floe.projection_lanes DROP COLUMN ledger_at');
}
