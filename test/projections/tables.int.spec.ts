import { expect } from 'chai';
import knexFactory from 'knex';
import { Client } from 'pg';
import * as migration from '../../migrations/20261123000200_projection_tables';
import { TRUTH_TABLE_COLUMNS } from '../../ops/generate/oracle';
import {
  ensureMonthPartitions,
  listPartitions,
  materializedViewDef,
  TABLES,
  tableDef,
} from '../../projections/tables';
import { useDatabase } from '../helpers/backends';

/** The oracle README's column contract ("Tables and columns"), key columns first. */
const ORACLE_COLUMNS: Record<string, string[]> = {
  campaign_analytics: ['tenant_id', 'campaign_id', 'day', 'company_id', 'sent', 'delivered', 'bounced', 'opened_tracked', 'human_opened', 'clicked_tracked', 'replied', 'unsubscribed', 'spam_complaints', 'open_events', 'click_events', 'completed_leads'],
  sequence_step_analytics: ['tenant_id', 'step_id', 'day', 'campaign_id', 'company_id', 'sent', 'delivered', 'bounced', 'opened_tracked', 'human_opened', 'clicked_tracked', 'replied', 'unsubscribed', 'spam_complaints', 'open_events', 'click_events'],
  mailbox_analytics: ['tenant_id', 'mailbox_id', 'day', 'company_id', 'sent', 'delivered', 'bounced', 'opened_tracked', 'human_opened', 'clicked_tracked', 'replied', 'unsubscribed', 'spam_complaints', 'open_events', 'click_events', 'current_volume', 'warmup_status', 'health_score'],
  lead_analytics: ['tenant_id', 'lead_id', 'campaign_id', 'sent', 'delivered', 'bounced', 'opened_tracked', 'human_opened', 'clicked_tracked', 'replied', 'unsubscribed', 'spam_complaints', 'open_events', 'click_events', 'status'],
  warmup_analytics: ['tenant_id', 'mailbox_id', 'day', 'sent', 'delivered', 'opened_tracked', 'clicked_tracked', 'replied', 'bounced', 'unsubscribed', 'spam_complaints', 'health_score', 'progress_percentage'],
  daily_analytics: ['tenant_id', 'campaign_id', 'mailbox_id', 'day', 'emails_sent', 'emails_opened', 'emails_clicked', 'emails_bounced', 'emails_replied'],
  analytics_hourly: ['tenant_id', 'hour', 'messages_sent', 'messages_delivered', 'messages_failed', 'messages_bounced', 'messages_opened', 'messages_clicked', 'unique_opens', 'unique_clicks', 'avg_delivery_ms'],
  emails: ['tenant_id', 'email_id', 'campaign_id', 'step_id', 'mailbox_id', 'lead_id', 'company_id', 'message_id', 'status', 'sent_at', 'delivered_at', 'first_opened_at', 'first_clicked_at', 'replied_at', 'bounced_at', 'bounce_type', 'unsubscribed_at', 'complained_at', 'open_count', 'click_count'],
  billing_analytics: ['tenant_id', 'period_start', 'period_end', 'subscription_id', 'emails_sent', 'mailboxes_used', 'domains_used', 'campaigns_used', 'leads_used', 'warmups_active'],
};

/** What follows the contract columns: generated rates, then updated_at. */
const AFTER_CONTRACT: Record<string, string[]> = {
  daily_analytics: ['open_rate', 'click_rate', 'bounce_rate', 'reply_rate', 'updated_at'],
  analytics_hourly: ['delivery_rate', 'open_rate', 'click_rate', 'bounce_rate', 'updated_at'],
};

const INSUFFICIENT_PRIVILEGE = '42501';

async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

async function columnsOf(client: Client, table: string): Promise<string[]> {
  const { rows } = await client.query(
    `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [table],
  );
  return rows.map((r) => r.attname);
}

async function count(client: Client, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${sql}`, params);
  return rows[0].n;
}

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected the query to fail');
}

/** `YYYYMM` of the UTC month `offset` months from now. */
function monthSuffix(offset: number): string {
  const now = new Date();
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
  return d.toISOString().slice(0, 7).replace('-', '');
}

