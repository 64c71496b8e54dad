/**
 * What the billing team runs (`floe billing show|close|recompute`, DESIGN §6):
 *
 * - show: the live `billing_analytics` rows of a tenant;
 * - close: record the invoiced figures of a period as a `billing.period_closed` event;
 * - recompute: the period recomputed from the tenant's history alone, as of the billing
 *   projection's checkpoint (so `live` and `recomputed` describe the same events), with the
 *   differences against the live row and the closed figures; `--apply` replaces the live
 *   row and appends `billing.period_recomputed` in one transaction, which fails and is
 *   retried if the projection moved in between, so nothing is ever counted twice.
 *
 * `--period YYYY-MM` names the tenant's period that starts in that month. All three refuse a
 * tenant no stored event names (UNKNOWN_TENANT) before reading or appending anything.
 */
import type { Pool, PoolClient } from 'pg';
import { FloeError } from '../../schemas/errors';
import { byPosition, type RecordedEvent } from '../../streams/envelope';
import { prepareEvent } from '../../streams/prepare';
import { appendPrepared } from '../../streams/postgres/append';
import type { PostgresEventStore } from '../../streams/postgres';
import { readStoredUnordered, TENANT_SHARD_SQL } from '../../streams/postgres/read';
import { firstSends } from '../runtime/ledger';
import { periodOfMonth, type Period } from './periods';
import { anchorOf, BILLING_COUNTERS, BILLING_TYPES, billingRows, firstSubscription, type BillingRow, type HistoryEvent } from './recompute';

/** The figures of a period under their `billing_analytics` column names. */
export type Figures = Pick<BillingRow, 'subscription_id' | (typeof BILLING_COUNTERS)[number]>;

const FIGURES = ['subscription_id', ...BILLING_COUNTERS] as const;

export interface Recomputed {
  tenant: string;
  periodStart: string;
  periodEnd: string;
  /** Store position the recompute (and the live row) reflect. */
  asOf: bigint;
  live: Figures | null;
  recomputed: Figures | null;
  closed: Figures | null;
  /** Each field where recomputed differs from live or from closed, with the three values. */
  diff: Record<string, { live: unknown; recomputed: unknown; closed: unknown }>;
  applied: boolean;
  /**
   * Closes of periods that overlap this one without being one of the tenant's periods any
   * more: its periods moved after they were closed (a `subscription.started` that arrived
   * later, or with an earlier date, changed its billing anchor). Their figures are not
   * compared with this period's: what was invoiced then covered other dates.
   */
  misalignedCloses: Array<{ periodStart: string; periodEnd: string; figures: Figures }>;
}

const figuresOf = (row: Partial<BillingRow> | null | undefined): Figures | null =>
  row ? (Object.fromEntries(FIGURES.map((f) => [f, row[f] ?? (f === 'subscription_id' ? null : 0)])) as Figures) : null;

/**
 * Refuse a tenant no event in the store names (UNKNOWN_TENANT): a mistyped --tenant would
 * otherwise show nothing, recompute "no difference" and, worse, close a period with zero
 * figures in a permanent event. A known tenant without usage in a period is not an error.
 */
export async function assertKnownTenant(db: Pool | PoolClient, tenant: string): Promise<void> {
  // events_tenant_idx (tenant_id, global_position) answers this without a scan.
  const { rows } = await db.query<{ known: boolean }>('SELECT EXISTS (SELECT 1 FROM floe.events WHERE tenant_id = $1) AS known', [tenant]);
  if (!rows[0].known) throw new FloeError('UNKNOWN_TENANT', `unknown tenant ${JSON.stringify(tenant)}: no event in the store names it`, { context: { tenant } });
}

/** `floe billing show`: the live rows of a known tenant, all periods or the one starting in `month`. */
export async function show(store: PostgresEventStore, pool: Pool, tenant: string, month?: string): Promise<BillingRow[]> {
  await assertKnownTenant(pool, tenant);
  const period = month ? await tenantPeriod(store, tenant, month) : undefined;
  return liveRows(pool, tenant, period);
}

/** The live rows of a tenant (one period when `period` is given). */
export async function liveRows(db: Pool | PoolClient, tenant: string, period?: Period): Promise<BillingRow[]> {
  const { rows } = await db.query<BillingRow>(
    `SELECT tenant_id, period_start::text AS period_start, period_end::text AS period_end, subscription_id,
            ${BILLING_COUNTERS.join(', ')}
       FROM billing_analytics WHERE tenant_id = $1 AND ($2::date IS NULL OR period_start = $2::date) ORDER BY period_start`,
    [tenant, period?.start ?? null],
  );
  return rows;
}

