/**
 * Private state of the `mailbox_analytics` projection (projections/olap/mailboxAnalytics.ts):
 * each mailbox's company (from `mailbox.created`), and the warm-up gauges of every
 * (mailbox, day) with the (occurredAt, position) of the event that set them, kept even
 * for days without a row (projections/olap/gauges.ts).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE floe.mailbox_analytics_mailboxes (
      tenant_id  text NOT NULL,
      mailbox_id text NOT NULL,
      company_id text,
      PRIMARY KEY (tenant_id, mailbox_id)
    );
    CREATE TABLE floe.mailbox_analytics_gauges (
      tenant_id         text NOT NULL,
      mailbox_id        text NOT NULL,
      day               date NOT NULL,
      warmup_status     text,
      status_at         timestamptz,
      status_position   bigint,
      health_score      integer,
      progress_at       timestamptz,
      progress_position bigint,
      PRIMARY KEY (tenant_id, mailbox_id, day)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS floe.mailbox_analytics_gauges, floe.mailbox_analytics_mailboxes');
}
