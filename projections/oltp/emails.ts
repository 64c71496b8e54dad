/**
 * `emails`: one row per counted email, which is its ledger entry (DESIGN §5): context ids
 * from the first `email.sent`, the earliest time of each lifecycle event, the bounce type
 * of the earliest bounce, open and click event counts, and the status by precedence
 * (`emailStatus`). The ledger entry after the batch holds everything, so the batch's last
 * entry per email replaces the row: one upsert, nothing to merge.
 */
import { emailStatus } from '../runtime/ledger';
import { Column, Rows, upsert } from '../runtime/sql';
import type { EmailState, Fact, Projection, Tx } from '../runtime/types';
import { COUNTED_EMAIL_TYPES } from '../olap/counters';

const TABLE = 'emails';

const COLUMNS: Column[] = [
  ...['tenant_id', 'email_id', 'campaign_id', 'step_id', 'mailbox_id', 'lead_id', 'company_id', 'message_id', 'status'].map((name) => ({
    name,
    type: 'text',
  })),
  ...['sent_at', 'delivered_at', 'first_opened_at', 'first_clicked_at', 'replied_at', 'bounced_at'].map((name) => ({ name, type: 'timestamptz' })),
  { name: 'bounce_type', type: 'text' },
  { name: 'unsubscribed_at', type: 'timestamptz' },
  { name: 'complained_at', type: 'timestamptz' },
  { name: 'open_count', type: 'int' },
  { name: 'click_count', type: 'int' },
];
const KEY = ['tenant_id', 'email_id'];
const REPLACE = {
  ...Object.fromEntries(COLUMNS.filter((c) => !KEY.includes(c.name)).map((c) => [c.name, `EXCLUDED.${c.name}`])),
  updated_at: 'now()',
};

/** Every email.* type that can change an email's row (email.deferred changes nothing). */
const TYPES = [...COUNTED_EMAIL_TYPES, 'email.failed'] as const;

export const emails: Projection<Map<string, EmailState>> = {
  name: TABLE,
  version: 1,
  tables: [TABLE],
  types: TYPES,
  begin: () => new Map(),
  fold(acc, f: Fact) {
    // Ledger entries only grow, so the last one of the batch is the email's whole state.
    if (f.email) acc.set(f.email.next.emailId, f.email.next);
  },
  async write(acc, tx: Tx) {
    const rows = new Rows(COLUMNS.length);
    for (const s of acc.values()) {
      rows.push(
        s.tenantId, s.emailId, s.campaignId, s.stepId, s.mailboxId, s.leadId, s.companyId, s.messageId, emailStatus(s),
        s.sentAt, s.deliveredAt, s.firstOpenedAt, s.firstClickedAt, s.repliedAt, s.bouncedAt,
        s.bounceType, s.unsubscribedAt, s.complainedAt, s.openCount, s.clickCount,
      );
    }
    await upsert(tx.client, tx.table(TABLE), COLUMNS, rows.columns, { conflict: KEY, update: REPLACE });
  },
};
