/**
 * `floe.jsonb_or_string(text)` for the admin log projections (projections/logs/admin*.ts):
 * the text as jsonb when PostgreSQL parses it, else the text itself as a JSON string value;
 * NULL stays NULL. `admin.action` oldValues/newValues and the billing events' figures are
 * JSON text written by producers, and a malformed one must never fail a batch. Parsing in
 * PostgreSQL rather than in JavaScript keeps exactly PostgreSQL's idea of valid (it refuses
 * some texts JSON.parse accepts: `\u0000`, lone surrogate escapes, numbers beyond numeric)
 * and numbers at full precision.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION floe.jsonb_or_string(t text) RETURNS jsonb
      LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
    BEGIN
      RETURN t::jsonb;
    EXCEPTION WHEN data_exception OR program_limit_exceeded THEN -- bad syntax or escapes; too deep
      RETURN to_jsonb(t);
    END
    $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION IF EXISTS floe.jsonb_or_string(text)');
}
