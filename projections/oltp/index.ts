/**
 * The OLTP state projections (DESIGN §5), one per table, named like it (`floe rebuild
 * campaigns`), except `leads`, which also owns `suppression_list` (it copies the lead's email).
 */
import type { AnyProjection } from '../runtime/types';
import { campaigns, campaignSequenceSteps } from './campaigns';
import { emailAccounts } from './emailAccounts';
import { emails } from './emails';
import { leads } from './leads';
import { companies, domains } from './tenantFacts';

export { campaigns, campaignSequenceSteps, companies, domains, emailAccounts, emails, leads };

export const OLTP_PROJECTIONS: readonly AnyProjection[] = [emails, leads, emailAccounts, domains, companies, campaigns, campaignSequenceSteps];
