/**
 * Materialized views over the projected tables (DESIGN §5).
 *
 * `campaign_performance_summary`: one row per (tenant_id, campaign_id) over
 * `campaign_analytics`: company_id, the sum of every counter, first_day / last_day, and the
 * open / click / reply / bounce rates (fractions rounded to 4 places, NULL when nothing was
 * sent). Sums are `bigint` (node-pg returns them as strings), rates `numeric` (strings too).
 *
 * Row-level security does not apply to materialized views, so the view itself is not granted
 * to analysts; they read `tenant_${name}`, a security-barrier view filtering by the current
 * tenant (it runs with its owner's rights, and the barrier keeps an analyst's own functions
 * from seeing rows before the filter does).
 *
 * @example
 *   REFRESH MATERIALIZED VIEW CONCURRENTLY campaign_performance_summary; -- refreshSql()
 *   SELECT * FROM tenant_campaign_performance_summary;                   -- as floe_analyst
 */
import { FloeError } from '../../schemas/errors';
import { tableDef } from './ddl';
import { derivedRelation, ident, relation, type Relation } from './names';
import { ANALYST_ROLE, CURRENT_TENANT_SQL } from './rls';

export interface MaterializedViewDef {
  readonly name: string;
  /** The table it summarizes (live name). */
  readonly source: string;
  /** Columns of its UNIQUE index, which REFRESH ... CONCURRENTLY needs. */
  readonly key: readonly string[];
  /**
   * SQL creating the materialized view `target` over `sourceTable` (populated), its unique
   * index, and the analysts' tenant view `tenant_${target}` with its grant.
   */
  create(target: string, sourceTable: string): string[];
  /** SQL dropping the tenant view and the materialized view `target`. */
  dropSql(target: string): string[];
  /** SQL refreshing `target`, by default CONCURRENTLY (readers are not blocked). */
  refreshSql(target: string, options?: { concurrently?: boolean }): string;
  /** The analysts' tenant-filtered view of `target`. */
  tenantView(target: string): Relation;
}

const tenantView = (target: string): Relation => {
  const view = relation(target);
  return derivedRelation(view, `tenant_${view.name}`);
};

const RATES: Array<[name: string, counter: string]> = [
  ['open_rate', 'opened_tracked'],
  ['click_rate', 'clicked_tracked'],
  ['reply_rate', 'replied'],
  ['bounce_rate', 'bounced'],
];

function campaignPerformanceSummary(): MaterializedViewDef {
  const source = tableDef('campaign_analytics');
  const counters = source.columns.filter((c) => c.role === 'counter').map((c) => c.name);
  const key = ['tenant_id', 'campaign_id'];
  return {
    name: 'campaign_performance_summary',
    source: source.name,
    key,
    create(target, sourceTable) {
      const view = relation(target);
      const select = [
        ...key,
        'max(company_id) AS company_id',
        ...counters.map((c) => `sum(${c}) AS ${c}`),
        'min(day) AS first_day',
        'max(day) AS last_day',
        ...RATES.map(([name, c]) => `round(sum(${c})::numeric / NULLIF(sum(sent), 0), 4) AS ${name}`),
      ];
      const tenant = tenantView(target);
      return [
        `CREATE MATERIALIZED VIEW ${view.sql} AS\n  SELECT ${select.join(',\n         ')}\n  FROM ${relation(sourceTable).sql}\n  GROUP BY ${key.join(', ')}`,
        `CREATE UNIQUE INDEX ${ident(`${view.name}_key_idx`)} ON ${view.sql} (${key.join(', ')})`,
        `CREATE VIEW ${tenant.sql} WITH (security_barrier) AS SELECT * FROM ${view.sql} WHERE tenant_id = ${CURRENT_TENANT_SQL}`,
        `GRANT SELECT ON ${tenant.sql} TO ${ANALYST_ROLE}`,
      ];
    },
    dropSql(target) {
      return [`DROP VIEW IF EXISTS ${tenantView(target).sql}`, `DROP MATERIALIZED VIEW IF EXISTS ${relation(target).sql}`];
    },
    refreshSql(target, { concurrently = true } = {}) {
      return `REFRESH MATERIALIZED VIEW ${concurrently ? 'CONCURRENTLY ' : ''}${relation(target).sql}`;
    },
    tenantView,
  };
}

export const MATERIALIZED_VIEWS: readonly MaterializedViewDef[] = [campaignPerformanceSummary()];

export function materializedViewDef(name: string): MaterializedViewDef {
  const def = MATERIALIZED_VIEWS.find((v) => v.name === name);
  if (!def) throw new FloeError('UNKNOWN_TABLE', `no materialized view named ${name}`, { context: { view: name } });
  return def;
}
