import { parseMonth } from '../../../projections/billing/periods';
import * as billing from '../../../projections/billing/service';
import { Command, Parsed, stringOption, toJson, UsageError } from '../args';
import { openContext } from '../context';

function required(p: Parsed, name: string): string {
  const v = stringOption(p, name);
  if (!v) throw new UsageError(`--${name} is required`);
  return v;
}

/** A --period value, checked before anything is opened (a malformed one is bad input, whatever the tenant). */
function checkedMonth<T extends string | undefined>(month: T): T {
  if (month !== undefined) parseMonth(month);
  return month;
}

const PERIOD_HELP = `--period YYYY-MM names the tenant's billing period that starts in that month (periods run
from the anchor day of the tenant's first subscription to the same day next month; calendar
months without a subscription).`;

export const billingShow: Command = {
  usage: 'billing show --tenant T [--period YYYY-MM] [--json]',
  summary: "Show a tenant's billing periods as the live projection has them",
  options: { tenant: { type: 'string' }, period: { type: 'string' }, json: { type: 'boolean' } },
  help: `
Prints the tenant's billing_analytics rows (all periods, or one).
${PERIOD_HELP}
  --json   one JSON object per row`,
  async run(p, io) {
    const tenant = required(p, 'tenant');
    const month = checkedMonth(stringOption(p, 'period'));
    const ctx = await openContext((m) => io.err(m));
    try {
      const rows = await billing.show(ctx.store, ctx.pool, tenant, month);
      for (const r of rows) {
        if (p.values.json) io.out(toJson(r));
        else
          io.out(
            `${r.period_start} → ${r.period_end}  emails ${r.emails_sent}  mailboxes ${r.mailboxes_used}  domains ${r.domains_used}` +
              `  campaigns ${r.campaigns_used}  leads ${r.leads_used}  warmups ${r.warmups_active}  subscription ${r.subscription_id ?? '-'}`,
          );
      }
      if (!rows.length) io.err(`no billing rows for tenant ${tenant}${month ? ` in the period starting in ${month}` : ''}`);
      return 0;
    } finally {
      await ctx.close();
    }
  },
};

export const billingClose: Command = {
  usage: 'billing close --tenant T --period YYYY-MM [--json]',
  summary: 'Record the invoiced figures of a period (appends billing.period_closed)',
  options: { tenant: { type: 'string' }, period: { type: 'string' }, json: { type: 'boolean' } },
  help: `
Appends a billing.period_closed event holding the period's live figures: what was invoiced.
floe billing recompute compares with it later.
${PERIOD_HELP}
Prints {"periodStart","periodEnd","figures","position","behind","empty"}: behind counts the
tenant's billing events (sends, warm-ups, mailboxes, subscriptions) the billing projection had
not applied yet (null: never projected), empty is
true when the period had no billing_analytics row. Either is also a warning on stderr: the
figures closed are the live ones, whatever they are. The output is JSON with or without
--json (accepted for scripts that pass it).`,
  async run(p, io) {
    const tenant = required(p, 'tenant');
    const month = checkedMonth(required(p, 'period'));
    const ctx = await openContext((m) => io.err(m));
    try {
      const closed = await billing.close(ctx.store, ctx.pool, tenant, month);
      const where = `tenant ${tenant}, period ${closed.periodStart}`;
      if (closed.behind === null) io.err(`warning: billing_analytics has never been projected; ${where} was closed with zero figures (run floe project first)`);
      else if (closed.behind > 0n) io.err(`warning: billing_analytics had not applied ${closed.behind} of the tenant's billing event(s) yet; ${where} was closed with the figures projected so far (run floe project, then floe billing recompute to see the difference)`);
      if (closed.empty && closed.behind !== null) io.err(`warning: ${where} has no usage in billing_analytics; closed with zero figures`);
      io.out(toJson(closed));
      return 0;
    } finally {
      await ctx.close();
    }
  },
};

export const billingRecompute: Command = {
  usage: 'billing recompute --tenant T --period YYYY-MM [--json] [--apply] [--reason TEXT]',
  summary: "Recompute a tenant's period from its history and show what differs",
  options: { tenant: { type: 'string' }, period: { type: 'string' }, json: { type: 'boolean' }, apply: { type: 'boolean' }, reason: { type: 'string' } },
  help: `
Recomputes the period from the tenant's events alone, as of the billing projection's
checkpoint (so the live row and the recomputation describe the same events), and prints one
JSON object:
  {"tenant","periodStart","periodEnd","asOf","live","recomputed","closed","diff","applied","misalignedCloses"}
live / recomputed / closed hold the figures under their billing_analytics column names;
live and recomputed are as of the checkpoint (asOf), closed holds the figures of the latest
billing.period_closed up to the store's head (a close shows at once, before the projector
has run; null if never closed); diff names each field where recomputed differs from live or
from closed: {"field":{"live","recomputed","closed"}}. misalignedCloses lists the closes
({"periodStart","periodEnd","figures"}) of periods that overlap this one but are no longer
the tenant's (a subscription.started that came later moved its billing anchor), with a
warning on stderr: what they invoiced covered other dates, so they are not compared.
${PERIOD_HELP}
  --apply          replace the live row with the recomputed one and append
                   billing.period_recomputed (before/after/reason), in one transaction;
                   when the live row already holds the recomputed figures, nothing is
                   changed or appended ("applied": false)
  --reason TEXT    recorded with --apply (refused without it)
  --json           the JSON object alone: without it a one-line summary ("differs in …",
                   "no difference") follows on stderr (stdout is the JSON object either way)
Without --apply nothing is changed.`,
  async run(p, io) {
    const tenant = required(p, 'tenant');
    const month = checkedMonth(required(p, 'period'));
    if (p.values.reason !== undefined && p.values.apply !== true) throw new UsageError('--reason is recorded with --apply only: add --apply, or leave --reason out');
    const ctx = await openContext((m) => io.err(m));
    try {
      const r = await billing.recompute(ctx.store, ctx.pool, tenant, month, { apply: p.values.apply === true, reason: stringOption(p, 'reason') });
      io.out(toJson(r));
      const behind = await billing.unapplied(ctx.pool, tenant, r.asOf);
      if (behind > 0n) {
        io.err(`warning: billing_analytics had not applied ${behind} of the tenant's billing event(s) yet; live and recomputed are as of position ${r.asOf} (run floe project, then recompute again to include them)`);
      }
      for (const c of r.misalignedCloses) {
        io.err(
          `warning: ${c.periodStart} – ${c.periodEnd} was closed, and overlaps this period without being one of the tenant's periods any more (its billing anchor changed since): those figures are in "misalignedCloses", not compared`,
        );
      }
      if (!p.values.json) {
        const fields = Object.keys(r.diff);
        io.err(
          (fields.length ? `differs in ${fields.join(', ')}` : 'no difference') +
            (r.applied ? ' (applied)' : p.values.apply ? ' (the live row already holds the recomputed figures: nothing to apply)' : ''),
        );
      }
      return 0;
    } finally {
      await ctx.close();
    }
  },
};
