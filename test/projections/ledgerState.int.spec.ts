import { expect } from 'chai';
import knexFactory from 'knex';
import { Client } from 'pg';
import { MIGRATIONS_DIR } from '../../ops/db/migrate';
import { decodeState, encodeState, loadLedger } from '../../projections/runtime/ledger';
import type { EmailState } from '../../projections/runtime/types';
import { useDatabase } from '../helpers/backends';

const entry = (o: Partial<EmailState> = {}): EmailState => ({
  emailId: 'e-1',
  tenantId: 't-1',
  campaignId: 'c-1',
  stepId: null,
  mailboxId: 'mb-1',
  leadId: 'l-1',
  companyId: null,
  messageId: '<m-1@example.com>',
  sentAt: Date.UTC(2026, 0, 31, 23, 59, 59, 999),
  cohortDay: '2026-01-31',
  sentPosition: 9_007_199_254_740_993n, // past 2^53: must not go through a double
  deliveredAt: Date.UTC(2026, 1, 1, 0, 0, 0, 1),
  firstOpenedAt: null,
  humanOpened: true,
  firstClickedAt: null,
  repliedAt: 0,
  bouncedAt: null,
  bounceType: 'soft',
  hardBounced: false,
  failedAt: null,
  unsubscribedAt: null,
  complainedAt: Date.UTC(2027, 5, 1),
  openCount: 3,
  clickCount: 0,
  ...o,
});

describe('email ledger state', () => {
  it('round-trips every field, nulls apart from empty strings, and ids holding the separator or backslashes', () => {
    for (const s of [
      entry(),
      entry({ campaignId: null, messageId: null, bounceType: null, humanOpened: false, hardBounced: true }),
      entry({ leadId: '', companyId: '', stepId: '=', mailboxId: 'a\x1fb\\u\\\\c\\', tenantId: 'ü-☃-\\x1f' }),
    ]) {
      expect(decodeState(s.emailId, encodeState(s))).to.deep.equal(s);
    }
  });

  it('names the email of a malformed entry', () => {
    expect(() => decodeState('e-9', 'only\x1ftwo')).to.throw(/email e-9 has 2 fields, not 22/);
  });

  describe('the migration to one state column', function () {
    this.timeout(60_000);
    const db = useDatabase();

    it('converts entries of the 22-column table, and back', async () => {
      const knex = knexFactory({ client: 'pg', connection: db.url, pool: { min: 0, max: 1 } });
      const config = { directory: MIGRATIONS_DIR, loadExtensions: ['.ts'], schemaName: 'floe', tableName: 'knex_migrations' };
      const c = new Client({ connectionString: db.url });
      await c.connect();
      try {
        await knex.migrate.down({ ...config, name: '20261205000100_ledger_state.ts' });
        await c.query(`
          INSERT INTO floe.projection_email_ledger (lane, shard, email_id, tenant_id, campaign_id, step_id, mailbox_id, lead_id, company_id,
            message_id, sent_at, sent_position, delivered_at, first_opened_at, human_opened, first_clicked_at, replied_at, bounced_at,
            bounce_type, hard_bounced, failed_at, unsubscribed_at, complained_at, open_count, click_count)
          VALUES ('main', '0/1', 'e-1', 't-1', 'c-1', NULL, 'mb-1', E'l\\\\1\\x1f=\\x1e\\\\u', '', '<m-1@example.com>',
            '2026-01-31 23:59:59.999+00', 42, '2026-02-01 00:00:00.001+00', NULL, true, NULL, '1970-01-01 00:00:00+00', NULL,
            'soft', false, NULL, NULL, '2027-06-01 00:00:00+00', 3, 0)`);
        const before = (await c.query(`SELECT * FROM floe.projection_email_ledger`)).rows;
        await knex.migrate.latest(config);
        const [s] = (await loadLedger(c, 'main', '0/1', ['e-1'])).values();
        expect(s).to.deep.equal(entry({ leadId: 'l\\1\x1f=\x1e\\u', companyId: '', sentPosition: 42n }));
        await knex.migrate.down({ ...config, name: '20261205000100_ledger_state.ts' });
        expect((await c.query(`SELECT * FROM floe.projection_email_ledger`)).rows).to.deep.equal(before);
      } finally {
        await knex.migrate.latest(config).catch(() => undefined);
        await c.end();
        await knex.destroy();
      }
    });
  });
});
