/**
 * A one-line progress bar for long work: stage, done/total, ETA and a few metrics.
 * Redraws in place on a TTY (at most 10 times a second); prints a line per update otherwise
 * (throttled to one every few seconds), so logs in CI stay readable.
 */
export class ProgressBar {
  private start = Date.now();
  private lastDraw = 0;
  private readonly tty: boolean;

  constructor(
    private label: string,
    private total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(out.isTTY);
  }

  reset(label: string, total: number): void {
    this.label = label;
    this.total = total;
    this.start = Date.now();
    this.lastDraw = 0;
  }

  /** Switches to another label (after an interleaved evaluation, say) without restarting the clock. */
  relabel(label: string, total: number): void {
    if (label === this.label && total === this.total) return;
    this.label = label;
    this.total = total;
  }

  update(done: number, fields: Record<string, string | number | undefined> = {}, force = false): void {
    const now = Date.now();
    const interval = this.tty ? 100 : 5000;
    if (!force && now - this.lastDraw < interval && done < this.total) return;
    this.lastDraw = now;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 0;
    const elapsed = (now - this.start) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : NaN;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    const extra = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k} ${typeof v === "number" ? fmtNum(v) : v}`)
      .join("  ");
    const line = `${this.label} ${bar} ${done}/${this.total}  ${fmtTime(elapsed)} elapsed, ETA ${fmtTime(eta)}  ${extra}`;
    if (this.tty) this.out.write(`\r\x1b[2K${line}`);
    else this.out.write(line + "\n");
  }

  done(): void {
    if (this.tty) this.out.write("\n");
  }
}

export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}

export function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "--:--";
  const m = Math.floor(s / 60);
  const sec = Math.floor(s % 60);
  return `${m}:${String(sec).padStart(2, "0")}`;
}
