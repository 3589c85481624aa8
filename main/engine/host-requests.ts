/**
 * The requests an engine host works on (host.ts): each is answered once, a `cancel` aborts its signal,
 * and when the task watchdog gives up on the host (watchdog.ts) every one still open is answered
 * according to the verdict.
 */
import path from 'path';
import type { HostPort } from './host';
import type { Verdict } from './watchdog';

/** A request in progress: what it works on (for the watchdog's verdicts), its signal, whether it was cancelled. */
export interface Running {
  method: string;
  modelId?: string;
  /** the model file a request names by path (info, estimate, fit, load), absolute */
  file?: string;
  ac: AbortController;
  cancelled: boolean;
  /** settles when the request was answered by its handler */
  done: Promise<void>;
}

export type Reply = { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };

/** Methods whose `path` names a session file, not a model. */
const SESSION_METHODS: ReadonlySet<string> = new Set(['saveSession', 'restoreSession']);

export class HostRequests {
  private readonly running = new Map<number, Running & { settle(): void }>();

  constructor(private readonly port: HostPort) {}

  /** Tracks a request from its arrival; `answer` sends its one response. */
  begin(id: number, method: string, rawParams: unknown): Running {
    const params = (rawParams ?? {}) as { modelId?: unknown; path?: unknown };
    let settle!: () => void;
    const r = {
      method,
      modelId: typeof params.modelId === 'string' ? params.modelId : undefined,
      file: typeof params.path === 'string' && !SESSION_METHODS.has(method) ? path.resolve(params.path) : undefined,
      ac: new AbortController(),
      cancelled: false,
      done: new Promise<void>((resolve) => (settle = resolve)),
      settle: () => settle(),
    };
    this.running.set(id, r);
    return r;
  }

  /** Marks a request cancelled and aborts its signal; returns it the first time, else undefined. */
  cancel(id: number): Running | undefined {
    const r = this.running.get(id);
    if (!r || r.cancelled) return undefined;
    r.cancelled = true;
    r.ac.abort();
    return r;
  }

  /** Sends the one response of a request (nothing when it was answered already, by the watchdog's verdict). */
  answer(id: number, reply: Reply): void {
    const r = this.running.get(id);
    if (!r) return;
    this.running.delete(id);
    r.settle();
    this.port.send({ type: 'response', id, ...reply });
  }

  /**
   * Answers every open request for a verdict: an unload of a model concerned succeeds (the model goes
   * with the host), a cancelled request ends as `aborted` (what its caller asked for), one on a model
   * concerned fails with the verdict, any other with `engine_hung`.
   */
  answerAll(v: Verdict, concerned: (r: Running) => boolean): void {
    for (const [id, r] of [...this.running]) {
      if (r.method === 'unload' && concerned(r)) this.answer(id, { ok: true, result: true });
      else if (r.cancelled) this.answer(id, { ok: false, error: { code: 'aborted', message: 'the request was aborted' } });
      else if (concerned(r)) this.answer(id, { ok: false, error: { code: v.code, message: v.message } });
      else this.answer(id, { ok: false, error: { code: 'engine_hung', message: `the engine was restarted: ${v.message}` } });
    }
  }
}
