/**
 * Repeated log lines (a page flooding calls that fail the same way): per key, the first
 * LOG_REPEAT_LIMITS.lines lines of each window of windowMs are written, the rest are counted, and
 * when the window ends one line says how many were left out. Keys past LOG_REPEAT_LIMITS.keys in a
 * window share one count, so the table stays bounded whatever the keys are.
 */
import type { Logger, LogLevel } from './logger';

export const LOG_REPEAT_LIMITS = { lines: 10, windowMs: 60_000, keys: 500 } as const;
export type RepeatLimits = { lines: number; windowMs: number; keys: number };

const OTHER_KEYS = '\0other';

interface Count {
  lines: number;
  suppressed: number;
  level: LogLevel;
  msg: string;
  /** the fields the summary line repeats (what identifies the key, e.g. the error code) */
  fields: Record<string, unknown>;
}

export class RepeatLimiter {
  private readonly counts = new Map<string, Count>();
  private windowStart = -Infinity;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly limits: RepeatLimits = LOG_REPEAT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Logs `msg` unless `key` has had its lines in this window; true when it was logged (a caller's
   * follow-up line, e.g. a debug detail, goes with it or not at all).
   */
  log(key: string, level: LogLevel, msg: string, meta: Record<string, unknown> | undefined, fields: Record<string, unknown> = {}): boolean {
    const t = this.now();
    if (t - this.windowStart >= this.limits.windowMs) this.flush(t);
    if (!this.counts.has(key) && this.counts.size >= this.limits.keys) key = OTHER_KEYS;
    let c = this.counts.get(key);
    if (!c) this.counts.set(key, (c = key === OTHER_KEYS ? { lines: 0, suppressed: 0, level, msg: 'log lines', fields: {} } : { lines: 0, suppressed: 0, level, msg, fields }));
    if (c.lines < this.limits.lines) {
      c.lines++;
      this.logger[level](msg, meta);
      return true;
    }
    c.suppressed++;
    // the summary comes when the window ends, even if nothing else is logged (unref: it keeps no process alive)
    this.timer ??= setTimeout(() => this.flush(this.now()), this.windowStart + this.limits.windowMs - t).unref();
    return false;
  }

  /** Writes one summary line per key with suppressed lines, and starts a new window at `t`. */
  flush(t: number = this.now()): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const s = Math.min(t - this.windowStart, this.limits.windowMs) / 1000;
    const seconds = s < 10 ? s.toFixed(1) : String(Math.round(s));
    for (const c of this.counts.values()) {
      if (c.suppressed > 0) this.logger[c.level](`${c.msg}: ${c.suppressed} similar lines suppressed in ${seconds} s`, { ...c.fields, suppressed: c.suppressed });
    }
    this.counts.clear();
    this.windowStart = t;
  }
}
