/**
 * Batching reply writer. Pieces of a streamed reply are buffered and written in one small statement
 * (`content = content || ?`) when the buffer reaches `flushChars` or `flushIntervalMs` after the first
 * unflushed piece, whichever comes first. The final write sets status and metrics.
 *
 * Appending never throws: it is called from the engine's stream callback. Buffered text stays
 * buffered until a write of it succeeds. A busy database (another connection holds the write lock)
 * is retried with backoff, `busyRetries` times; anything else (disk full, an I/O error, the reply
 * over its size limit, text after the writer closed) is a permanent failure: the writer stops
 * taking text, records `failure` and calls `onFailure` once, so the caller can stop the generation
 * and end the reply with a clear error.
 */
import { StoreError } from './errors';
import type { Logger } from '../logging';
import type { Clock, FinishReply, Message, ReplyFailure, ReplyHooks, ReplyWriter } from './types';
import { check, finishReplySchema, LIMITS, utf8Bytes } from './validation';
import { isBusy } from './busy';

export interface ReplySink {
  /** Appends text; returns false when the reply no longer exists (deleted meanwhile). */
  append(content: string, reasoning: string, now: number): boolean;
  /** Appends the rest and writes the final state; returns the finished message, or null when it no longer exists. */
  finish(content: string, reasoning: string, result: FinishReply, now: number): Message | null;
}

export interface WriterOptions {
  /** Flush this long after the first unflushed piece (ms). 0: write every piece at once. */
  flushIntervalMs: number;
  /** Flush at once when this many characters are buffered. */
  flushChars: number;
  /** Writes retried after SQLITE_BUSY/LOCKED before the failure is permanent (`busy`). */
  busyRetries: number;
  /** First retry delay (ms); doubled at each retry, at most 1 s. */
  busyRetryMs: number;
}

// the retries wait 50 ms doubling to 1 s: ~6.5 s in all, without ever blocking main's thread
export const DEFAULT_WRITER_OPTIONS: WriterOptions = { flushIntervalMs: 250, flushChars: 4096, busyRetries: 10, busyRetryMs: 50 };

const MAX_RETRY_DELAY_MS = 1000;


/** A write error as a failure: its SQLite code (SQLITE_FULL, SQLITE_IOERR…) kept in the message. */
function failureOf(e: unknown, code: ReplyFailure['code']): ReplyFailure {
  const err = e as { code?: unknown; message?: unknown };
  const sqlite = typeof err?.code === 'string' && err.code.startsWith('SQLITE_') ? `${err.code}: ` : '';
  return { code, message: `${sqlite}${typeof err?.message === 'string' ? err.message : String(e)}` };
}

export class BufferedReplyWriter implements ReplyWriter {
  readonly messageId: string;
  readonly threadId: string;
  private content: string[] = [];
  private reasoning: string[] = [];
  private buffered = 0;
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retries = 0;
  private _flushedChars = 0;
  private _flushCount = 0;
  private _closed = false;
  private _failure: ReplyFailure | null = null;
  private droppedLogged = false;

  constructor(
    ids: { messageId: string; threadId: string },
    private readonly sink: ReplySink,
    private readonly opts: WriterOptions,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly hooks: ReplyHooks = {},
    private readonly onClose: (w: BufferedReplyWriter) => void = () => {},
  ) {
    this.messageId = ids.messageId;
    this.threadId = ids.threadId;
  }

  /** Counts text already stored (a continued reply) towards the size limit. */
  resumeAt(bytes: number): void {
    this.bytes = bytes;
  }

  get flushedChars(): number { return this._flushedChars; }
  get flushCount(): number { return this._flushCount; }
  get closed(): boolean { return this._closed; }
  get failure(): ReplyFailure | null { return this._failure; }
  /** Characters buffered, not yet stored. */
  get pendingChars(): number { return this.buffered; }

  append(text: string): void { this.push(text, this.content); }
  appendReasoning(text: string): void { this.push(text, this.reasoning); }

