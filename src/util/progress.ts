/**
 * A progress bar for long work: done/total, rate, time left, and free-form fields (loss, accuracy).
 * On a TTY it redraws one line on stderr; elsewhere (CI, pipes) it prints a plain line at most every
 * `logEveryMs` and at the end. The `progress` setting (BOWCNN_PROGRESS=0) silences it.
 */
import { settings } from '../core/settings.js';

export interface ProgressOptions {
  unit?: string; // 'img', 'iter', 'B'
  stream?: NodeJS.WriteStream;
  logEveryMs?: number;
  silent?: boolean;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const m = Math.floor(s / 60),
    sec = Math.floor(s % 60);
  return m >= 60
    ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
    : `${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}

function fmtRate(r: number): string {
  return r >= 1000 ? `${(r / 1000).toFixed(1)}k` : r >= 10 ? r.toFixed(0) : r.toFixed(2);
}

export class Progress {
  private readonly start = performance.now();
  private last = 0;
  private done = 0;
  private fields: Record<string, string> = {};
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly silent: boolean;
  private closed = false;

  constructor(
    private readonly label: string,
    private total: number,
    private readonly opts: ProgressOptions = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
    this.silent = opts.silent ?? !settings().progress;
  }

  set(fields: Record<string, string | number>): this {
    for (const [k, v] of Object.entries(fields))
      this.fields[k] = typeof v === 'number' ? (Math.abs(v) < 10 ? v.toFixed(4) : v.toFixed(1)) : v;
    return this;
  }

  tick(n = 1): void {
    this.done += n;
    const now = performance.now();
    const every = this.tty ? 100 : (this.opts.logEveryMs ?? 10_000);
    // the line that reaches the total is drawn at once; a tick of 0 after it (a field changed) waits its turn
    if (now - this.last >= every || (n > 0 && this.done >= this.total)) {
      this.last = now;
      this.draw(false);
    }
  }

  /** Seconds since start. */
  elapsed(): number {
    return (performance.now() - this.start) / 1000;
  }
  rate(): number {
    return this.done / Math.max(1e-9, this.elapsed());
  }

  line(): string {
    const t = this.elapsed();
    const rate = this.done / Math.max(1e-9, t);
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 0;
    const width = 24;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const left = rate > 0 ? (this.total - this.done) / rate : NaN;
    const extra = Object.entries(this.fields)
      .map(([k, v]) => `${k} ${v}`)
      .join('  ');
    return (
      `${this.label} [${bar}] ${this.done}/${this.total} ${fmtRate(rate)} ${this.opts.unit ?? 'it'}/s ` +
      `${fmtTime(t)}<${fmtTime(left)}${extra ? `  ${extra}` : ''}`
    );
  }

  private draw(final: boolean): void {
    if (this.silent) return;
    if (this.tty) this.stream.write(`\r\x1b[2K${this.line()}${final ? '\n' : ''}`);
    else this.stream.write(`${this.line()}\n`);
  }

  /**
   * Work that ended before its planned total (a solver that converged, a search that stopped early): the bar
   * is drawn full at what was done, with the reason beside it, and closed.
   */
  finishEarly(reason: string): void {
    if (this.closed || this.done >= this.total) {
      this.end();
      return;
    }
    this.fields = { ...this.fields, [reason]: `(of at most ${this.total})` };
    this.total = this.done;
    this.closed = true;
    this.draw(true);
  }

  /** A line of its own under the bar (what comes next), silenced as the bar is. */
  note(text: string): void {
    if (!this.silent) this.stream.write(`${text}\n`);
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.tty) this.draw(true);
    else if (this.last === 0 || this.done < this.total) this.draw(true);
  }
}
