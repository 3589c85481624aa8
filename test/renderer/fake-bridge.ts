/**
 * The one test double of the renderer suites: a small in-memory bridge standing in for main
 * (window.hearth / the WebSocket). It answers the channels a test gives it, records every call and
 * lets the test push events. Main itself is exercised by the store, engine and e2e suites.
 */
import type {
  AssistantDTO,
  DocsStatusDTO,
  DocumentDTO,
  KnowledgeFolderDTO,
  SourceDTO,
  HardwareInfo,
  HardwareUsage,
  MemoryEstimateDTO,
  MessageDTO,
  ModelSettingsView,
  ModelState,
  ProviderDTO,
  ProvidersStatusDTO,
  ThreadDTO,
  ToolsStatusDTO,
} from '../../main/ipc/contract';
import { SettingsDTO } from '../../main/ipc/contract';
import { BUILTIN_TOOLS, builtinKey, LOAD_SETTING_DEFAULTS, memoryNeed } from '../../main/params';
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
  return { id: `t${seq}`, title: `Thread ${seq}`, assistantId: null, modelPath: null, pinned: false, archived: false, temporary: false, createdAt: T0 + seq, updatedAt: T0 + seq, remoteSent: [], ...over };
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
    finishReason: null,
    error: null,
    model: null,
    metrics: null,
    createdAt: T0 + seq,
    parentId: null,
    alternative: { index: 0, count: 1 },
    attachments: [],
    toolCalls: [],
    sources: null,
    tool: null,
    ...over,
  };
}

export function assistant(over: Partial<AssistantDTO> = {}): AssistantDTO {
  seq++;
  return { id: `a${seq}`, name: `Assistant ${seq}`, emoji: '🙂', instructions: '', sampling: {}, modelPath: null, isDefault: false, tools: null, ...over };
}

export const NO_MODEL: ModelState = { loaded: null, loading: null, error: null };

export function settingsDTO(over: Partial<SettingsDTO> = {}): SettingsDTO {
  return { ...SettingsDTO.parse({ chatDefaults: {} }), ...over };
}

/** tools.status's answer: the built-ins, no MCP server, no secret set, the OS keychain. */
export function toolsStatus(over: Partial<ToolsStatusDTO> = {}): ToolsStatusDTO {
  const tools = BUILTIN_TOOLS.map((name) => ({ name, key: builtinKey(name), description: `the ${name} tool`, source: 'built-in', alwaysAllowed: false }));
  return { tools, servers: [], secrets: [], secretStore: 'keychain', ...over };
}

/** A remote provider as providers.status lists it: OpenAI with a key and two models. */
export function providerDTO(over: Partial<ProviderDTO> = {}): ProviderDTO {
  return {
    id: 'openai',
    name: 'OpenAI',
    kind: 'openai',
    baseUrl: 'https://api.openai.com/v1',
    headers: {},
    models: [
      { id: 'gpt-4o', contextSize: 128000 },
      { id: 'gpt-4o-mini', contextSize: null },
    ],
    enabled: true,
    key: 'set',
    keyHint: '••••abcd',
    ...over,
  };
}

/** providers.status's answer: remote providers allowed, none configured, the OS keychain. */
export function providersStatus(over: Partial<ProvidersStatusDTO> = {}): ProvidersStatusDTO {
  return { allowRemote: true, providers: [], keyStorage: 'keychain', warnings: [], ...over };
}

/** A document as docs.store and docs.list answer it: a text file, queued. */
export function documentDTO(over: Partial<DocumentDTO> = {}): DocumentDTO {
  return { ref: 'd'.repeat(64), name: 'notes.txt', kind: 'text', size: 100, state: 'queued', error: null, note: null, pages: null, chunks: 0, tokens: 0, embedded: false, removed: false, progress: null, ...over };
}

/** docs.status's answer: nothing stored, no embedding model (keyword search only), no folder. */
export function docsStatus(over: Partial<DocsStatusDTO> = {}): DocsStatusDTO {
  return { embeddingModel: null, vectorsOff: 'no embedding model chosen', rerankModel: null, documents: 0, chunks: 0, embedded: 0, queued: 0, active: null, folders: [], ...over };
}

export function knowledgeFolder(over: Partial<KnowledgeFolderDTO> = {}): KnowledgeFolderDTO {
  return { id: 1, assistantId: 'a1', path: '/home/me/Notes', state: 'watching', error: null, files: 3, ready: 2, problems: 1, scannedAt: T0, ...over };
}

