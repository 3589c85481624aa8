/**
 * The renderer's one way to main: window.hearth (Electron preload) or, in browser mode, a WebSocket
 * carrying the same contract. Responses are validated with the contract's zod schemas.
 */
import { Channel, contract, RequestOf, ResponseOf, WsResponse } from '../../../main/ipc/contract';

export interface HearthBridge {
  invoke(channel: string, payload: unknown): Promise<unknown>;
}

declare global {
  interface Window {
    hearth?: HearthBridge;
  }
}

class SocketBridge implements HearthBridge {
  private ws: WebSocket | undefined;
  private open: Promise<WebSocket> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  constructor(private readonly url: string) {}

  private connect(): Promise<WebSocket> {
    if (this.open) return this.open;
    this.open = new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error('cannot reach Hearth (is it still running?)'));
      ws.onclose = () => {
        this.open = undefined;
        for (const p of this.pending.values()) p.reject(new Error('connection to Hearth closed'));
        this.pending.clear();
      };
      ws.onmessage = (e) => {
        const parsed = WsResponse.safeParse(JSON.parse(String(e.data)));
        if (!parsed.success) return;
        const msg = parsed.data;
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }));
      };
      this.ws = ws;
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
}

function makeBridge(): HearthBridge {
  if (typeof window !== 'undefined' && window.hearth) return window.hearth;
  const token = new URLSearchParams(window.location.search).get('token') ?? '';
  const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return new SocketBridge(`${proto}//${window.location.host}/ws?token=${encodeURIComponent(token)}`);
}

let bridge: HearthBridge | undefined;

export async function call<C extends Channel>(channel: C, payload: RequestOf<C>): Promise<ResponseOf<C>> {
  bridge ??= makeBridge();
  const result = await bridge.invoke(channel, payload);
  return contract[channel].response.parse(result) as ResponseOf<C>;
}
