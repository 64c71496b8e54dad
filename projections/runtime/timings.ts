/**
 * Where a projector's time goes, by step, when FLOE_PROFILE is set (printed by
 * `floe project` at the end; `floe bench` uses it for its "where the time goes" notes).
 */
class Timings {
  readonly enabled = Boolean(process.env.FLOE_PROFILE) && process.env.FLOE_PROFILE !== '0';
  private readonly totals = new Map<string, { ms: number; n: number }>();

  add(step: string, ms: number): void {
    if (!this.enabled) return;
    const t = this.totals.get(step) ?? { ms: 0, n: 0 };
    t.ms += ms;
    t.n++;
    this.totals.set(step, t);
  }

  report(): string[] {
    return [...this.totals.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([step, t]) => `${step.padEnd(36)} ${t.ms.toFixed(0).padStart(7)} ms  (${t.n} × ${(t.ms / t.n).toFixed(1)} ms)`);
  }
}

export const timings = new Timings();
