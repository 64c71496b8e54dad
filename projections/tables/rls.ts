/**
 * Row-level security for the projected tables (DESIGN §5).
 *
 * The projection writer owns the tables and is not subject to their policies (RLS is enabled,
 * not forced). Analysts connect as (or `SET ROLE` to) `floe_analyst`, set
 * `app.current_tenant_id`, and see that tenant's rows only; without the setting they see
 * none. They may read the partitioned parents only: a partition has no policy of its own,
 * so it gets no grant at all and reading one directly is denied.
 *
 * @example
 *   SET app.current_tenant_id = 'tenant-1';
 *   SET ROLE floe_analyst;
 *   SELECT * FROM campaign_analytics; -- tenant-1's rows only
 */
import { ident, type Relation } from './names';

export const ANALYST_ROLE = 'floe_analyst';
export const TENANT_SETTING = 'app.current_tenant_id';

/** The current tenant, NULL when the setting is absent (`true` = do not raise). */
export const CURRENT_TENANT_SQL = `current_setting('${TENANT_SETTING}', true)`;

/**
 * Create the role once per cluster. Roles are cluster-wide and many databases may be
 * migrated at the same time (tests do), so a concurrent creation (duplicate_object, or
 * unique_violation when both passed the existence check) counts as success.
 */
export const ENSURE_ANALYST_ROLE_SQL = `
  DO $$
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ANALYST_ROLE}') THEN
      CREATE ROLE ${ANALYST_ROLE} NOLOGIN;
    END IF;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
  END $$`;

export const GRANT_SCHEMA_USAGE_SQL = `GRANT USAGE ON SCHEMA public TO ${ANALYST_ROLE}`;
export const REVOKE_SCHEMA_USAGE_SQL = `REVOKE USAGE ON SCHEMA public FROM ${ANALYST_ROLE}`;

/** Enable RLS on a tenant table, add its `${name}_tenant` read policy, grant it to analysts. */
export function tenantPolicySql(table: Relation): string[] {
  return [
    `ALTER TABLE ${table.sql} ENABLE ROW LEVEL SECURITY`,
    `CREATE POLICY ${ident(`${table.name}_tenant`)} ON ${table.sql} FOR SELECT TO ${ANALYST_ROLE}
       USING (tenant_id = ${CURRENT_TENANT_SQL})`,
    `GRANT SELECT ON ${table.sql} TO ${ANALYST_ROLE}`,
  ];
}
