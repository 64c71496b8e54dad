/**
 * Every projection Floe runs, by name. `floe project --only a,b` picks from here.
 */
import { FloeError } from '../schemas/errors';
import { billingAnalytics } from './billing/billingAnalytics';
import { LOG_PROJECTIONS } from './logs';
import { OLTP_PROJECTIONS } from './oltp';
import { campaignAnalytics } from './olap/campaignAnalytics';
import { analyticsHourly } from './olap/analyticsHourly';
import { dailyAnalytics } from './olap/dailyAnalytics';
import { leadAnalytics } from './olap/leadAnalytics';
import { mailboxAnalytics } from './olap/mailboxAnalytics';
import { warmupAnalytics } from './olap/warmupAnalytics';
import { sequenceStepAnalytics } from './olap/sequenceStepAnalytics';
import './runtime/pgTypes';
import type { AnyProjection } from './runtime/types';

export const PROJECTIONS: readonly AnyProjection[] = [campaignAnalytics, sequenceStepAnalytics, leadAnalytics, dailyAnalytics, analyticsHourly, mailboxAnalytics, warmupAnalytics, billingAnalytics, ...LOG_PROJECTIONS, ...OLTP_PROJECTIONS];

/** The named projections (all when `only` is empty), or an error naming the unknown ones. */
export function selectProjections(only: string[] = []): AnyProjection[] {
  if (only.length === 0) return [...PROJECTIONS];
  const byName = new Map(PROJECTIONS.map((p) => [p.name, p]));
  const unknown = only.filter((n) => !byName.has(n));
  if (unknown.length) {
    throw new FloeError('UNKNOWN_PROJECTION', `unknown projection ${unknown.join(', ')}; known: ${[...byName.keys()].join(', ')}`, {
      context: { unknown },
    });
  }
  return only.map((n) => byName.get(n)!);
}
