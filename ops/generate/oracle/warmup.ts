/**
 * `warmup_analytics`: warm-up sends and partner interactions per mailbox and event day
 * (event counts), with the day's latest warmup.progressed as gauges.
 */
import type { WarmupKind, WorkloadTruth } from '../truth';
import { day, sortRows, upsert, type Row } from './shared';
import { dailyGauges, warmupPoints } from './mailbox';

const KIND_COLUMN: Record<WarmupKind, string> = {
  delivered: 'delivered',
  opened: 'opened_tracked',
  clicked: 'clicked_tracked',
  replied: 'replied',
  bounced: 'bounced',
  unsubscribed: 'unsubscribed',
  spam_complaint: 'spam_complaints',
};

const WARMUP_COUNTERS = ['sent', 'delivered', 'opened_tracked', 'clicked_tracked', 'replied', 'bounced', 'unsubscribed', 'spam_complaints'];

export const WARMUP_ANALYTICS_COLUMNS = ['tenant_id', 'mailbox_id', 'day', ...WARMUP_COUNTERS, 'health_score', 'progress_percentage'] as const;

export function warmupAnalytics(truth: WorkloadTruth): Row[] {
  const out: Row[] = [];
  for (const m of truth.mailboxes) {
    if (!m.warmup) continue;
    const rows = new Map<string, Row>();
    const row = (d: string): Row =>
      upsert(rows, d, () => ({
        tenant_id: m.tenant.tenantId,
        mailbox_id: m.mailboxId,
        day: d,
        ...Object.fromEntries(WARMUP_COUNTERS.map((c) => [c, 0])),
        health_score: null,
        progress_percentage: null,
      }));
    for (const f of m.warmup.events) {
      if (f.type === 'warmup.progressed') continue;
      const column = f.type === 'warmup.email_sent' ? 'sent' : KIND_COLUMN[f.kind];
      (row(day(f.at))[column] as number)++;
    }
    // A day with a warmup.progressed has a row, its counters zero when nothing else happened.
    for (const [d, g] of dailyGauges(warmupPoints(m))) {
      if (!g.progressed) continue;
      const r = row(d);
      r.health_score = g.progressed.healthScore;
      r.progress_percentage = g.progressed.progressPercentage;
    }
    out.push(...rows.values());
  }
  return sortRows(out, ['tenant_id', 'mailbox_id', 'day']);
}
