/**
 * The projection runtime's own tables (DESIGN §5, runtime).
 *
 * A *lane* is a group of projections folded together from one read of the store: they
 * share one position and one email ledger (the context of every email whose first
 * `email.sent` the lane has seen, and what has happened to it so far), which is what
 * parking, cross-tenant checks and "first of its kind per email" counting need. The
 * ledger is a pure function of (shard, position), so it is runtime state, not a
 * projection's table. Every row here is keyed by lane and shard (`I/N`).
 *
 * - `projection_checkpoints`: per (projection, shard) the position folded so far, the
 *   projection version that folded it and the lane it belongs to; written in the same
 *   transaction as the projected rows.
 * - `projection_lanes`: the lane's position (the ledger's).
 * - `projection_email_ledger`: one row per email the lane has seen sent.
 * - `projection_parked`: lifecycle events whose `email.sent` has not been seen yet.
 * - `dead_letters`: events the lane could not apply, with the error; retried on request.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE floe.projection_checkpoints (
      projection  text NOT NULL,
      shard       text NOT NULL,
      lane        text NOT NULL,
      version     int NOT NULL,
      position    bigint NOT NULL DEFAULT 0,
      events      bigint NOT NULL DEFAULT 0,
      ignored     bigint NOT NULL DEFAULT 0,
      updated_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (projection, shard)
    );

    CREATE TABLE floe.projection_lanes (
      lane        text NOT NULL,
      shard       text NOT NULL,
      position    bigint NOT NULL DEFAULT 0,
      updated_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (lane, shard)
    );

    CREATE TABLE floe.projection_email_ledger (
      lane             text NOT NULL,
      shard            text NOT NULL,
      email_id         text NOT NULL,
      tenant_id        text NOT NULL,
      campaign_id      text,
      step_id          text,
      mailbox_id       text NOT NULL,
      lead_id          text NOT NULL,
      company_id       text,
      message_id       text,
      sent_at          timestamptz NOT NULL,
      sent_position    bigint NOT NULL,
      delivered_at     timestamptz,
      first_opened_at  timestamptz,
      human_opened     boolean NOT NULL DEFAULT false,
      first_clicked_at timestamptz,
      replied_at       timestamptz,
      bounced_at       timestamptz,
      bounce_type      text,
      hard_bounced     boolean NOT NULL DEFAULT false,
      failed_at        timestamptz,
      unsubscribed_at  timestamptz,
      complained_at    timestamptz,
      open_count       int NOT NULL DEFAULT 0,
      click_count      int NOT NULL DEFAULT 0,
      PRIMARY KEY (lane, shard, email_id)
    );

    CREATE TABLE floe.projection_parked (
      lane       text NOT NULL,
      shard      text NOT NULL,
      email_id   text NOT NULL,
      position   bigint NOT NULL,
      parked_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (lane, shard, position)
    );
    CREATE INDEX projection_parked_email ON floe.projection_parked (lane, shard, email_id);

    CREATE TABLE floe.dead_letters (
      id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      lane         text NOT NULL,
      shard        text NOT NULL,
      projection   text,
      event_id     uuid NOT NULL,
      position     bigint NOT NULL,
      type         text NOT NULL,
      tenant_id    text NOT NULL,
      error        text NOT NULL,
      retriable    boolean NOT NULL DEFAULT true,
      attempts     int NOT NULL DEFAULT 1,
      failed_at    timestamptz NOT NULL DEFAULT now(),
      resolved_at  timestamptz,
      UNIQUE (lane, shard, event_id)
    );
    CREATE INDEX dead_letters_open ON floe.dead_letters (lane, shard) WHERE resolved_at IS NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS floe.dead_letters, floe.projection_parked, floe.projection_email_ledger,
      floe.projection_lanes, floe.projection_checkpoints;
  `);
}
