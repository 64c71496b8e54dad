/**
 * The DDL of every projected table (DESIGN §5), as data: columns in contract order, the
 * primary key, the monthly partition column, indexes; `create(target)` turns a definition
 * into SQL for any target name (the live table or a blue/green shadow copy).
 *
 * Column order: key columns first, then the other columns exactly as the oracle README
 * (`ops/generate/oracle/README.md`) lists them, then generated rate columns, then
 * `updated_at`. Conventions:
 * - ids are `text` (NOT NULL in keys); the single-email context ids elsewhere are nullable;
 * - counters are `integer NOT NULL DEFAULT 0`; gauges (`health_score`,
 *   `progress_percentage`, `avg_delivery_ms`) are nullable `integer`: NULL = no value that day;
 * - rates are `numeric` fractions in [0, 1] rounded to 4 places, NULL when the denominator is 0;
 * - `updated_at` defaults to now() on insert only: an upsert must set it itself.
 *
 * Partitioned tables are `PARTITION BY RANGE` on their month column with a DEFAULT partition
 * `${target}_default`, so no row is ever rejected; month partitions `${target}_pYYYYMM` come
 * from `partitions.ts`. Every table gets row-level security (`rls.ts`).
 */
import { FloeError } from '../../schemas/errors';
import { derivedRelation, ident, relation } from './names';
import { tenantPolicySql } from './rls';

export type TableKind = 'oltp' | 'olap' | 'log' | 'admin';

/**
 * What a column is for, so that writers can be generic: `key` columns form the primary key;
 * `counter`s are integer counts (default 0); `value`s are everything else a projection
 * writes; `generated` columns are computed by PostgreSQL and must never be written;
 * `meta` is bookkeeping (`updated_at`).
 */
export type ColumnRole = 'key' | 'counter' | 'value' | 'generated' | 'meta';

export interface ColumnDef {
  readonly name: string;
  /** SQL type and column constraints, e.g. `integer NOT NULL DEFAULT 0`. */
  readonly type: string;
  readonly role: ColumnRole;
}

export interface TableDef {
  readonly name: string;
  readonly kind: TableKind;
  /** The column the table is `PARTITION BY RANGE`d on, one partition per month. */
  readonly partitionColumn?: string;
  /** Primary key columns, in order (they come first among the columns, except in logs). */
  readonly key: readonly string[];
  /** Every column, in table order. */
  readonly columns: readonly ColumnDef[];
  /**
   * SQL statements creating the table as `target` (`name` or `schema.name`): the (parent)
   * table with its primary key, the DEFAULT partition, indexes, RLS and its policy, the
   * analyst grant. Month partitions are not included (see `partitions.ts`). The role
   * `floe_analyst` must exist (`ENSURE_ANALYST_ROLE_SQL`).
   */
  create(target: string): string[];
  /** SQL dropping `target` with its partitions, indexes and policy (not its dependent views). */
  dropSql(target: string): string[];
}

interface TableSpec {
  name: string;
  kind: TableKind;
  partitionColumn?: string;
  columns: ColumnDef[];
  /** Secondary indexes: name suffix → column list; named `${target}_${suffix}_idx`. */
  indexes?: Record<string, string>;
}

// Column builders.
const key = (name: string, type = 'text'): ColumnDef => ({ name, type: `${type} NOT NULL`, role: 'key' });
const value = (name: string, type = 'text'): ColumnDef => ({ name, type, role: 'value' });
const required = (name: string, type = 'text'): ColumnDef => value(name, `${type} NOT NULL`);
const counter = (name: string): ColumnDef => ({ name, type: 'integer NOT NULL DEFAULT 0', role: 'counter' });
const oneOf = (name: string, values: string[]): string => `CHECK (${name} IN (${values.map((v) => `'${v}'`).join(', ')}))`;
/** numerator / denominator as a fraction rounded to 4 places; NULL when nothing was sent. */
const rate = (name: string, numerator: string, denominator: string): ColumnDef => ({
  name,
  type: `numeric GENERATED ALWAYS AS (CASE WHEN ${denominator} > 0 THEN round(${numerator}::numeric / ${denominator}, 4) END) STORED`,
  role: 'generated',
});
const UPDATED_AT: ColumnDef = { name: 'updated_at', type: 'timestamptz NOT NULL DEFAULT now()', role: 'meta' };
/** When an admin row was projected (its event time is occurred_at). */
const CREATED_AT: ColumnDef = { name: 'created_at', type: 'timestamptz NOT NULL DEFAULT now()', role: 'meta' };

