/**
 * Private state of the `campaign_sequence_steps` projection (projections/oltp/campaigns.ts):
 * the public row plus the occurredAt of the step's winning definition.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE floe.campaign_sequence_steps_state (
      tenant_id        text NOT NULL,
      campaign_id      text NOT NULL,
      step_id          text NOT NULL,
      defined_at       timestamptz,
      step_order       integer,
      step_type        text,
      executed_count   integer NOT NULL DEFAULT 0,
      last_executed_at timestamptz,
      PRIMARY KEY (tenant_id, campaign_id, step_id)
    )
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS floe.campaign_sequence_steps_state');
}
