/**
 * Private state of the `warmup_analytics` projection (projections/olap/warmupAnalytics.ts):
 * the day's latest `warmup.progressed` gauges per (mailbox, day) with the (occurredAt,
 * position) of the event that set them, kept even for days without a row
 * (projections/olap/gauges.ts).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE floe.warmup_analytics_gauges (
      tenant_id           text NOT NULL,
      mailbox_id          text NOT NULL,
      day                 date NOT NULL,
      health_score        integer,
      progress_percentage integer,
      progress_at         timestamptz,
      progress_position   bigint,
      PRIMARY KEY (tenant_id, mailbox_id, day)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS floe.warmup_analytics_gauges');
}