/** The per-email counters of DESIGN §5, in the oracle's order. */
export const EMAIL_COUNTER_NAMES = [
  'sent',
  'delivered',
  'bounced',
  'opened_tracked',
  'human_opened',
  'clicked_tracked',
  'replied',
  'unsubscribed',
  'spam_complaints',
  'open_events',
  'click_events',
] as const;
const EMAIL_COUNTERS = EMAIL_COUNTER_NAMES.map(counter);

const DAY = key('day', 'date');

/** Columns shared by the drill-down logs: one row per event, partitioned by its month. */
const LOG_CONTEXT = [
  key('event_id', 'uuid'),
  required('tenant_id'),
  required('email_id'),
  value('campaign_id'),
  value('step_id'),
  value('mailbox_id'),
  value('lead_id'),
  key('occurred_at', 'timestamptz'),
];
const LOG_INDEXES = { tenant_email: 'tenant_id, email_id' };

const SPECS: TableSpec[] = [
  // OLTP state, one row per entity; every key starts with tenant_id.
  {
    name: 'emails',
    kind: 'oltp',
    columns: [
      key('tenant_id'),
      key('email_id'),
      ...['campaign_id', 'step_id', 'mailbox_id', 'lead_id', 'company_id', 'message_id'].map((c) => value(c)),
      value('status', `text NOT NULL DEFAULT 'sent' ${oneOf('status', ['sent', 'delivered', 'failed', 'bounced', 'opened', 'clicked', 'replied'])}`),
      ...['sent_at', 'delivered_at', 'first_opened_at', 'first_clicked_at', 'replied_at', 'bounced_at'].map((c) => value(c, 'timestamptz')),
      value('bounce_type', `text ${oneOf('bounce_type', ['hard', 'soft'])}`),
      value('unsubscribed_at', 'timestamptz'),
      value('complained_at', 'timestamptz'),
      counter('open_count'),
      counter('click_count'),
      UPDATED_AT,
    ],
    indexes: { tenant_campaign: 'tenant_id, campaign_id' },
  },
  {
    name: 'leads',
    kind: 'oltp',
    columns: [
      key('tenant_id'),
      key('lead_id'),
      ...['email', 'first_name', 'last_name', 'company'].map((c) => value(c)),
      value('status', "text NOT NULL DEFAULT 'active'"),
      value('imported_at', 'timestamptz'),
      value('erased_at', 'timestamptz'),
      UPDATED_AT,
    ],
    indexes: { tenant_email: 'tenant_id, email' },
  },
  {
    name: 'suppression_list',
    kind: 'oltp',
    columns: [
      key('tenant_id'),
      key('lead_id'),
      value('email'),
      required('type', `text ${oneOf('type', ['complaint', 'unsubscribe', 'hard_bounce'])}`),
      required('created_at', 'timestamptz'), // the earliest suppressing event
      value('source_email_id'),
      UPDATED_AT,
    ],
    indexes: { tenant_email: 'tenant_id, email' },
  },
  {
    name: 'email_accounts',
    kind: 'oltp',
    columns: [
      key('tenant_id'),
      key('mailbox_id'),
      ...['domain_id', 'company_id', 'provider', 'status', 'warmup_status'].map((c) => value(c)),
      ...['health_score', 'progress_percentage', 'target_daily_volume'].map((c) => value(c, 'integer')),
      value('created_at', 'timestamptz'),
      value('status_changed_at', 'timestamptz'),
      UPDATED_AT,
    ],
  },
  {
    name: 'domains',
    kind: 'oltp',
    columns: [key('tenant_id'), key('domain_id'), value('domain'), value('company_id'), value('created_at', 'timestamptz'), UPDATED_AT],
  },
  {
    name: 'companies',
    kind: 'oltp',
    columns: [key('tenant_id'), key('company_id'), value('name'), value('created_at', 'timestamptz'), UPDATED_AT],
  },
  {
    name: 'campaigns',
    kind: 'oltp',
    columns: [
      key('tenant_id'),
      key('campaign_id'),
      ...['company_id', 'name', 'status'].map((c) => value(c)),
      value('status_changed_at', 'timestamptz'),
      value('created_at', 'timestamptz'),
      UPDATED_AT,
    ],
  },
  {
    name: 'campaign_sequence_steps',
    kind: 'oltp',
    columns: [
      key('tenant_id'),
      key('campaign_id'),
      key('step_id'),
      value('step_order', 'integer'),
      value('step_type'),
      counter('executed_count'),
      value('last_executed_at', 'timestamptz'),
      UPDATED_AT,
    ],
  },

  // OLAP, columns exactly as the oracle README lists them.
  {
    name: 'campaign_analytics',
    kind: 'olap',
    partitionColumn: 'day',
    columns: [key('tenant_id'), key('campaign_id'), DAY, value('company_id'), ...EMAIL_COUNTERS, counter('completed_leads'), UPDATED_AT],
  },
  {
    name: 'sequence_step_analytics',
    kind: 'olap',
    partitionColumn: 'day',
    columns: [key('tenant_id'), key('step_id'), DAY, value('campaign_id'), value('company_id'), ...EMAIL_COUNTERS, UPDATED_AT],
  },
  {
    name: 'mailbox_analytics',
    kind: 'olap',
    partitionColumn: 'day',
    columns: [
      key('tenant_id'),
      key('mailbox_id'),
      DAY,
      value('company_id'),
      ...EMAIL_COUNTERS,
      counter('current_volume'),
      value('warmup_status'),
      value('health_score', 'integer'),
      UPDATED_AT,
    ],
  },
  {
    // Over all time, so not partitioned. One-off emails are under campaign_id = ''.
    name: 'lead_analytics',
    kind: 'olap',
    columns: [
      key('tenant_id'),
      key('lead_id'),
      key('campaign_id'),
      ...EMAIL_COUNTERS,
      value('status', `text NOT NULL DEFAULT 'active' ${oneOf('status', ['active', 'replied', 'bounced', 'unsubscribed', 'complained'])}`),
      UPDATED_AT,
    ],
    indexes: { tenant_campaign: 'tenant_id, campaign_id' },
  },
  {
    name: 'warmup_analytics',
    kind: 'olap',
    partitionColumn: 'day',
    columns: [
      key('tenant_id'),
      key('mailbox_id'),
      DAY,
      ...['sent', 'delivered', 'opened_tracked', 'clicked_tracked', 'replied', 'bounced', 'unsubscribed', 'spam_complaints'].map(counter),
      value('health_score', 'integer'),
      value('progress_percentage', 'integer'),
      UPDATED_AT,
    ],
  },
  {
    name: 'daily_analytics',
    kind: 'olap',
    partitionColumn: 'day',
    columns: [
      key('tenant_id'),
      key('campaign_id'),
      key('mailbox_id'),
      DAY,
      ...['emails_sent', 'emails_opened', 'emails_clicked', 'emails_bounced', 'emails_replied'].map(counter),
      rate('open_rate', 'emails_opened', 'emails_sent'),
      rate('click_rate', 'emails_clicked', 'emails_sent'),
      rate('bounce_rate', 'emails_bounced', 'emails_sent'),
      rate('reply_rate', 'emails_replied', 'emails_sent'),
      UPDATED_AT,
    ],
  },
  {
    // By event time: an hour's opens may belong to emails sent in earlier hours, so these
    // rates can exceed 1. Open and click rates use unique (first) opens and clicks.
    name: 'analytics_hourly',
    kind: 'olap',
    partitionColumn: 'hour',
    columns: [
      key('tenant_id'),
      key('hour', 'timestamptz'),
      ...[
        'messages_sent',
        'messages_delivered',
        'messages_failed',
        'messages_bounced',
        'messages_opened',
        'messages_clicked',
        'unique_opens',
        'unique_clicks',
      ].map(counter),
      value('avg_delivery_ms', 'integer'),
      rate('delivery_rate', 'messages_delivered', 'messages_sent'),
      rate('open_rate', 'unique_opens', 'messages_sent'),
      rate('click_rate', 'unique_clicks', 'messages_sent'),
      rate('bounce_rate', 'messages_bounced', 'messages_sent'),
      UPDATED_AT,
    ],
  },
  {
    // period_end is exclusive (DESIGN §6).
    name: 'billing_analytics',
    kind: 'olap',
    partitionColumn: 'period_start',
    columns: [
      key('tenant_id'),
      key('period_start', 'date'),
      required('period_end', 'date'),
      value('subscription_id'),
      ...['emails_sent', 'mailboxes_used', 'domains_used', 'campaigns_used', 'leads_used', 'warmups_active'].map(counter),
      UPDATED_AT,
    ],
  },

  // Drill-down logs: one row per event, immutable; (event_id, occurred_at) makes re-applies no-ops.
  {
    name: 'email_opens',
    kind: 'log',
    partitionColumn: 'occurred_at',
    columns: [...LOG_CONTEXT, value('ip'), value('user_agent'), value('machine', 'boolean NOT NULL DEFAULT false')],
    indexes: LOG_INDEXES,
  },
  {
    name: 'email_clicks',
    kind: 'log',
    partitionColumn: 'occurred_at',
    columns: [...LOG_CONTEXT, required('url'), value('ip'), value('user_agent')],
    indexes: LOG_INDEXES,
  },
  {
    name: 'email_bounces',
    kind: 'log',
    partitionColumn: 'occurred_at',
    columns: [
      ...LOG_CONTEXT,
      required('bounce_type', `text ${oneOf('bounce_type', ['hard', 'soft'])}`),
      value('bounce_subtype'),
      value('smtp_code', 'integer'),
      value('reason'),
    ],
    indexes: LOG_INDEXES,
  },
  {
    name: 'email_replies',
    kind: 'log',
    partitionColumn: 'occurred_at',
    columns: [...LOG_CONTEXT, value('inbound_message_id')],
    indexes: LOG_INDEXES,
  },

  // Admin tables (seeds/000 §7–8, minus the performance and session columns). Low volume,
  // so not partitioned: event_id alone is the primary key and makes re-applies no-ops.
  // event_id defaults to a random UUID for rows that do not come from a stored event.
  {
    name: 'admin_audit_log',
    kind: 'admin',
    columns: [
      key('event_id', 'uuid DEFAULT gen_random_uuid()'),
      ...['tenant_id', 'admin_user_id', 'action', 'resource_type', 'resource_id'].map((c) => required(c)),
      value('old_values', 'jsonb'),
      value('new_values', 'jsonb'),
      ...['ip_address', 'user_agent', 'notes'].map((c) => value(c)),
      value('metadata', 'jsonb'),
      required('occurred_at', 'timestamptz'),
      CREATED_AT,
    ],
    indexes: {
      tenant_time: 'tenant_id, occurred_at DESC',
      admin_user_time: 'admin_user_id, occurred_at DESC',
      resource: 'resource_type, resource_id',
    },
  },
  {
    // tenant_id is NULL for system-wide events, which no analyst sees.
    name: 'admin_system_events',
    kind: 'admin',
    columns: [
      key('event_id', 'uuid DEFAULT gen_random_uuid()'),
      required('event_type'),
      required('severity', `text ${oneOf('severity', ['low', 'medium', 'high', 'critical'])}`),
      required('message'),
      value('tenant_id'),
      value('admin_user_id'),
      value('metadata', 'jsonb'),
      required('occurred_at', 'timestamptz'),
      value('resolved_at', 'timestamptz'),
      value('resolution'),
      CREATED_AT,
    ],
    indexes: { tenant_time: 'tenant_id, occurred_at DESC', type_time: 'event_type, occurred_at DESC' },
  },
];

