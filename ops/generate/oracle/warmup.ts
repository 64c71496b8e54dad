/**
 * `warmup_analytics`: warm-up sends and partner interactions per mailbox and event day
 * (event counts), with the day's latest warmup.progressed as gauges.
 */
import type { WarmupKind, WorkloadTruth } from '../truth';
import { counted, day, sortRows, upsert, type Row } from './shared';
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
    for (const f of m.warmup.events) {
      if (f.type === 'warmup.progressed') continue;
      const d = day(f.at);
      const r = upsert(rows, d, () => ({
        tenant_id: m.tenant.tenantId,
        mailbox_id: m.mailboxId,
        day: d,
        ...Object.fromEntries(WARMUP_COUNTERS.map((c) => [c, 0])),
        health_score: null,
        progress_percentage: null,
      }));
      const column = f.type === 'warmup.email_sent' ? 'sent' : KIND_COLUMN[f.kind];
      (r[column] as number)++;
    }
    for (const [d, g] of dailyGauges(warmupPoints(m))) {
      const r = rows.get(d);
      if (!r || !g.progressed) continue;
      r.health_score = g.progressed.healthScore;
      r.progress_percentage = g.progressed.progressPercentage;
    }
    for (const r of rows.values()) if (counted(r, WARMUP_COUNTERS)) out.push(r);
  }
  return sortRows(out, ['tenant_id', 'mailbox_id', 'day']);
}
