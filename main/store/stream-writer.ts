/**
 * Batching reply writer. Pieces of a streamed reply are buffered and written in one small statement
 * (`content = content || ?`) when the buffer reaches `flushChars` or `flushIntervalMs` after the first
 * unflushed piece, whichever comes first. The final write sets status and metrics.
 */
import { StoreError } from './errors';
import type { Logger } from '../logging';
import type { Clock, FinishReply, Message, ReplyHooks, ReplyWriter } from './types';
import { check, finishReplySchema, LIMITS, utf8Bytes } from './validation';

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
}

export const DEFAULT_WRITER_OPTIONS: WriterOptions = { flushIntervalMs: 250, flushChars: 4096 };

export class BufferedReplyWriter implements ReplyWriter {
  readonly messageId: string;
  readonly threadId: string;
  private content: string[] = [];
  private reasoning: string[] = [];
  private buffered = 0;
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private _flushedChars = 0;
  private _flushCount = 0;
  private _closed = false;

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

  append(text: string): void { this.push(text, this.content); }
  appendReasoning(text: string): void { this.push(text, this.reasoning); }

  private push(text: string, into: string[]): void {
    if (this._closed) throw new StoreError('invalid_input', `reply ${this.messageId} is finished`);
    if (typeof text !== 'string') throw new StoreError('invalid_input', 'reply text must be a string');
    if (text.length === 0) return;
    const bytes = this.bytes + utf8Bytes(text);
    if (bytes > LIMITS.contentBytes) throw new StoreError('too_large', `reply over ${LIMITS.contentBytes} bytes`);
    this.bytes = bytes;
    into.push(text);
    this.buffered += text.length;
    if (this.opts.flushIntervalMs <= 0 || this.buffered >= this.opts.flushChars) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.onTimer(), this.opts.flushIntervalMs);
  }

  private onTimer(): void {
    this.timer = null;
    try {
      this.flush();
    } catch (e) {
      this.logger.error('store: reply flush failed', { messageId: this.messageId, error: (e as Error).message });
    }
  }

  private clearTimer(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
  }

  private take(): [string, string] {
    const c = this.content.length === 1 ? this.content[0] : this.content.join('');
    const r = this.reasoning.length === 1 ? this.reasoning[0] : this.reasoning.join('');
    this.content = [];
    this.reasoning = [];
    this.buffered = 0;
    return [c, r];
  }

  flush(): number {
    this.clearTimer();
    if (this._closed || this.buffered === 0) return 0;
    const [c, r] = this.take();
    const ok = this.sink.append(c, r, this.clock());
    if (!ok) {
      this.close();
      this.logger.warn('store: streamed reply no longer exists; further text is dropped', { messageId: this.messageId });
      return 0;
    }
    const chars = c.length + r.length;
    this._flushedChars += chars;
    this._flushCount++;
    this.hooks.onFlush?.({ chars, flushedChars: this._flushedChars, flushCount: this._flushCount });
    return chars;
  }

  finish(result: FinishReply): Message {
    if (this._closed) throw new StoreError('invalid_input', `reply ${this.messageId} is finished`);
    const v = check(finishReplySchema, result, 'reply result');
    this.clearTimer();
    const [c, r] = this.take();
    const msg = this.sink.finish(c, r, v, this.clock());
    this._flushedChars += c.length + r.length;
    this.close();
    if (!msg) throw new StoreError('not_found', `reply ${this.messageId} was deleted while streaming`);
    return msg;
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
    this.clearTimer();
    this._closed = true;
    this.onClose(this);
  }
}
