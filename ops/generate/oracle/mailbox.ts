/**
 * `mailbox_analytics`: the §5 counters of every counted email by first-send mailbox and
 * cohort day, with the day's volume (emails + warm-up sends) and warm-up gauges.
 */
import type { Mailbox, WorkloadTruth } from '../truth';
import { addCounters, COUNTERS, day, sortRows, upsert, zeroCounters, type EmailOutcome, type Row } from './shared';

export const MAILBOX_ANALYTICS_COLUMNS = [
  'tenant_id',
  'mailbox_id',
  'day',
  'company_id',
  ...COUNTERS,
  'current_volume',
  'warmup_status',
  'health_score',
] as const;

/** A warm-up event that sets a gauge: `warmup.started`/`warmup.stopped` a status, `warmup.progressed` the scores. */
export type WarmupPoint = { at: number; status: 'active' | 'stopped' } | { at: number; healthScore: number; progressPercentage: number };

/** The gauge events of a mailbox's warm-up, by time. Sends and interactions set no gauge. */
export function warmupPoints(mailbox: Mailbox): WarmupPoint[] {
  const w = mailbox.warmup;
  if (!w) return [];
  const points: WarmupPoint[] = [{ at: w.startedAt, status: 'active' }];
  if (w.stoppedAt !== null) points.push({ at: w.stoppedAt, status: 'stopped' });
  for (const f of w.events) {
    if (f.type === 'warmup.progressed') points.push({ at: f.at, healthScore: f.healthScore, progressPercentage: f.progressPercentage });
  }
  return points.sort((a, b) => a.at - b.at);
}

export interface DayGauges {
  /** The day's latest started/stopped, else null. */
  status: 'active' | 'stopped' | null;
  /** The day's latest warmup.progressed, else null. */
  progressed: { healthScore: number; progressPercentage: number } | null;
}

/** Per day with a gauge event: its latest status and latest progress (points sorted by time). */
export function dailyGauges(points: WarmupPoint[]): Map<string, DayGauges> {
  const days = new Map<string, DayGauges>();
  for (const p of points) {
    const g = upsert(days, day(p.at), (): DayGauges => ({ status: null, progressed: null }));
    if ('status' in p) g.status = p.status;
    else g.progressed = p;
  }
  return days;
}

export function mailboxAnalytics(truth: WorkloadTruth, outcomes: EmailOutcome[]): Row[] {
  const byId = new Map(truth.mailboxes.map((m) => [m.mailboxId, m]));
  const rows = new Map<string, Row>();
  const row = (tenantId: string, mailboxId: string, d: string, companyId: string | null): Row =>
    upsert(rows, `${tenantId}\u0000${mailboxId}\u0000${d}`, () => ({
      tenant_id: tenantId,
      mailbox_id: mailboxId,
      day: d,
      company_id: companyId,
      ...zeroCounters(),
      current_volume: 0,
      warmup_status: null,
      health_score: null,
    }));
  for (const o of outcomes) {
    const { tenantId, mailboxId, companyId } = o.email;
    const r = row(tenantId, mailboxId, o.cohortDay, byId.get(mailboxId)?.companyId ?? companyId);
    addCounters(r as never, o.counters);
    (r.current_volume as number)++;
  }
  for (const m of truth.mailboxes) {
    for (const f of m.warmup?.events ?? []) {
      if (f.type !== 'warmup.email_sent') continue;
      const r = row(m.tenant.tenantId, m.mailboxId, day(f.at), m.companyId);
      (r.current_volume as number)++;
    }
  }
  // A day with a gauge event has a row, its counters zero when nothing else happened.
  for (const m of truth.mailboxes) {
    for (const [d, g] of dailyGauges(warmupPoints(m))) {
      const r = row(m.tenant.tenantId, m.mailboxId, d, m.companyId);
      r.warmup_status = g.status;
      r.health_score = g.progressed?.healthScore ?? null;
    }
  }
  return sortRows([...rows.values()], ['tenant_id', 'mailbox_id', 'day']);
}
