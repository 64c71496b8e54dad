/** A one-line progress display on a terminal: count, rate, and ETA when the total is known. */
export class Progress {
  private count = 0;
  private readonly started = Date.now();
  private last = 0;
  constructor(
    private readonly label: string,
    private readonly write: (s: string) => void,
    private readonly total?: number,
  ) {}

  tick(n: number): void {
    this.count += n;
    const now = Date.now();
    if (now - this.last < 200) return;
    this.last = now;
    process.stderr.write('\r' + this.line(now) + '\x1b[K');
  }

  done(): void {
    process.stderr.write('\r\x1b[K');
    this.write(this.line(Date.now()));
  }

  private line(now: number): string {
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const rate = this.count / secs;
    let s = `${this.label}: ${this.count.toLocaleString('en-US')} events, ${Math.round(rate).toLocaleString('en-US')} events/s`;
    if (this.total) {
      const pct = Math.min(100, (100 * this.count) / this.total);
      const width = 24;
      const filled = Math.round((pct / 100) * width);
      const eta = rate > 0 ? Math.max(0, (this.total - this.count) / rate) : 0;
      s = `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct.toFixed(1)}%  ${this.count.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')}  ${Math.round(rate).toLocaleString('en-US')} events/s  ETA ${eta.toFixed(0)}s`;
    }
    return s;
  }
}
