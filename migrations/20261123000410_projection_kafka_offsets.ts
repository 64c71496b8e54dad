/**
 * Projection workers fed by Kafka (`floe project --source kafka`, DESIGN §7).
 *
 * `floe.projection_kafka_offsets`: per lane of a Kafka shard (`kafka:TOPIC/PARTITION`), the
 * offset of the last message of that partition the lane has taken (folded, or skipped as a
 * re-send), written in the same transaction as the projected rows and the lane's position.
 * A worker that gets the partition seeks to `offset + 1`: this row, not the group's committed
 * offset, says where the lane is. `position` is the lane position the offset was written
 * with; an offset whose position is not the lane's any more (the lane was reset) is ignored.
 * `high_watermark` is the partition's end when the batch was fetched (lag for floe status).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE floe.projection_kafka_offsets (
      lane           text NOT NULL,
      shard          text NOT NULL,
      topic          text NOT NULL,
      partition      int NOT NULL,
      position       bigint NOT NULL,
      "offset"       bigint NOT NULL,
      high_watermark bigint NOT NULL,
      group_id       text NOT NULL,
      updated_at     timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (lane, shard),
      FOREIGN KEY (lane, shard) REFERENCES floe.projection_lanes (lane, shard) ON DELETE CASCADE
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS floe.projection_kafka_offsets');
}
