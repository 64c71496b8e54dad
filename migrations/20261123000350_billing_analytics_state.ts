/**
 * Private state of the `billing_analytics` projection (projections/billing/): the tenant's
 * usage facts kept by UTC day, independent of billing periods, so that exact distinct
 * counts survive any batch boundaries and a late `subscription.started` can re-periodize
 * the tenant's whole history.
 *
 * - `tenants`: the first `subscription.started` by (occurredAt, position) — anchor and id —
 *   and the first and last day of billing-relevant usage (the periods considered).
 * - `days`: counted emails by day of their first `email.sent`.
 * - `members`: the distinct mailboxes ('m'), campaigns ('c'), leads ('l') and domains
 *   ('d', derived from the mailboxes' `mailbox.created`) used on each day. The key puts
 *   the member before the day so "was it already used in this period" is one index probe.
 * - `mailboxes`: each mailbox's domain, from its first `mailbox.created`.
 * - `warmups`: every `warmup.started` / `warmup.stopped` (few per mailbox).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE floe.billing_analytics_tenants (
      tenant_id           text PRIMARY KEY,
      subscription_id     text,
      anchor_day          int,
      subscribed_at       timestamptz,
      subscribed_position bigint,
      first_day           date,
      last_day            date
    );
    CREATE TABLE floe.billing_analytics_days (
      tenant_id text NOT NULL,
      day       date NOT NULL,
      emails    int NOT NULL,
      PRIMARY KEY (tenant_id, day)
    );
    CREATE TABLE floe.billing_analytics_members (
      tenant_id text NOT NULL,
      kind      text NOT NULL CHECK (kind IN ('m', 'c', 'l', 'd')),
      member    text NOT NULL,
      day       date NOT NULL,
      PRIMARY KEY (tenant_id, kind, member, day)
    );
    CREATE TABLE floe.billing_analytics_mailboxes (
      tenant_id        text NOT NULL,
      mailbox_id       text NOT NULL,
      domain_id        text NOT NULL,
      created_at       timestamptz NOT NULL,
      created_position bigint NOT NULL,
      PRIMARY KEY (tenant_id, mailbox_id)
    );
    CREATE TABLE floe.billing_analytics_warmups (
      tenant_id   text NOT NULL,
      position    bigint NOT NULL,
      mailbox_id  text NOT NULL,
      occurred_at timestamptz NOT NULL,
      started     boolean NOT NULL,
      PRIMARY KEY (tenant_id, position)
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    `DROP TABLE IF EXISTS floe.billing_analytics_warmups, floe.billing_analytics_mailboxes, floe.billing_analytics_members,
       floe.billing_analytics_days, floe.billing_analytics_tenants`,
  );
}
