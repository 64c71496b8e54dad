/**
 * The log projections: the per-event drill-down logs of emails, and the admin tables.
 */
import { adminAuditLog } from './adminAuditLog';
import { adminSystemEvents } from './adminSystemEvents';
import { EMAIL_LOG_PROJECTIONS } from './emailLogs';

export { adminAuditLog } from './adminAuditLog';
export { adminSystemEvents } from './adminSystemEvents';
export { emailBounces, emailClicks, emailOpens, emailReplies } from './emailLogs';

export const LOG_PROJECTIONS = [...EMAIL_LOG_PROJECTIONS, adminAuditLog, adminSystemEvents];
