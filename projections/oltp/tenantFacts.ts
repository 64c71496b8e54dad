/**
 * `domains` (from `domain.added`) and `companies` (from `company.created`): one row per
 * entity. A creation event is a one-time fact: the earliest by (occurredAt, position)
 * defines the row and its `created_at`; a later one for the same id (a producer retry
 * with a new event id) changes nothing.
 */
import { registerProjection, text } from './registers';

const TENANT = text('tenant_id');

export const domains = registerProjection({
  name: 'domains',
  version: 1,
  spec: {
    table: 'domains',
    key: [TENANT, text('domain_id')],
    groups: { created: { at: 'created_at', columns: [text('domain'), text('company_id')], wins: 'earliest' } },
  },
  types: ['domain.added'],
  fold(r, { event: e }) {
    r.set([e.tenantId, e.data.domainId], 'created', e, [e.data.domain, e.data.companyId ?? null]);
  },
});

export const companies = registerProjection({
  name: 'companies',
  version: 1,
  spec: {
    table: 'companies',
    key: [TENANT, text('company_id')],
    groups: { created: { at: 'created_at', columns: [text('name')], wins: 'earliest' } },
  },
  types: ['company.created'],
  fold(r, { event: e }) {
    r.set([e.tenantId, e.data.companyId], 'created', e, [e.data.name]);
  },
});
