/**
 * Private state of the `campaign_analytics` projection (projections/olap/campaignAnalytics.ts):
 * each campaign's company, and the (campaign, lead, day) completions already counted, so
 * `completed_leads` counts distinct leads.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE floe.campaign_analytics_campaigns (
      tenant_id   text NOT NULL,
      campaign_id text NOT NULL,
      company_id  text,
      PRIMARY KEY (tenant_id, campaign_id)
    );
    CREATE TABLE floe.campaign_analytics_completions (
      tenant_id   text NOT NULL,
      campaign_id text NOT NULL,
      lead_id     text NOT NULL,
      day         date NOT NULL,
      PRIMARY KEY (tenant_id, campaign_id, lead_id, day)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS floe.campaign_analytics_completions, floe.campaign_analytics_campaigns');
}