function defineTable(spec: TableSpec): TableDef {
  const key = spec.columns.filter((c) => c.role === 'key').map((c) => c.name);
  if (spec.partitionColumn && !key.includes(spec.partitionColumn)) {
    // PostgreSQL requires it: a partitioned table's unique constraints include the partition key.
    throw new Error(`${spec.name}: the partition column ${spec.partitionColumn} must be part of the key`);
  }
  return {
    name: spec.name,
    kind: spec.kind,
    partitionColumn: spec.partitionColumn,
    key,
    columns: spec.columns,
    create(target) {
      const table = relation(target);
      const body = [
        ...spec.columns.map((c) => `${c.name} ${c.type}`),
        `CONSTRAINT ${ident(`${table.name}_pkey`)} PRIMARY KEY (${key.join(', ')})`,
      ];
      const partitioning = spec.partitionColumn ? ` PARTITION BY RANGE (${spec.partitionColumn})` : '';
      const statements = [`CREATE TABLE ${table.sql} (\n  ${body.join(',\n  ')}\n)${partitioning}`];
      if (spec.partitionColumn) {
        statements.push(`CREATE TABLE ${derivedRelation(table, `${table.name}_default`).sql} PARTITION OF ${table.sql} DEFAULT`);
      }
      for (const [suffix, columns] of Object.entries(spec.indexes ?? {})) {
        statements.push(`CREATE INDEX ${ident(`${table.name}_${suffix}_idx`)} ON ${table.sql} (${columns})`);
      }
      return [...statements, ...tenantPolicySql(table)];
    },
    dropSql(target) {
      return [`DROP TABLE IF EXISTS ${relation(target).sql}`];
    },
  };
}

/** Every projected table, OLTP first, then OLAP, logs, admin. */
export const TABLES: readonly TableDef[] = SPECS.map(defineTable);

const BY_NAME = new Map(TABLES.map((t) => [t.name, t]));

/** The definition of the table `name` (its live name, not a shadow's). */
export function tableDef(name: string): TableDef {
  const def = BY_NAME.get(name);
  if (!def) throw new FloeError('UNKNOWN_TABLE', `no projected table named ${name}`, { context: { table: name } });
  return def;
}
