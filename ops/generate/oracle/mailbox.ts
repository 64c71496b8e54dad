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

export interface WarmupPoint {
  at: number;
  status: 'active' | 'stopped';
  healthScore?: number;
  progressPercentage?: number;
}

/** Every warm-up event of a mailbox as a gauge point: started/stopped plus its facts. */
export function warmupPoints(mailbox: Mailbox): WarmupPoint[] {
  const w = mailbox.warmup;
  if (!w) return [];
  const points: WarmupPoint[] = [{ at: w.startedAt, status: 'active' }];
  if (w.stoppedAt !== null) points.push({ at: w.stoppedAt, status: 'stopped' });
  for (const f of w.events) {
    points.push(
      f.type === 'warmup.progressed'
        ? { at: f.at, status: 'active', healthScore: f.healthScore, progressPercentage: f.progressPercentage }
        : { at: f.at, status: 'active' },
    );
  }
  return points.sort((a, b) => a.at - b.at);
}

/** Per day: the latest status and the latest warmup.progressed of that day (points sorted by time). */
export function dailyGauges(points: WarmupPoint[]): Map<string, { status: string; progressed: WarmupPoint | null }> {
  const days = new Map<string, { status: string; progressed: WarmupPoint | null }>();
  for (const p of points) {
    const g = upsert(days, day(p.at), () => ({ status: p.status, progressed: null as WarmupPoint | null }));
    g.status = p.status;
    if (p.healthScore !== undefined) g.progressed = p;
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
  // Gauges go on rows that exist; they never create one.
  for (const m of truth.mailboxes) {
    for (const [d, g] of dailyGauges(warmupPoints(m))) {
      const r = rows.get(`${m.tenant.tenantId}\u0000${m.mailboxId}\u0000${d}`);
      if (!r) continue;
      r.warmup_status = g.status;
      r.health_score = g.progressed?.healthScore ?? null;
    }
  }
  return sortRows([...rows.values()], ['tenant_id', 'mailbox_id', 'day']);
}