/** A source a reply was given: a retrieved chunk of report.pdf. */
export function source(over: Partial<SourceDTO> = {}): SourceDTO {
  return { n: 1, ref: 'e'.repeat(64), name: 'report.pdf', chunkId: 7, page: 3, heading: 'Results', text: 'Revenue grew 12%.', mode: 'retrieved', score: { fused: 0.0325, keywordRank: 1, vectorRank: 2, distance: 0.214, rerank: null }, ...over };
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** models.settings.get's answer for a 32-layer model trained on 8192 tokens. */
export function modelSettingsView(over: Partial<ModelSettingsView> = {}): ModelSettingsView {
  return {
    path: '/m/a.gguf',
    settings: {},
    // the schema's defaults, with the machine's and the model's where the schema has none (as ModelService gives them)
    defaults: { ...LOAD_SETTING_DEFAULTS, gpuLayers: 'auto', contextSize: 4096, threads: 8 },
    layers: 32,
    trainedContext: 8192,
    loadedWith: null,
    ...over,
  };
}

/** models.estimate's answer: one 8 GiB GPU, weights split by GPU layers, KV cache by context. */
export function memoryEstimate(settings: { gpuLayers?: number | 'max' | 'auto'; contextSize?: number } = {}, over: Partial<MemoryEstimateDTO> = {}): MemoryEstimateDTO {
  const layers = 32;
  const ngl = settings.gpuLayers === undefined || settings.gpuLayers === 'auto' || settings.gpuLayers === 'max' ? layers + 1 : settings.gpuLayers;
  const ctx = settings.contextSize ?? 4096;
  const onGpu = Math.min(ngl, layers) / layers;
  const weights = 4000 * MiB;
  const kv = ctx * 128 * 1024;
  const dev = { model: weights * onGpu, context: kv * onGpu, compute: 300 * MiB, projector: 0, free: 8 * GiB };
  const host = { model: weights * (1 - onGpu) + 250 * MiB, context: kv * (1 - onGpu), compute: 20 * MiB, projector: 0, free: 32 * GiB };
  return {
    devices: [{ ...dev, total: memoryNeed(dev), name: 'Vulkan0', backend: 'Vulkan', description: 'Test GPU', type: 'gpu' }],
    host: { ...host, total: memoryNeed(host) },
    gpuLayers: settings.gpuLayers === undefined || settings.gpuLayers === 'auto' ? 'max' : settings.gpuLayers,
    contextSize: ctx,
    layers,
    fitReason: settings.gpuLayers === 'auto' ? 'All 32 layers on Vulkan0 with a context of 4,096 tokens, leaving at least 1024 MiB free.' : null,
    moeChoice: null,
    fits: true,
    problems: [],
    ...over,
  };
}

export function hardwareInfo(over: Partial<HardwareInfo> = {}): HardwareInfo {
  return {
    // a hybrid CPU: llama.cpp's default counts only the performance cores
    cpu: { model: 'Test CPU', cores: 8, threads: 16, defaultThreads: 6, instructionSets: ['AVX', 'AVX2', 'FMA'] },
    ram: { total: 32 * GiB, free: 20 * GiB },
    built: ['cpu', 'vulkan'],
    backends: ['Vulkan', 'CPU'],
    devices: [
      { backend: 'Vulkan', name: 'Vulkan0', description: 'Test GPU', type: 'gpu', memoryTotal: 8 * GiB, memoryFree: 7 * GiB, gpuIndex: 0 },
      { backend: 'CPU', name: 'CPU', description: 'Test CPU', type: 'cpu', memoryTotal: 32 * GiB, memoryFree: 20 * GiB },
    ],
    backendChoice: { backend: 'vulkan', reason: 'Vulkan: Test GPU' },
    rpc: [],
    ...over,
  };
}

export function hardwareUsage(i: number): HardwareUsage {
  return { at: T0 + i * 1000, cpuPercent: (i * 17) % 100, ram: { used: (10 + i) * GiB / 4, total: 32 * GiB }, devices: [{ name: 'Vulkan0', backend: 'Vulkan', used: i * 100 * MiB, total: 8 * GiB }] };
}

const DEFAULTS: Record<string, Handler> = {
  'app.info': () => ({ appVersion: '0.1.0', llamaCommit: 'b1234', backends: ['CPU'], devices: [{ backend: 'CPU', name: 'CPU', description: 'Test CPU', type: 'cpu', memoryTotal: 2 ** 34, memoryFree: 2 ** 33 }], dataDir: '/data', logsDir: '/data/logs', canOpenLogsFolder: false }),
  'settings.get': () => settingsDTO(),
  'threads.list': () => ({ threads: [], nextCursor: null }),
  'models.list': () => [],
  'models.state': () => NO_MODEL,
  'assistants.list': () => [],
  // the tools: no call awaits in any chat, no server is configured
  'tools.pending': () => [],
  'tools.status': () => toolsStatus(),
  'tools.servers.importSources': () => ({ sources: [] }),
  // remote providers: none configured
  'providers.status': () => providersStatus(),
  // documents: no thread holds any, nothing stored
  'docs.list': () => [],
  'docs.status': () => docsStatus(),
  'chat.countTokens': (p: { text: string }) => ({ tokens: p.text.split(/\s+/).filter(Boolean).length }),
  // the chat template preview (a stand-in render: the engine's is tested in test/engine/chat-template.test.ts)
  'models.template.preview': (p: { template: string }) => ({ prompt: `rendered with ${p.template || 'the file template'}`, tokens: 3, template: p.template || 'the file template' }),
  // Settings → Data: the data folder (this app can restart itself), no backups yet
  'data.folder': () => ({ folder: '/data', canRestart: true }),
  'data.backups.list': () => ({ folder: '/data/backups', settings: { daily: true, keep: 7 }, backups: [] }),
  'data.stray': () => ({ files: 0, bytes: 0, keepDays: 30 }),
};