const CLOSED = 'billing.period_closed';

/**
 * Every event of the tenant that billing reads, in store order, up to `upTo`, and its
 * `billing.period_closed` events up to the head: a close is what was invoiced, whether or
 * not the projector has got that far.
 *
 * One statement, not pages: a tenant's events are spread over the whole store, so PostgreSQL
 * reads them with a scan of the table (an index on the tenant leaves as many heap pages to
 * visit), and each page of a paged read would scan it again. The history is held whole anyway.
 */
async function tenantHistory(store: PostgresEventStore, tenant: string, upTo: bigint): Promise<HistoryEvent[]> {
  const all = await readStoredUnordered(store.pool, { tenant, types: [...BILLING_TYPES, CLOSED] }, store.schemas);
  return all.filter((e) => e.position <= upTo || e.type === CLOSED).sort(byPosition);
}

/** The billing projection's checkpoint for the tenant's shard; throws when it has never run. */
async function billingCheckpoint(db: Pool | PoolClient, tenant: string, forUpdate = false): Promise<bigint> {
  const kafka = await db.query(`SELECT shard FROM floe.projection_checkpoints WHERE projection = 'billing_analytics' AND shard LIKE 'kafka:%' LIMIT 1`);
  if (kafka.rowCount) {
    throw new FloeError(
      'KAFKA_PROJECTED',
      `billing_analytics is projected from Kafka (shard ${kafka.rows[0].shard}): billing close and recompute need it projected from the store (floe project), whose checkpoint says which of a tenant's events its rows count; from Kafka that depends on the partition the tenant's events went to, which the database does not record`,
    );
  }
  const { rows } = await db.query(
    `SELECT c.position FROM floe.projection_checkpoints c
      WHERE c.projection = 'billing_analytics'
        AND split_part(c.shard, '/', 1)::int = ${TENANT_SHARD_SQL('$1::text', "split_part(c.shard, '/', 2)::int")}
      ${forUpdate ? 'FOR UPDATE' : ''}`,
    [tenant],
  );
  if (!rows[0]) throw new FloeError('NOT_PROJECTED', 'billing_analytics has not been projected yet: run floe project first');
  return BigInt(rows[0].position);
}

/** The period of `month` for the tenant (its anchor from its history). */
export async function tenantPeriod(store: PostgresEventStore, tenant: string, month: string): Promise<Period> {
  const subs: RecordedEvent[] = [];
  for await (const page of store.readAll({ tenant, typePrefix: 'subscription.started', batchSize: 1000 })) subs.push(...page);
  return periodOfMonth(month, anchorOf(firstSubscription(subs)));
}

export async function recompute(
  store: PostgresEventStore,
  pool: Pool,
  tenant: string,
  month: string,
  o: { apply?: boolean; reason?: string } = {},
): Promise<Recomputed> {
  await assertKnownTenant(pool, tenant);
  for (let attempt = 1; ; attempt++) {
    const asOf = await billingCheckpoint(pool, tenant);
    const history = await tenantHistory(store, tenant, asOf);
    const period = periodOfMonth(month, anchorOf(firstSubscription(history)));
    const owners = await firstSends(pool, history, asOf);
    const recomputed = figuresOf(billingRows(tenant, history, owners).find((r) => r.period_start === period.start));
    const live = figuresOf((await liveRows(pool, tenant, period))[0]);
    const closes = latestCloses(history);
    const closed = closes.get(period.start)?.figures ?? null;
    // Periods partition time: a close that overlaps this period from another start is of a period the tenant no longer has.
    const misalignedCloses = [...closes.values()].filter(
      (c) => c.periodStart !== period.start && c.periodStart < period.end && c.periodEnd > period.start,
    );
    const diff: Recomputed['diff'] = {};
    for (const f of FIGURES) {
      const r = recomputed?.[f] ?? (f === 'subscription_id' ? null : 0);
      const l = live?.[f] ?? (f === 'subscription_id' ? null : 0);
      const c = closed ? closed[f] : undefined;
      if (r !== l || (closed && r !== c)) diff[f] = { live: live ? l : null, recomputed: recomputed ? r : null, closed: closed ? c : null };
    }
    const result: Recomputed = { tenant, periodStart: period.start, periodEnd: period.end, asOf, live, recomputed, closed, diff, applied: false, misalignedCloses };
    // Nothing to apply when the live row already holds the recomputed figures (a difference
    // against the closed ones is for the billing team to settle, not a change of the row).
    if (!o.apply || FIGURES.every((f) => (recomputed?.[f] ?? null) === (live?.[f] ?? null))) return result;
    try {
      await applyRecomputed(pool, store, result, o.reason);
      return { ...result, applied: true };
    } catch (e) {
      if (!(e instanceof ProjectionMovedError) || attempt >= 5) throw e;
    }
  }
}

