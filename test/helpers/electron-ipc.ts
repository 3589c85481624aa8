/**
 * Doubles of Electron's IPC objects, for the shell's tests: no Electron binary can be downloaded on
 * our machines. They pass only what Electron passes:
 * - arguments, results and event payloads are structured-cloned (class instances arrive as plain objects);
 * - an error thrown (or a rejection) in an ipcMain.handle handler reaches the renderer as a new
 *   Error whose message is `Error invoking remote method '<channel>': <error.toString()>`, nothing
 *   else (Electron's lib/browser/api/web-contents.ts replies `{ error: err.toString() }` and
 *   lib/renderer/api/ipc-renderer.ts rethrows that string);
 * - contextBridge copies values into the page's world and keeps only an Error's message.
 */
import { EventEmitter } from 'events';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Handler = (event: any, ...args: any[]) => unknown;

export class IpcMainDouble {
  readonly handlers = new Map<string, Handler>();

  handle(channel: string, handler: Handler): void {
    if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, handler);
  }
}

/** One page in a frame at `frameUrl`: its ipcRenderer, and its webContents as main sees it. */
export function pageDouble(main: IpcMainDouble, frameUrl: string) {
  const emitter = new EventEmitter();
  const webContents = {
    getURL: () => frameUrl,
    send: (channel: string, ...args: unknown[]) => {
      const copied = structuredClone(args);
      emitter.emit(channel, { sender: ipcRenderer }, ...copied);
    },
  };
  const ipcRenderer = {
    invoke: async (channel: string, ...args: unknown[]): Promise<unknown> => {
      const sent = structuredClone(args);
      const handler = main.handlers.get(channel);
      if (!handler) throw new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`);
      let result: unknown;
      try {
        result = await handler({ senderFrame: { url: frameUrl }, sender: webContents }, ...sent);
      } catch (e) {
        throw new Error(`Error invoking remote method '${channel}': ${String(e)}`);
      }
      return structuredClone(result);
    },
    on(channel: string, listener: (...a: any[]) => void) {
      emitter.on(channel, listener);
      return ipcRenderer;
    },
    removeListener(channel: string, listener: (...a: any[]) => void) {
      emitter.removeListener(channel, listener);
      return ipcRenderer;
    },
  };
  return { ipcRenderer, webContents, listeners: (channel: string) => emitter.listenerCount(channel) };
}

/** Copies a value into the page's world as contextBridge does: functions proxied, errors reduced to their message. */
function intoWorld(v: unknown): unknown {
  if (typeof v === 'function') {
    return (...args: unknown[]) => {
      let r: unknown;
      try {
        r = (v as (...a: unknown[]) => unknown)(...args.map(intoWorld));
      } catch (e) {
        throw new Error((e as Error).message);
      }
      return intoWorld(r);
    };
  }
  if (v instanceof Promise) {
    return v.then(intoWorld, (e: unknown) => {
      throw e instanceof Error ? new Error(e.message) : intoWorld(e);
    });
  }
  if (Array.isArray(v)) return v.map(intoWorld);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, intoWorld(x)]));
  return v;
}

/** contextBridge: what the preload exposes lands in `world` (the page's window). */
export function contextBridgeDouble() {
  const world: Record<string, any> = {};
  return {
    world,
    contextBridge: {
      exposeInMainWorld(key: string, api: unknown) {
        world[key] = intoWorld(api);
      },
    },
  };
}
