/**
 * Private state of `campaign_analytics` (projections/olap/campaignAnalytics.ts, version 3):
 * the company of each row's first email that names one, so that a row's `company_id` (that
 * company, else the campaign's) does not depend on where batches began.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE floe.campaign_analytics_companies (
      tenant_id   text NOT NULL,
      campaign_id text NOT NULL,
      day         date NOT NULL,
      company_id  text NOT NULL,
      PRIMARY KEY (tenant_id, campaign_id, day)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS floe.campaign_analytics_companies');
}
