/**
 * `campaigns` and `campaign_sequence_steps`, one projection each.
 *
 * campaigns: `campaign.created` (the earliest by (occurredAt, position) defines company_id,
 * name, created_at) and the status of the `campaign.status_changed` with the greatest
 * (occurredAt, position), with its time in `status_changed_at` (DESIGN §5). A campaign
 * without any status event is a 'draft' (status_changed_at NULL), not NULL.
 *
 * campaign_sequence_steps: `sequence_step.defined` (the latest definition by (occurredAt,
 * position) sets step_order and step_type: a step may be redefined), `executed_count` =
 * counted emails whose first `email.sent` names the step, `last_executed_at` = the latest
 * of their send times. The definition time has no public column, so the registers live in
 * `floe.campaign_sequence_steps_state` and are copied into the public table.
 */
import { int, registerProjection, text, timestamptz } from './registers';

const TENANT = text('tenant_id');
const CAMPAIGN = text('campaign_id');

export const campaigns = registerProjection({
  name: 'campaigns',
  version: 1,
  spec: {
    table: 'campaigns',
    key: [TENANT, CAMPAIGN],
    groups: {
      created: { at: 'created_at', columns: [text('company_id'), text('name')], wins: 'earliest' },
      status: { at: 'status_changed_at', columns: [text('status')], wins: 'latest', defaults: ['draft'] },
    },
  },
  types: ['campaign.created', 'campaign.status_changed'],
  fold(r, { event: e }) {
    const key = [e.tenantId, e.data.campaignId];
    if (e.type === 'campaign.created') r.set(key, 'created', e, [e.data.companyId ?? null, e.data.name]);
    else r.set(key, 'status', e, [e.data.status]);
  },
});

export const campaignSequenceSteps = registerProjection({
  name: 'campaign_sequence_steps',
  version: 1,
  spec: {
    table: 'floe.campaign_sequence_steps_state',
    key: [TENANT, CAMPAIGN, text('step_id')],
    groups: { defined: { at: 'defined_at', columns: [int('step_order'), text('step_type')], wins: 'latest' } },
    aggregates: {
      executed: { column: int('executed_count'), merge: 'sum' },
      lastExecuted: { column: timestamptz('last_executed_at'), merge: 'max' },
    },
    copyTo: {
      table: 'campaign_sequence_steps',
      columns: ['tenant_id', 'campaign_id', 'step_id', 'step_order', 'step_type', 'executed_count', 'last_executed_at'],
    },
  },
  types: ['sequence_step.defined', 'email.sent'],
  fold(r, f) {
    const e = f.event;
    if (e.type === 'sequence_step.defined') {
      r.set([e.tenantId, e.data.campaignId, e.data.stepId], 'defined', e, [e.data.stepOrder, e.data.stepType]);
      return;
    }
    // Only an email's first send reaches projections (prev is null); later sends are ignored upstream.
    const s = f.email?.next;
    if (!s || f.email?.prev !== null || s.stepId === null || s.campaignId === null) return;
    const key = [s.tenantId, s.campaignId, s.stepId];
    r.merge(key, 'executed', 1);
    r.merge(key, 'lastExecuted', s.sentAt);
  },
});
