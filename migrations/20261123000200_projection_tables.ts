/**
 * The projected tables (DESIGN §5): OLTP state, the month-partitioned OLAP tables and
 * drill-down logs, the admin tables, the `campaign_performance_summary` materialized view,
 * row-level security for the `floe_analyst` role, and month partitions from the current
 * month to three ahead so that a fresh install has some. The DDL itself lives in
 * `projections/tables/`; later months are created by the projections as they need them.
 *
 * `down` drops the tables and views but keeps the role: roles are cluster-wide and other
 * databases of the cluster may use it.
 */
import type { Knex } from 'knex';
import {
  ENSURE_ANALYST_ROLE_SQL,
  ensurePartitionsAhead,
  GRANT_SCHEMA_USAGE_SQL,
  MATERIALIZED_VIEWS,
  REVOKE_SCHEMA_USAGE_SQL,
  TABLES,
  type SqlClient,
} from '../projections/tables';

const MONTHS_AHEAD = 3;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    [
      ENSURE_ANALYST_ROLE_SQL,
      GRANT_SCHEMA_USAGE_SQL,
      ...TABLES.flatMap((t) => t.create(t.name)),
      ...MATERIALIZED_VIEWS.flatMap((v) => v.create(v.name, v.source)),
    ].join(';\n'),
  );
  // knex runs each migration in a transaction: the partitions join it.
  await ensurePartitionsAhead(sqlClient(knex), MONTHS_AHEAD, { inTransaction: true });
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    [
      ...MATERIALIZED_VIEWS.flatMap((v) => v.dropSql(v.name)),
      ...[...TABLES].reverse().flatMap((t) => t.dropSql(t.name)),
      REVOKE_SCHEMA_USAGE_SQL,
    ].join(';\n'),
  );
}

/** knex.raw without bindings passes the SQL through untouched and resolves to node-pg's result. */
const sqlClient = (knex: Knex): SqlClient => ({ query: async (sql) => knex.raw(sql) });
