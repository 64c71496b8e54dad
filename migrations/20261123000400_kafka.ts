/**
 * Kafka transport state (DESIGN §7).
 *
 * `floe.kafka_publish_checkpoints`: per topic, the global position of the last event that
 * `floe kafka publish` sent and the broker acknowledged. Advanced only after the
 * acknowledgement, so a crash in between re-sends (at-least-once), never skips.
 * `published` counts messages sent, re-sends included.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS floe.kafka_publish_checkpoints (
      topic      text PRIMARY KEY,
      position   bigint NOT NULL DEFAULT 0,
      published  bigint NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS floe.kafka_publish_checkpoints');
}