  private push(text: string, into: string[]): void {
    if (this._closed || this._failure) {
      if (!this.droppedLogged) {
        this.droppedLogged = true;
        this.logger.warn('store: text for a finished or failed reply is dropped', { messageId: this.messageId });
      }
      if (this._closed && !this._failure) this.fail({ code: 'closed', message: `reply ${this.messageId} is finished` });
      return;
    }
    if (typeof text !== 'string' || text.length === 0) return;
    const bytes = this.bytes + utf8Bytes(text);
    if (bytes > LIMITS.contentBytes) {
      this.flush(); // what fits is kept
      this.fail({ code: 'too_large', message: `the reply is over ${LIMITS.contentBytes} bytes` });
      return;
    }
    this.bytes = bytes;
    into.push(text);
    this.buffered += text.length;
    if (this.retryTimer) return; // the pending retry writes everything buffered
    if (this.opts.flushIntervalMs <= 0 || this.buffered >= this.opts.flushChars) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.opts.flushIntervalMs);
  }

  private clearTimers(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.retryTimer) { clearTimeout(this.retryTimer); this.retryTimer = null; }
  }

  /** The buffered text, joined (and kept joined); cleared only by {@link written}. */
  private peek(): [string, string] {
    const c = this.content.length === 1 ? this.content[0] : this.content.join('');
    const r = this.reasoning.length === 1 ? this.reasoning[0] : this.reasoning.join('');
    this.content = c ? [c] : [];
    this.reasoning = r ? [r] : [];
    return [c, r];
  }

  private written(): void {
    this.content = [];
    this.reasoning = [];
    this.buffered = 0;
    this.retries = 0;
  }

  /** Writes buffered text now; returns the number of characters written (0 when it could not). Never throws. */
  flush(): number {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this._closed || this._failure || this.buffered === 0 || this.retryTimer) return 0;
    const [c, r] = this.peek();
    let ok: boolean;
    try {
      ok = this.sink.append(c, r, this.clock());
    } catch (e) {
      this.writeFailed(e);
      return 0;
    }
    this.written();
    if (!ok) {
      this.close();
      this.logger.warn('store: streamed reply no longer exists; further text is dropped', { messageId: this.messageId });
      return 0;
    }
    const chars = c.length + r.length;
    this._flushedChars += chars;
    this._flushCount++;
    try {
      this.hooks.onFlush?.({ chars, flushedChars: this._flushedChars, flushCount: this._flushCount });
    } catch (e) {
      this.logger.error('store: onFlush hook failed', { messageId: this.messageId, error: (e as Error).message });
    }
    return chars;
  }

  /** A failed write of buffered text: retry a busy database later, else fail for good. */
  private writeFailed(e: unknown): void {
    if (isBusy(e) && this.retries < this.opts.busyRetries) {
      const delay = Math.min(this.opts.busyRetryMs * 2 ** this.retries, MAX_RETRY_DELAY_MS);
      this.retries++;
      this.logger.warn('store: database busy, reply write retried', { messageId: this.messageId, attempt: this.retries, delayMs: delay });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.flush();
      }, delay);
      return;
    }
    this.fail(failureOf(e, isBusy(e) ? 'busy' : 'write_failed'));
  }

  /** A permanent failure: text can no longer be stored. The buffer is dropped; `onFailure` runs once. */
  private fail(f: ReplyFailure): void {
    if (this._failure) return;
    this._failure = f;
    this.clearTimers();
    const lost = this.buffered;
    this.content = [];
    this.reasoning = [];
    this.buffered = 0;
    this.logger.error('store: reply can no longer be written', { messageId: this.messageId, code: f.code, error: f.message, lostChars: lost });
    try {
      this.hooks.onFailure?.(f);
    } catch (e) {
      this.logger.error('store: onFailure hook failed', { messageId: this.messageId, error: (e as Error).message });
    }
  }

  /**
   * Writes what is left and the final status and metrics; the writer is then closed. When the write
   * throws, nothing is lost: the writer stays open with its buffer (see {@link end} for retries).
   */
  finish(result: FinishReply): Message {
    if (this._closed) throw new StoreError('invalid_input', `reply ${this.messageId} is finished`);
    const v = check(finishReplySchema, result, 'reply result');
    this.clearTimers();
    const [c, r] = this.peek();
    const msg = this.sink.finish(c, r, v, this.clock());
    this.written();
    this._flushedChars += c.length + r.length;
    this.close();
    if (!msg) throw new StoreError('not_found', `reply ${this.messageId} was deleted while streaming`);
    return msg;
  }

  /**
   * finish(), retrying a busy database with backoff. After a permanent failure (earlier, or of this
   * final write) the text that could not be stored is dropped and the reply is ended as an error
   * naming the failure (the caller's own error when it passes one)
   * (a status-only write); if even that fails, the writer is closed and the error thrown (the reply
   * is left 'streaming', and becomes 'interrupted' at the next start).
   */
  async end(result: FinishReply): Promise<Message> {
    for (let attempt = 0; !this._failure; attempt++) {
      try {
        return this.finish(result);
      } catch (e) {
        if (this._closed) throw e;
        if (isBusy(e) && attempt < this.opts.busyRetries) {
          await new Promise((res) => setTimeout(res, Math.min(this.opts.busyRetryMs * 2 ** attempt, MAX_RETRY_DELAY_MS)));
          continue;
        }
        if (isStoreError(e)) throw e;
        this.fail(failureOf(e, isBusy(e) ? 'busy' : 'write_failed'));
        break;
      }
    }
    const f = this._failure!;
    try {
      return this.finish(result.status === 'error' && result.error ? result : { ...result, status: 'error', finishReason: null, error: `store_failed: ${f.message}` });
    } catch (e) {
      this.close();
      throw new StoreError(isBusy(e) ? 'busy' : 'write_failed', `reply ${this.messageId} could not be ended: ${(e as Error).message}`, undefined, { cause: e });
    }
  }

  /** Flushes and ends the reply as interrupted (store closing). Never throws. */
  abandon(): void {
    if (this._closed) return;
    try {
      this.finish({ status: 'interrupted' });
    } catch (e) {
      this.close();
      this.logger.warn('store: could not close streaming reply', { messageId: this.messageId, error: (e as Error).message });
    }
  }

  private close(): void {
    this.clearTimers();
    this._closed = true;
    this.onClose(this);
  }
}

function isStoreError(e: unknown): e is StoreError {
  return e instanceof StoreError;
}
