/**
 * `email_accounts`: one row per mailbox.
 * - `mailbox.created`: the earliest by (occurredAt, position) sets domain_id, company_id,
 *   provider, created_at;
 * - `status`, `status_changed_at`: the `mailbox.status_changed` with the greatest
 *   (occurredAt, position); a mailbox without one is 'active' (status_changed_at NULL);
 * - `warmup_status`: 'active' or 'stopped' by the latest `warmup.started` / `warmup.stopped`;
 *   other warm-up events (sends, interactions, progress) do not restart a stopped warm-up;
 * - `target_daily_volume`: from the latest `warmup.started` (NULL when it names none);
 * - `health_score`, `progress_percentage`: from the latest `warmup.progressed`.
 * The warm-up times have no public column, so the registers live in
 * `floe.email_accounts_state` and are copied into the public table.
 */
import { int, registerProjection, text } from './registers';

export const emailAccounts = registerProjection({
  name: 'email_accounts',
  version: 1,
  spec: {
    table: 'floe.email_accounts_state',
    key: [text('tenant_id'), text('mailbox_id')],
    groups: {
      created: { at: 'created_at', columns: [text('domain_id'), text('company_id'), text('provider')], wins: 'earliest' },
      status: { at: 'status_changed_at', columns: [text('status')], wins: 'latest', defaults: ['active'] },
      warmup: { at: 'warmup_at', columns: [text('warmup_status')], wins: 'latest' },
      target: { at: 'warmup_started_at', columns: [int('target_daily_volume')], wins: 'latest' },
      progress: { at: 'progress_at', columns: [int('health_score'), int('progress_percentage')], wins: 'latest' },
    },
    copyTo: {
      table: 'email_accounts',
      columns: [
        'tenant_id',
        'mailbox_id',
        'domain_id',
        'company_id',
        'provider',
        'status',
        'warmup_status',
        'health_score',
        'progress_percentage',
        'target_daily_volume',
        'created_at',
        'status_changed_at',
      ],
    },
  },
  types: ['mailbox.created', 'mailbox.status_changed', 'warmup.started', 'warmup.stopped', 'warmup.progressed'],
  fold(r, { event: e }) {
    const d = e.data;
    const key = [e.tenantId, d.mailboxId];
    switch (e.type) {
      case 'mailbox.created':
        r.set(key, 'created', e, [d.domainId, d.companyId ?? null, d.provider ?? null]);
        break;
      case 'mailbox.status_changed':
        r.set(key, 'status', e, [d.status]);
        break;
      case 'warmup.started':
        r.set(key, 'warmup', e, ['active']);
        r.set(key, 'target', e, [d.targetDailyVolume ?? null]);
        break;
      case 'warmup.stopped':
        r.set(key, 'warmup', e, ['stopped']);
        break;
      case 'warmup.progressed':
        r.set(key, 'progress', e, [d.healthScore, d.progressPercentage]);
        break;
    }
  },
});
