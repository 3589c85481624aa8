/**
 * The renderer's one way to main: window.hearth (Electron preload) or, in browser mode, a WebSocket
 * carrying the same contract. Responses and events are validated with the contract's zod schemas.
 */
import { Channel, contract, EventName, EventOf, events, IpcReply, RequestOf, ResponseOf, WsEvent, WsResponse } from '../../../main/ipc/contract';
import type { PreloadApi } from '../../../main/ipc/reply';
import { CodeOf, toCode } from '../../../main/errors/catalogue';

export interface HearthBridge {
  invoke(channel: string, payload: unknown): Promise<unknown>;
  /** subscribes to every event main pushes; returns the unsubscribe function */
  on(fn: (event: string, payload: unknown) => void): () => void;
}

declare global {
  interface Window {
    /** the Electron preload's API (main/app/preload-api.ts) */
    hearth?: PreloadApi;
  }
}

/**
 * An error from main, with its code (invalid_input, not_found, engine_crashed, …), or the bridge's own
 * (disconnected, unauthorized): a catalogue code that crosses IPC or is the renderer's; any other is
 * `internal` (main/errors/catalogue.ts).
 */
export class BridgeError extends Error {
  readonly code: CodeOf<'ipc' | 'renderer'>;

  constructor(code: string, message: string) {
    super(message);
    this.code = toCode(code, 'ipc', 'renderer');
  }
}

/** Electron: window.hearth answers every call with a reply envelope, unwrapped here into the result or a BridgeError with its code. */
export class PreloadBridge implements HearthBridge {
  constructor(private readonly api: PreloadApi) {}

  async invoke(channel: string, payload: unknown): Promise<unknown> {
    const reply = IpcReply.safeParse(await this.api.invoke(channel, payload));
    if (!reply.success) throw new BridgeError('internal', `main sent a malformed reply to ${channel}`);
    if (reply.data.ok) return reply.data.result;
    throw new BridgeError(reply.data.error.code, reply.data.error.message);
  }

  on(fn: (event: string, payload: unknown) => void): () => void {
    return this.api.on(fn);
  }
}

export class SocketBridge implements HearthBridge {
  private open: Promise<WebSocket> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly listeners = new Set<(event: string, payload: unknown) => void>();

  /** `refused`: the error when the socket cannot open (the server also refuses a missing or wrong token) */
  constructor(
    private readonly url: string,
    private readonly refused = new BridgeError('disconnected', 'cannot reach Hearth (is it still running?)'),
  ) {}

  private connect(): Promise<WebSocket> {
    if (this.open) return this.open;
    this.open = new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(this.refused);
      ws.onclose = () => {
        this.open = undefined;
        for (const p of this.pending.values()) p.reject(new BridgeError('disconnected', 'connection to Hearth closed'));
        this.pending.clear();
        // reconnect so events keep flowing after a restart of main
        if (this.listeners.size) setTimeout(() => void this.connect().catch(() => undefined), 1000);
      };
      ws.onmessage = (e) => {
        let frame: unknown;
        try {
          frame = JSON.parse(String(e.data));
        } catch {
          return;
        }
        const ev = WsEvent.safeParse(frame);
        if (ev.success && typeof (frame as { event?: unknown }).event === 'string') {
          for (const l of this.listeners) l(ev.data.event, ev.data.payload);
          return;
        }
        const parsed = WsResponse.safeParse(frame);
        if (!parsed.success) return;
        const msg = parsed.data;
        if (msg.id === null) {
          // main could not read a request of ours (a bug here): say so, the caller's request stays pending until close
          console.error(`Hearth refused a request: ${msg.ok ? '' : msg.error.message}`);
          return;
        }
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new BridgeError(msg.error.code, msg.error.message));
      };
    });
    return this.open;
  }

  async invoke(channel: string, payload: unknown): Promise<unknown> {
    const ws = await this.connect();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, channel, payload }));
    });
  }

  on(fn: (event: string, payload: unknown) => void): () => void {
    this.listeners.add(fn);
    void this.connect().catch(() => undefined);
    return () => this.listeners.delete(fn);
  }
}

const TOKEN_KEY = 'hearth.token';

/**
 * Browser mode's token: read once from the address bar (`?token=`), then removed from it with
 * history.replaceState and kept in sessionStorage, so it is not bookmarked, shared or shown, and a
 * reload of this tab still has it. Empty when the page was opened without one.
 */
export function takeToken(win: Pick<Window, 'location' | 'history' | 'sessionStorage'> = window): string {
  const url = new URL(win.location.href);
  const fromUrl = url.searchParams.get('token');
  let storage: Storage | undefined;
  try {
    storage = win.sessionStorage;
  } catch {
    storage = undefined; // storage disabled: the token lives as long as the page
  }
  if (fromUrl !== null) {
    url.searchParams.delete('token');
    win.history.replaceState(win.history.state, '', `${url.pathname}${url.search}${url.hash}`);
    try {
      storage?.setItem(TOKEN_KEY, fromUrl);
    } catch {
      // quota or privacy mode: a reload will need the printed URL again
    }
    return fromUrl;
  }
  try {
    return storage?.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

function makeBridge(): HearthBridge {
  if (typeof window !== 'undefined' && window.hearth) return new PreloadBridge(window.hearth);
  const token = takeToken();
  const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const refused = token
    ? undefined
    : new BridgeError('unauthorized', 'this page has no Hearth token: open the URL Hearth printed when it started (it carries the token)');
  return new SocketBridge(`${proto}//${window.location.host}/ws?token=${encodeURIComponent(token)}`, refused);
}

let bridge: HearthBridge | undefined;

/** For tests: use another bridge (e.g. one talking to a real main in the same process). */
export function setBridge(b: HearthBridge): void {
  bridge = b;
}

export async function call<C extends Channel>(channel: C, payload: RequestOf<C>): Promise<ResponseOf<C>> {
  bridge ??= makeBridge();
  try {
    const result = await bridge.invoke(channel, payload);
    return contract[channel].response.parse(result) as ResponseOf<C>;
  } catch (e) {
    if (e instanceof BridgeError) throw e;
    const err = e as { code?: string; message?: string };
    throw new BridgeError(err.code ?? 'internal', err.message ?? String(e));
  }
}

/** Subscribes to one event; invalid payloads are dropped. */
export function onEvent<E extends EventName>(name: E, fn: (payload: EventOf<E>) => void): () => void {
  bridge ??= makeBridge();
  return bridge.on((event, payload) => {
    if (event !== name) return;
    const p = events[name].safeParse(payload);
    if (p.success) fn(p.data as EventOf<E>);
  });
}
