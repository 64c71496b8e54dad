/**
 * Private state of the `analytics_hourly` projection (projections/olap/analyticsHourly.ts):
 * per (tenant, hour) the sum and number of the hour's `deliveryMs` values, so that
 * `avg_delivery_ms` is the exact mean over all batches, not a mean of batch means.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE floe.analytics_hourly_delivery (
      tenant_id     text NOT NULL,
      hour          timestamptz NOT NULL,
      delivery_sum  bigint NOT NULL,
      deliveries    bigint NOT NULL,
      PRIMARY KEY (tenant_id, hour)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS floe.analytics_hourly_delivery');
}
