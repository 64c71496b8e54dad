/**
 * The event store tables (DESIGN §4).
 *
 * `floe.events` is append-only: nothing ever updates or deletes a row. Positions come from
 * a sequence; appends take a transaction-scoped advisory lock before they draw positions
 * and hold it until commit, so positions are handed out in commit order and a reader that
 * pages by position never skips an event committed late by a slower writer.
 * `transaction_id` records the writing transaction (xid8) for audits and tooling.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE SCHEMA IF NOT EXISTS floe;

    CREATE TABLE IF NOT EXISTS floe.event_schemas (
      fingerprint   bytea PRIMARY KEY CHECK (length(fingerprint) = 8),
      type          text NOT NULL,
      version       int NOT NULL,
      schema        jsonb NOT NULL,
      canonical     text NOT NULL,
      registered_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (type, version)
    );

    CREATE TABLE IF NOT EXISTS floe.events (
      global_position    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      transaction_id     xid8 NOT NULL DEFAULT pg_current_xact_id(),
      event_id           uuid NOT NULL UNIQUE,
      stream_id          text NOT NULL,
      stream_position    bigint NOT NULL,
      type               text NOT NULL,
      tenant_id          text NOT NULL,
      occurred_at        timestamptz NOT NULL,
      recorded_at        timestamptz NOT NULL DEFAULT now(),
      schema_fingerprint bytea NOT NULL REFERENCES floe.event_schemas (fingerprint),
      data               bytea NOT NULL,
      metadata           jsonb,
      UNIQUE (stream_id, stream_position)
    );
    CREATE INDEX IF NOT EXISTS events_tenant_idx ON floe.events (tenant_id, global_position);
    CREATE INDEX IF NOT EXISTS events_type_idx ON floe.events (type text_pattern_ops, global_position);

    CREATE OR REPLACE FUNCTION floe.events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'floe.events is append-only: % is not allowed', TG_OP;
    END $$;
    DROP TRIGGER IF EXISTS events_immutable ON floe.events;
    CREATE TRIGGER events_immutable BEFORE UPDATE OR DELETE ON floe.events
      FOR EACH ROW EXECUTE FUNCTION floe.events_immutable();
    DROP TRIGGER IF EXISTS events_no_truncate ON floe.events;
    CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON floe.events
      FOR EACH STATEMENT EXECUTE FUNCTION floe.events_immutable();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS floe.events; DROP TABLE IF EXISTS floe.event_schemas; DROP FUNCTION IF EXISTS floe.events_immutable();');
}