/** The latest `billing.period_closed` of each period start, in store order. */
function latestCloses(history: HistoryEvent[]): Map<string, { periodStart: string; periodEnd: string; figures: Figures }> {
  const out = new Map<string, { periodStart: string; periodEnd: string; figures: Figures }>();
  for (const e of history) {
    if (e.type !== CLOSED) continue;
    const d = e.data as { periodStart: string; periodEnd: string; figures: string };
    out.set(d.periodStart, { periodStart: d.periodStart, periodEnd: d.periodEnd, figures: figuresOf(JSON.parse(String(d.figures)))! });
  }
  return out;
}

class ProjectionMovedError extends Error {}

/** Replace the live row and append `billing.period_recomputed`, in one transaction at `asOf`. */
async function applyRecomputed(pool: Pool, store: PostgresEventStore, r: Recomputed, reason?: string): Promise<void> {
  const event = prepareEvent(store.catalog, {
    type: 'billing.period_recomputed',
    tenantId: r.tenant,
    occurredAt: new Date().toISOString(),
    data: { periodStart: r.periodStart, periodEnd: r.periodEnd, before: JSON.stringify(r.live), after: JSON.stringify(r.recomputed), reason: reason ?? null },
    metadata: { source: 'floe billing recompute' },
  });
  const client = await pool.connect();
  try {
    await appendPrepared(client, [event], undefined, async () => {
      // Holding the checkpoint row stops the projector from committing past `asOf` meanwhile.
      if ((await billingCheckpoint(client, r.tenant, true)) !== r.asOf) throw new ProjectionMovedError();
      await client.query('DELETE FROM billing_analytics WHERE tenant_id = $1 AND period_start = $2', [r.tenant, r.periodStart]);
      if (r.recomputed) {
        await client.query(
          `INSERT INTO billing_analytics (tenant_id, period_start, period_end, ${FIGURES.join(', ')})
           VALUES ($1, $2, $3, ${FIGURES.map((_, i) => `$${i + 4}`).join(', ')})`,
          [r.tenant, r.periodStart, r.periodEnd, ...FIGURES.map((f) => r.recomputed![f])],
        );
      }
    });
  } finally {
    client.release();
  }
}

/**
 * How many of the tenant's events of the types billing_analytics folds are stored past
 * `after` (its checkpoint): what the live figures do not count yet. Other tenants' events and
 * the billing log's own events do not matter to them.
 */
export async function unapplied(db: Pool | PoolClient, tenant: string, after: bigint): Promise<bigint> {
  const { rows } = await db.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM floe.events WHERE tenant_id = $1 AND global_position > $2 AND type = ANY($3::text[])',
    [tenant, String(after), BILLING_TYPES],
  );
  return BigInt(rows[0].n);
}

/** Record the live figures of a period as invoiced: appends `billing.period_closed`. */
export interface Closed {
  periodStart: string;
  periodEnd: string;
  figures: Figures;
  position: bigint | null;
  /** The tenant's billing events the billing projection had not applied when the figures were taken (null: never projected). */
  behind: bigint | null;
  /** No billing_analytics row for the period: the figures are all zero. */
  empty: boolean;
}

export async function close(store: PostgresEventStore, pool: Pool, tenant: string, month: string): Promise<Closed> {
  await assertKnownTenant(pool, tenant);
  const period = await tenantPeriod(store, tenant, month);
  if (Date.parse(`${period.end}T00:00:00.000Z`) > Date.now()) {
    throw new FloeError(
      'PERIOD_NOT_ENDED',
      `tenant ${tenant}'s period ${period.start} – ${period.end} has not ended yet: close it once it has (a close records what is invoiced)`,
    );
  }
  const checkpoint = await billingCheckpoint(pool, tenant).catch((e) => {
    if ((e as FloeError).code === 'NOT_PROJECTED') return null;
    throw e;
  });
  const behind = checkpoint === null ? null : await unapplied(pool, tenant, checkpoint);
  const live = (await liveRows(pool, tenant, period))[0];
  const figures = figuresOf(live) ?? figuresOf({})!;
  const r = await store.append([
    {
      type: 'billing.period_closed',
      tenantId: tenant,
      occurredAt: new Date().toISOString(),
      data: { periodStart: period.start, periodEnd: period.end, figures: JSON.stringify(figures) },
      metadata: { source: 'floe billing close' },
    },
  ]);
  return { periodStart: period.start, periodEnd: period.end, figures, position: r.firstPosition, behind, empty: live === undefined };
}
