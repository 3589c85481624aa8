/**
 * The one test double of the renderer suites: a small in-memory bridge standing in for main
 * (window.hearth / the WebSocket). It answers the channels a test gives it, records every call and
 * lets the test push events. Main itself is exercised by the store, engine and e2e suites.
 */
import type { AssistantDTO, MessageDTO, ModelState, ThreadDTO } from '../../main/ipc/contract';
import type { HearthBridge } from '../../renderer/src/app/bridge';

type Handler = (payload: any) => unknown;

export class FakeBridge implements HearthBridge {
  readonly calls: { channel: string; payload: any }[] = [];
  private readonly listeners = new Set<(event: string, payload: unknown) => void>();

  constructor(public handlers: Record<string, Handler> = {}) {}

  async invoke(channel: string, payload: unknown): Promise<unknown> {
    this.calls.push({ channel, payload });
    const h = this.handlers[channel] ?? DEFAULTS[channel];
    if (!h) throw Object.assign(new Error(`no handler for ${channel}`), { code: 'unknown_channel' });
    return h(payload);
  }

  on(fn: (event: string, payload: unknown) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(event: string, payload: unknown): void {
    for (const l of this.listeners) l(event, payload);
  }

  callsTo(channel: string): any[] {
    return this.calls.filter((c) => c.channel === channel).map((c) => c.payload);
  }
}

/** An error as main sends it (the bridge turns it into a BridgeError with this code). */
export function ipcError(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

let seq = 0;
const T0 = 1_700_000_000_000;

export function thread(over: Partial<ThreadDTO> = {}): ThreadDTO {
  seq++;
  return { id: `t${seq}`, title: `Thread ${seq}`, assistantId: null, modelPath: null, pinned: false, archived: false, temporary: false, createdAt: T0 + seq, updatedAt: T0 + seq, ...over };
}

export function message(over: Partial<MessageDTO> = {}): MessageDTO {
  seq++;
  return {
    id: `m${seq}`,
    threadId: 't1',
    role: 'assistant',
    content: '',
    reasoning: '',
    status: 'done',
    error: null,
    model: null,
    metrics: null,
    createdAt: T0 + seq,
    parentId: null,
    alternative: { index: 0, count: 1 },
    ...over,
  };
}

export function assistant(over: Partial<AssistantDTO> = {}): AssistantDTO {
  seq++;
  return { id: `a${seq}`, name: `Assistant ${seq}`, emoji: '🙂', instructions: '', sampling: {}, modelPath: null, isDefault: false, ...over };
}

export const NO_MODEL: ModelState = { loaded: null, loading: null, error: null };

const DEFAULTS: Record<string, Handler> = {
  'app.info': () => ({ appVersion: '0.1.0', llamaCommit: 'b1234', backends: ['CPU'], devices: [{ backend: 'CPU', name: 'CPU', description: 'Test CPU', type: 'cpu', memoryTotal: 2 ** 34, memoryFree: 2 ** 33 }], dataDir: '/data' }),
  'settings.get': () => ({ theme: 'system', chatDefaults: {}, dataDir: '/data' }),
  'threads.list': () => ({ threads: [], nextCursor: null }),
  'models.list': () => [],
  'models.state': () => NO_MODEL,
  'assistants.list': () => [],
  'chat.countTokens': (p: { text: string }) => ({ tokens: p.text.split(/\s+/).filter(Boolean).length }),
};
