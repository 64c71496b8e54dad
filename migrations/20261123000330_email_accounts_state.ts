/**
 * Private state of the `email_accounts` projection (projections/oltp/emailAccounts.ts):
 * every column of the public row plus the occurredAt of the event that set each group,
 * so the latest warm-up and progress events win whatever their arrival order.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE floe.email_accounts_state (
      tenant_id           text NOT NULL,
      mailbox_id          text NOT NULL,
      created_at          timestamptz,
      domain_id           text,
      company_id          text,
      provider            text,
      status_changed_at   timestamptz,
      status              text,
      warmup_at           timestamptz,
      warmup_status       text,
      warmup_started_at   timestamptz,
      target_daily_volume integer,
      progress_at         timestamptz,
      health_score        integer,
      progress_percentage integer,
      PRIMARY KEY (tenant_id, mailbox_id)
    )
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS floe.email_accounts_state');
}