describe('projected tables (DDL, partitions, RLS)', () => {
  const db = useDatabase();
  let owner: Client;

  before(async () => {
    if (db.url) owner = await connect(db.url);
  });
  after(async () => owner?.end());

  describe('columns', () => {
    it('the list in this spec is the oracle\'s', () => {
      expect(ORACLE_COLUMNS).to.deep.equal(TRUTH_TABLE_COLUMNS);
    });

    for (const [table, contract] of Object.entries(ORACLE_COLUMNS)) {
      it(`${table} has the oracle's columns in order, key first`, async () => {
        const expected = [...contract, ...(AFTER_CONTRACT[table] ?? ['updated_at'])];
        expect(await columnsOf(owner, `public.${table}`)).to.deep.equal(expected);
        const { rows } = await owner.query(
          `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'`,
          [`public.${table}`],
        );
        expect(rows[0].def).to.equal(`PRIMARY KEY (${tableDef(table).key.join(', ')})`);
        expect(contract.slice(0, tableDef(table).key.length)).to.deep.equal(tableDef(table).key);
      });
    }

    it('every table exists in public with its definition\'s columns, RLS on and its tenant policy', async () => {
      for (const def of TABLES) {
        expect(await columnsOf(owner, `public.${def.name}`), def.name).to.deep.equal(def.columns.map((c) => c.name));
        const { rows } = await owner.query(
          `SELECT c.relrowsecurity AS rls, c.relforcerowsecurity AS forced, c.relkind,
                  (SELECT array_agg(polname::text) FROM pg_policy WHERE polrelid = c.oid) AS policies
             FROM pg_class c WHERE c.oid = $1::regclass`,
          [`public.${def.name}`],
        );
        expect(rows[0], def.name).to.deep.include({ rls: true, forced: false, policies: [`${def.name}_tenant`] });
        expect(rows[0].relkind, def.name).to.equal(def.partitionColumn ? 'p' : 'r');
        expect(def.columns.map((c) => c.name), def.name).to.include('tenant_id');
      }
    });

    it('daily_analytics derives its rates: fractions, NULL when nothing was sent', async () => {
      await owner.query(`
        INSERT INTO daily_analytics (tenant_id, campaign_id, mailbox_id, day, emails_sent, emails_opened, emails_clicked, emails_bounced, emails_replied)
        VALUES ('rates', 'c', 'm', '2031-01-05', 3, 2, 1, 0, 3), ('rates', 'c', 'm', '2031-01-06', 0, 0, 0, 0, 0)`);
      const { rows } = await owner.query(
        `SELECT open_rate, click_rate, bounce_rate, reply_rate FROM daily_analytics WHERE tenant_id = 'rates' ORDER BY day`,
      );
      expect(rows).to.deep.equal([
        { open_rate: '0.6667', click_rate: '0.3333', bounce_rate: '0.0000', reply_rate: '1.0000' },
        { open_rate: null, click_rate: null, bounce_rate: null, reply_rate: null },
      ]);
    });
  });

  describe('month partitions', () => {
    it('a fresh install has partitions from the current month to three ahead, and a default', async () => {
      for (const def of TABLES.filter((t) => t.partitionColumn)) {
        const names = (await listPartitions(owner, def.name)).map((p) => p.name);
        expect(names, def.name).to.deep.equal([...[0, 1, 2, 3].map((i) => `${def.name}_p${monthSuffix(i)}`), `${def.name}_default`]);
      }
    });

    it('moves a month\'s rows out of the default partition into the new partition', async () => {
      await owner.query(`
        INSERT INTO campaign_analytics (tenant_id, campaign_id, day, sent) VALUES
          ('move', 'c1', '2033-05-01', 1), ('move', 'c1', '2033-05-31', 2), ('move', 'c1', '2033-06-01', 4)`);
      expect(await count(owner, `campaign_analytics_default WHERE tenant_id = 'move'`)).to.equal(3);

      const created = await ensureMonthPartitions(owner, 'campaign_analytics', 'day', '2033-05-20', new Date('2033-05-21T00:00:00Z'));

      expect(created).to.deep.equal(['campaign_analytics_p203305']);
      expect(await count(owner, `campaign_analytics_default WHERE tenant_id = 'move' AND day < '2033-06-01'`)).to.equal(0);
      expect(await count(owner, `campaign_analytics_p203305 WHERE tenant_id = 'move'`)).to.equal(2);
      const { rows } = await owner.query(
        `SELECT day::text AS day, sent, tableoid::regclass::text AS part FROM campaign_analytics WHERE tenant_id = 'move' ORDER BY day`,
      );
      expect(rows).to.deep.equal([
        { day: '2033-05-01', sent: 1, part: 'campaign_analytics_p203305' },
        { day: '2033-05-31', sent: 2, part: 'campaign_analytics_p203305' },
        { day: '2033-06-01', sent: 4, part: 'campaign_analytics_default' },
      ]);
      expect(await ensureMonthPartitions(owner, 'campaign_analytics', 'day', '2033-05-01', '2033-05-01')).to.deep.equal([]);
    });

    it('bounds timestamptz partitions at UTC month starts whatever the session time zone', async () => {
      const client = await connect(db.url);
      try {
        await client.query(`SET TimeZone = 'Asia/Kolkata'`);
        // 23:30 UTC on May 31st is already June 1st in Kolkata: it belongs to May.
        await client.query(`INSERT INTO analytics_hourly (tenant_id, hour, messages_sent) VALUES
          ('tz', '2033-05-31 23:00:00+00', 1), ('tz', '2033-06-01 00:00:00+00', 1)`);
        const created = await ensureMonthPartitions(client, 'analytics_hourly', 'hour', '2033-05-01', '2033-06-30');
        expect(created).to.deep.equal(['analytics_hourly_p203305', 'analytics_hourly_p203306']);
        const { rows } = await client.query(
          `SELECT tableoid::regclass::text AS part FROM analytics_hourly WHERE tenant_id = 'tz' ORDER BY hour`,
        );
        expect(rows.map((r) => r.part)).to.deep.equal(['analytics_hourly_p203305', 'analytics_hourly_p203306']);
        const may = (await listPartitions(client, 'analytics_hourly')).find((p) => p.name === 'analytics_hourly_p203305');
        expect(may).to.deep.equal({
          name: 'analytics_hourly_p203305',
          isDefault: false,
          from: new Date('2033-05-01T00:00:00Z'),
          to: new Date('2033-06-01T00:00:00Z'),
        });
      } finally {
        await client.end();
      }
    });

    it('joins the caller\'s transaction with inTransaction: a rollback undoes the partitions and the move', async () => {
      await owner.query(`INSERT INTO email_opens (event_id, tenant_id, email_id, occurred_at) VALUES (gen_random_uuid(), 't', 'e', '2034-02-10T10:00:00Z')`);
      await owner.query('BEGIN');
      const created = await ensureMonthPartitions(owner, 'email_opens', 'occurred_at', '2034-01-01', '2034-02-01', { inTransaction: true });
      expect(created).to.deep.equal(['email_opens_p203401', 'email_opens_p203402']);
      expect(await count(owner, 'email_opens_p203402')).to.equal(1);
      await owner.query('ROLLBACK');
      expect((await listPartitions(owner, 'email_opens')).map((p) => p.name)).not.to.include('email_opens_p203402');
      expect(await count(owner, `email_opens_default WHERE occurred_at >= '2034-01-01T00:00:00Z'`)).to.equal(1);
    });

    it('two concurrent callers both succeed and each month is created once', async () => {
      const [a, b] = await Promise.all([connect(db.url), connect(db.url)]);
      try {
        const results = await Promise.all([
          ensureMonthPartitions(a, 'email_clicks', 'occurred_at', '2035-01-01', '2035-06-01'),
          ensureMonthPartitions(b, 'email_clicks', 'occurred_at', '2035-03-01', '2035-08-01'),
        ]);
        const created = results.flat().sort();
        expect(created).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8].map((m) => `email_clicks_p20350${m}`));

        // The later caller waits for the earlier one's commit, then finds the partitions made.
        await a.query('BEGIN');
        expect(await ensureMonthPartitions(a, 'email_clicks', 'occurred_at', '2036-01-01', '2036-01-01', { inTransaction: true })).to.have.length(1);
        let settled = false;
        const later = ensureMonthPartitions(b, 'email_clicks', 'occurred_at', '2036-01-01', '2036-01-01').finally(() => (settled = true));
        await new Promise((r) => setTimeout(r, 300));
        expect(settled, 'the second caller waits for the lock').to.equal(false);
        await a.query('COMMIT');
        expect(await later).to.deep.equal([]);
      } finally {
        await Promise.all([a.end(), b.end()]);
      }
    });

    it('refuses a column the table is not partitioned on', async () => {
      const err = await rejection(ensureMonthPartitions(owner, 'email_clicks', 'email_id', '2035-01-01', '2035-01-01'));
      expect(err.message).to.match(/not partitioned by RANGE on email_id/);
      const plain = await rejection(ensureMonthPartitions(owner, 'emails', 'sent_at', '2035-01-01', '2035-01-01'));
      expect(plain.message).to.match(/not a partitioned table/);
    });
  });

  describe('row-level security', () => {
    let analyst: Client;

    before(async () => {
      await owner.query(`
        INSERT INTO campaign_analytics (tenant_id, campaign_id, day, company_id, sent, delivered, opened_tracked, clicked_tracked, replied, bounced)
        VALUES ('A', 'ca1', '2033-05-02', 'co1', 4, 4, 2, 1, 1, 0),
               ('A', 'ca1', '2033-05-03', 'co1', 6, 5, 3, 0, 0, 1),
               ('A', 'ca2', '2033-05-02', 'co2', 0, 0, 0, 0, 0, 0),
               ('B', 'cb1', '2033-05-02', 'co3', 5, 5, 5, 5, 5, 0);
        INSERT INTO emails (tenant_id, email_id, status) VALUES ('A', 'ea', 'sent'), ('B', 'eb', 'sent');`);
      analyst = await connect(db.url);
    });
    after(async () => analyst?.end());

    /** Run `sql` as floe_analyst for `tenant` (null: the setting is never made on `client`). */
    async function asAnalyst(tenant: string | null, sql: string, client = analyst): Promise<Array<Record<string, unknown>>> {
      await client.query('BEGIN');
      try {
        if (tenant !== null) await client.query(`SELECT set_config('app.current_tenant_id', $1, true)`, [tenant]);
        await client.query('SET LOCAL ROLE floe_analyst');
        return (await client.query(sql)).rows;
      } finally {
        await client.query('ROLLBACK');
      }
    }

    it('a tenant sees only its own rows', async () => {
      const rows = await asAnalyst('A', `SELECT DISTINCT tenant_id FROM campaign_analytics`);
      expect(rows).to.deep.equal([{ tenant_id: 'A' }]);
      expect(await asAnalyst('B', `SELECT email_id FROM emails`)).to.deep.equal([{ email_id: 'eb' }]);
    });

    it('without a tenant, nothing is visible', async () => {
      const fresh = await connect(db.url);
      try {
        expect(await asAnalyst(null, `SELECT * FROM campaign_analytics`, fresh)).to.deep.equal([]);
        expect(await asAnalyst(null, `SELECT * FROM emails`, fresh)).to.deep.equal([]);
      } finally {
        await fresh.end();
      }
      expect(await asAnalyst('', `SELECT * FROM emails`)).to.deep.equal([]);
    });

    it('every table is readable through its policy, and only that way', async () => {
      for (const def of TABLES) {
        expect(await asAnalyst('nobody', `SELECT count(*)::int AS n FROM public.${def.name}`), def.name).to.deep.equal([{ n: 0 }]);
      }
    });

    it('partitions, the materialized view and writes are denied', async () => {
      for (const sql of [
        'SELECT * FROM campaign_analytics_p203305',
        'SELECT * FROM campaign_analytics_default',
        `SELECT * FROM campaign_analytics_p${monthSuffix(0)}`,
        'SELECT * FROM campaign_performance_summary',
        `INSERT INTO emails (tenant_id, email_id) VALUES ('A', 'x')`,
      ]) {
        expect((await rejection(asAnalyst('A', sql))).code, sql).to.equal(INSUFFICIENT_PRIVILEGE);
      }
    });

    it('the campaign summary refreshes concurrently and the tenant view filters it', async () => {
      const mv = materializedViewDef('campaign_performance_summary');
      await owner.query(mv.refreshSql(mv.name));
      const { rows } = await owner.query(`
        SELECT tenant_id, campaign_id, company_id, sent::int, delivered::int, first_day::text, last_day::text,
               open_rate, click_rate, reply_rate, bounce_rate
          FROM campaign_performance_summary WHERE tenant_id = 'A' ORDER BY campaign_id`);
      expect(rows).to.deep.equal([
        {
          ...{ tenant_id: 'A', campaign_id: 'ca1', company_id: 'co1', sent: 10, delivered: 9, first_day: '2033-05-02', last_day: '2033-05-03' },
          ...{ open_rate: '0.5000', click_rate: '0.1000', reply_rate: '0.1000', bounce_rate: '0.1000' },
        },
        {
          ...{ tenant_id: 'A', campaign_id: 'ca2', company_id: 'co2', sent: 0, delivered: 0, first_day: '2033-05-02', last_day: '2033-05-02' },
          ...{ open_rate: null, click_rate: null, reply_rate: null, bounce_rate: null },
        },
      ]);
      const seen = await asAnalyst('A', `SELECT campaign_id FROM tenant_campaign_performance_summary ORDER BY 1`);
      expect(seen).to.deep.equal([{ campaign_id: 'ca1' }, { campaign_id: 'ca2' }]);
      expect(await asAnalyst(null, `SELECT * FROM tenant_campaign_performance_summary`)).to.deep.equal([]);
    });
  });

  describe('shadow copies', () => {
    it('derive every name from the target, and drop cleanly', async () => {
      const def = tableDef('campaign_analytics');
      const mv = materializedViewDef('campaign_performance_summary');
      const target = 'campaign_analytics__shadow';
      await owner.query([...def.create(target), ...mv.create(`${mv.name}__shadow`, target)].join(';\n'));
      await ensureMonthPartitions(owner, target, 'day', '2033-05-01', '2033-05-01');
      const { rows } = await owner.query(`
        SELECT relname::text FROM pg_class WHERE relname LIKE 'campaign_analytics\\_\\_shadow%' OR relname LIKE '%performance_summary\\_\\_shadow%'
        UNION ALL SELECT polname::text FROM pg_policy WHERE polname LIKE 'campaign_analytics\\_\\_shadow%'
        ORDER BY 1`);
      expect(rows.map((r) => r.relname)).to.deep.equal([
        'campaign_analytics__shadow',
        'campaign_analytics__shadow_default',
        'campaign_analytics__shadow_default_pkey',
        'campaign_analytics__shadow_p203305',
        'campaign_analytics__shadow_p203305_pkey',
        'campaign_analytics__shadow_pkey',
        'campaign_analytics__shadow_tenant',
        'campaign_performance_summary__shadow',
        'campaign_performance_summary__shadow_key_idx',
        'tenant_campaign_performance_summary__shadow',
      ]);
      await owner.query([...mv.dropSql(`${mv.name}__shadow`), ...def.dropSql(target)].join(';\n'));
      expect(await count(owner, `pg_class WHERE relname LIKE '%\\_\\_shadow%'`)).to.equal(0);
    });

    it('refuse names PostgreSQL would truncate', () => {
      expect(() => tableDef('sequence_step_analytics').create(`a${'x'.repeat(60)}`)).to.throw(/longer than/);
    });
  });
});

describe('projection tables migration', () => {
  const db = useDatabase({ migrate: false });

  it('runs up, down and up again (the role already existing)', async () => {
    const knex = knexFactory({ client: 'pg', connection: db.url, pool: { min: 0, max: 1 } });
    const client = await connect(db.url);
    try {
      const publicTables = () => count(client, `pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'`);
      await knex.transaction((tx) => migration.up(tx));
      expect(await publicTables()).to.be.greaterThan(TABLES.length);
      await knex.transaction((tx) => migration.down(tx));
      expect(await publicTables()).to.equal(0);
      await knex.transaction((tx) => migration.up(tx));
      expect(await count(client, `pg_matviews WHERE matviewname = 'campaign_performance_summary'`)).to.equal(1);
    } finally {
      await client.end();
      await knex.destroy();
    }
  });
});
