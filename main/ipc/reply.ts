/**
 * The one way a call's outcome becomes a reply: `{ ok: true, result }` or `{ ok: false, error: { code,
 * message } }` (IpcReply in the contract). Used by Services.call (Electron IPC and the WebSocket) and
 * by the preload for failures of Electron's IPC itself. Only type imports, so the sandboxed preload
 * can bundle it without zod or Node.
 */
import type { IpcReply } from './contract';

/** Errors without a string `code` (a bug, a library's throw) become `internal`. */
export function errorReply(e: unknown, fallbackCode = 'internal'): IpcReply {
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : String(e);
  return { ok: false, error: { code: typeof code === 'string' && code ? code : fallbackCode, message } };
}

/** Settles a call into its reply; never rejects. */
export function toReply(run: () => unknown): Promise<IpcReply> {
  return Promise.resolve()
    .then(run)
    .then(
      (result): IpcReply => ({ ok: true, result }),
      (e: unknown) => errorReply(e),
    );
}

/** window.hearth, what the Electron preload gives the renderer: every call answers with a reply. */
export interface PreloadApi {
  invoke(channel: string, payload: unknown): Promise<IpcReply>;
  /** subscribes to every event main pushes; returns the unsubscribe function */
  on(fn: (event: string, payload: unknown) => void): () => void;
}
