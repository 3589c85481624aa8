/**
 * The shapes the IPC contract's channels and events carry (threads, messages, assistants, settings,
 * models, hardware…), defined once; contract.ts names the channels and events with them and re-exports
 * them. zod only: the renderer imports this file too.
 */
import { z } from 'zod';
import { BACKEND_PINS, RpcEndpoints, ChatSettings, Device, LOAD_FIELDS, LOAD_SETTING_FIELDS, LoadSettings, MemoryBreakdown } from '../params';
import {
  ABSOLUTE_PATH, hfTokenSchema, downloadConcurrencySchema, DOWNLOAD_CONCURRENCY, proxyUrlSchema, REFERENCE_SOURCES,
} from './models';
import { UpdateChannelSchema, UpdateModeSchema } from './updates';
import { AttachmentDTO } from './images';
import { ThreadCacheSettings } from './thread-cache';
import { Sources } from './docs';
import { ToolCallDTO, ToolResultDTO } from './tools';
import { AssistantTools, DocumentSettings, FileRole, Pooling, ToolSettings } from '../params';




/** A device as the engine reports it (main/params/devices.ts). */
export const DeviceInfo = Device;

export const AppInfo = z.object({
  appVersion: z.string(),
  llamaCommit: z.string(),
  backends: z.array(z.string()),
  devices: z.array(DeviceInfo),
  dataDir: z.string(),
  /** <data>/logs: main.log and engine.log */
  logsDir: z.string(),
  /** whether app.openLogsFolder is available (the desktop app; not browser mode) */
  canOpenLogsFolder: z.boolean(),
  engineError: z.string().optional(),
  /** this run of main's services: a restart (a restore, a move, an erase of everything) answers with another (the window reloads on it) */
  instance: z.string().optional(),
});
export type AppInfo = z.infer<typeof AppInfo>;

/** The backend the engine runs with and why (after the engine started), or null before. */
export const BackendChoiceDTO = z.object({ backend: z.string(), reason: z.string() }).nullable();

/** What "Copy diagnostics" copies: versions, platform, backends and devices, the recent log (info and above, no prompt text). */
export const Diagnostics = z.object({
  appVersion: z.string(),
  /** "Electron 41.7.1, Node 22.x" or "Node 20.x" (browser mode, CLI) */
  runtime: z.string(),
  platform: z.string(),
  arch: z.string(),
  osRelease: z.string(),
  cpu: z.string(),
  ramTotal: z.number(),
  llamaCommit: z.string(),
  backends: z.array(z.string()),
  devices: z.array(DeviceInfo),
  backendChoice: BackendChoiceDTO,
  engineError: z.string().optional(),
  logsDir: z.string(),
  /** the last lines of main.log and engine.log at info and above */
  logTail: z.array(z.string()),
  /** all of the above as plain text, what the clipboard gets */
  text: z.string(),
});
export type Diagnostics = z.infer<typeof Diagnostics>;

/** A chat's sampling and request settings (main/params: one definition per parameter). */
export const SamplingDTO = ChatSettings;
export type SamplingDTO = z.infer<typeof SamplingDTO>;

export const Id = z.string().min(1).max(64);

export const ThreadDTO = z.object({
  id: Id,
  title: z.string(),
  assistantId: z.string().nullable(),
  modelPath: z.string().nullable(),
  pinned: z.boolean(),
  archived: z.boolean(),
  temporary: z.boolean(),
  createdAt: z.number(),
  updatedAt: z.number(),
  /** the remote providers (their names) this thread's messages were sent to: shown on the thread */
  remoteSent: z.array(z.string()).default([]),
});
export type ThreadDTO = z.infer<typeof ThreadDTO>;

export const MetricsDTO = z.object({
  promptTokens: z.number(),
  cachedTokens: z.number(),
  generatedTokens: z.number(),
  ttftMs: z.number(),
  promptTps: z.number(),
  genTps: z.number(),
  /** the context (tokens) the reply was written in; 0 when not known */
  contextSize: z.number(),
  /** speculative decoding: tokens drafted and accepted (absent: none drafted) */
  draftTokens: z.number().optional(),
  acceptedTokens: z.number().optional(),
});
export type MetricsDTO = z.infer<typeof MetricsDTO>;

export const MessageStatus = z.enum(['streaming', 'done', 'error', 'interrupted', 'aborted']);

/**
 * Why a reply ended: the model's end of text, a stop string, the max tokens limit, a full context, a
 * stop by the user, or the engine host dying or hanging mid-reply and being restarted
 * (`engineRestarted`, on an `interrupted` reply); `toolCalls`: it called tools (their messages
 * follow, then the next reply); `toolSteps`: the turn reached its step limit (settings' tools.maxSteps),
 * so this reply was written without tools. Null for a reply that failed, was interrupted by
 * Hearth itself closing, or predates it.
 */
export const FINISH_REASONS = ['eos', 'stop', 'maxTokens', 'contextFull', 'aborted', 'engineRestarted', 'toolCalls', 'toolSteps'] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

export const MessageDTO = z.object({
  id: Id,
  threadId: Id,
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string(),
  reasoning: z.string(),
  status: MessageStatus,
  /** why a reply ended (FINISH_REASONS); null when not known */
  finishReason: z.enum(FINISH_REASONS).nullable(),
  error: z.string().nullable(),
  model: z.string().nullable(),
  metrics: MetricsDTO.nullable(),
  createdAt: z.number(),
  parentId: z.string().nullable(),
  /** position among the alternatives that share this message's parent (edits, regenerations) */
  alternative: z.object({ index: z.number().int(), count: z.number().int() }),
  /** what the message carries: a user message's images (ImageAttachment; images.read shows one) */
  attachments: z.array(AttachmentDTO).default([]),
  /** a reply's tool calls (finishReason toolCalls) */
  toolCalls: z.array(ToolCallDTO).default([]),
  /** a tool message's outcome (role tool) */
  tool: ToolResultDTO.nullable().default(null),
  /** the documents' passages a reply was given (it cites them as [n]); null: none */
  sources: Sources.nullable().default(null),
});
export type MessageDTO = z.infer<typeof MessageDTO>;

export const AssistantDTO = z.object({
  id: Id,
  name: z.string(),
  emoji: z.string(),
  instructions: z.string(),
  sampling: SamplingDTO,
  modelPath: z.string().nullable(),
  isDefault: z.boolean(),
  /** the tools its chats are offered (null: every enabled one) */
  tools: AssistantTools.nullable(),
});
export type AssistantDTO = z.infer<typeof AssistantDTO>;

export const AssistantInput = z
  .object({
    name: z.string().trim().min(1).max(100),
    emoji: z.string().max(16).default('🙂'),
    instructions: z.string().max(20000).default(''),
    sampling: SamplingDTO.default({}),
    modelPath: z.string().nullable().default(null),
    tools: AssistantTools.nullable().default(null),
  })
  .strict();

/**
 * The app settings the user sets, with their bounds and defaults: the store keeps them (in SQLite)
 * with these schemas, settings.get answers them, settings.update takes any of them.
 */
export const SettingsFields = z.object({
  theme: z.enum(['light', 'dark', 'system']).default('system'),
  /** what happens when a load may not fit: off (load anyway), warn (ask once), strict (refuse) */
  guardrail: z.enum(['off', 'warn', 'strict']).default('warn'),
  /** memory kept free on every GPU when GPU layers are "auto" */
  fitMarginMiB: LOAD_FIELDS.fitMarginMiB.setting.default(LOAD_FIELDS.fitMarginMiB.default),
  /** backend pin: auto (CUDA → Metal → Vulkan → CPU, those built) or one of them (main/params/backends.ts) */
  backend: z.enum(BACKEND_PINS).default('auto'),
  /** remote devices: rpc-server endpoints (host:port) whose memory the engine pools with this machine's (main/engine/rpc.ts) */
  rpcServers: RpcEndpoints.default([]),
  /** Enter sends and Shift+Enter adds a line; off: Ctrl+Enter (⌘+Enter on macOS) sends and Enter adds a line */
  sendOnEnter: z.boolean().default(true),
  /** the size of the chat's text (messages and the message box), in CSS pixels */
  fontSize: z.number().int().min(10).max(24).default(15),
  /** a reply's reasoning (the model's thinking) shown open; off: folded under "Reasoning" */
  showReasoning: z.boolean().default(false),
  /** the model a new chat starts with when none is loaded; null: the loaded one, or the only one there is */
  defaultModel: z.string().min(1).max(4096).nullable().default(null),
  /** how many model downloads run at once (the rest wait in order) */
  downloadConcurrency: downloadConcurrencySchema.default(DOWNLOAD_CONCURRENCY.default),
  /** the proxy the hub and downloads go through; null: HTTPS_PROXY/HTTP_PROXY (NO_PROXY applies either way), else none */
  proxy: proxyUrlSchema.nullable().default(null),
  /** the update channel followed; null: the channel of the running build (its version's pre-release tag; main/updates/channels.ts) */
  updateChannel: UpdateChannelSchema.nullable().default(null),
  /** what the app does about updates (main/ipc/updates.ts) */
  updateMode: UpdateModeSchema.default('auto'),
  /** the chat threads' KV caches: how many stay live, and the saved ones' disk budget and age (main/chat/sessions.ts) */
  threadCache: ThreadCacheSettings.default({}),
  /** the tools: the call loop's step limit, web search, fetch's reach, the tools allowed always (main/params/tools.ts) */
  tools: ToolSettings.default({}),
  /** documents: the embedding and rerank models, chunking and retrieval budgets (main/params/docs.ts) */
  documents: DocumentSettings.default({}),
});

/** A folder chosen for the models (library.moveFolder's target; the store's modelsFolder setting): an absolute path (POSIX, or Windows' drive or UNC; the renderer reads this file too, so no `path`). */
export const ModelsFolderPath = z
  .string()
  .trim()
  .min(1)
  .max(4096)
  .refine((p) => ABSOLUTE_PATH.test(p), 'give an absolute path (the folder the models go to)');

/** A Hugging Face token's bounds (settings.update takes one; no answer ever carries it). */
export const HfToken = hfTokenSchema;
/** Where the token is kept: the OS keychain (Electron's safeStorage), a plain file (browser mode, or no keychain), the HF_TOKEN variable, or nowhere. */
export const HF_TOKEN_STORAGE = ['keychain', 'file', 'environment', 'none'] as const;

export const SettingsDTO = SettingsFields.extend({
  chatDefaults: SamplingDTO,
  /** whether a Hugging Face token is set (settings or HF_TOKEN); the token itself never crosses IPC */
  hfToken: z.enum(['set', 'not set']).default('not set'),
  hfTokenStorage: z.enum(HF_TOKEN_STORAGE).default('none'),
  /** what the user should know about the settings (a token kept in a plain file) */
  warnings: z.array(z.string()).default([]),
  /** the models folder in use (<data>/models unless moved with library.moveFolder; settings.update does not take it) */
  modelsFolder: z.string().default(''),
});
export type SettingsDTO = z.infer<typeof SettingsDTO>;

export const ModelDTO = z.object({
  path: z.string(),
  name: z.string(),
  fileSize: z.number(),
});
export type ModelDTO = z.infer<typeof ModelDTO>;

/** A model of the library (models.list, models.changed): in the models folder, or referenced where another app keeps it. */
export const LibraryModelDTO = ModelDTO.extend({
  origin: z.enum(['folder', 'reference']).default('folder'),
  /** who keeps a referenced file (REFERENCE_SOURCES); null for the models folder's */
  source: z.enum(REFERENCE_SOURCES).nullable().default(null),
  /** a referenced file no longer there (moved or deleted by the app that keeps it); its size is then 0 */
  missing: z.boolean().default(false),
  /**
   * How llama.cpp pools it, read from its GGUF header (main/params/docs.ts Pooling): none (a model to
   * chat with), mean/cls/last (an embedding model), rank (a reranker); null: its header could not be
   * read. Settings → Documents offers each role the models docModelMismatch passes.
   */
  pooling: Pooling.nullable().default(null),
  /** what the file is (FILE_ROLES): a model, or a projector or adapter that goes with one (never loaded by itself); null: its header could not be read */
  role: FileRole.nullable().default(null),
});
export type LibraryModelDTO = z.infer<typeof LibraryModelDTO>;

export const ModelState = z.object({
  loaded: z
    .object({
      path: z.string(),
      contextSize: z.number(),
      /** the tokens the engine's context holds for a conversation (read while a reply streams and when it ended) */
      tokensUsed: z.number(),
      /** the thread whose conversation tokensUsed counts (null: none since the load) */
      tokensUsedBy: z.string().nullable(),
      /** the vision projector it loaded with (its images are read), or null */
      projector: z.string().nullable().default(null),
    })
    .nullable(),
  loading: z.object({ path: z.string(), progress: z.number() }).nullable(),
  error: z.string().nullable(),
});
export type ModelState = z.infer<typeof ModelState>;

export const SearchHit = z.object({
  threadId: Id,
  threadTitle: z.string(),
  messageId: z.string().nullable(),
  /** text with the matched words between \u0001 and \u0002 (the renderer highlights them) */
  snippet: z.string(),
});
export type SearchHit = z.infer<typeof SearchHit>;

/** A model's load settings (what the user tunes); every field optional: absent = Hearth's default. */
export const LoadSettingsDTO = LoadSettings;
export type LoadSettingsDTO = z.infer<typeof LoadSettingsDTO>;

export const ModelSettingsView = z.object({
  path: z.string(),
  /** the saved settings (only what the user changed) */
  settings: LoadSettingsDTO,
  /** what each setting is when not saved */
  // (a model trained on fewer than the 256 tokens a saved setting needs defaults to its trained context)
  defaults: LoadSettings.required().omit({ tensorSplit: true, chatTemplate: true, mmproj: true }).extend({ contextSize: LOAD_SETTING_FIELDS.contextSize.schema }),
  layers: z.number(),
  trainedContext: z.number(),
  /** the settings the loaded model runs with when this model is loaded (to mark "reload required") */
  loadedWith: LoadSettingsDTO.nullable(),
  /** the LoRA adapters and control vectors found for this model (main/gguf/adapters.ts adaptersFor) */
  adapters: z.array(z.object({ path: z.string(), kind: z.enum(['lora', 'controlVector']) })).optional(),
});
export type ModelSettingsView = z.infer<typeof ModelSettingsView>;

/** The engine's memory breakdown (main/params/devices.ts) with the fit's verdict. */
export const MemoryEstimateDTO = MemoryBreakdown.extend({
  /** the layers the load would put on GPUs: the fit's choice for auto, 0 when there is no GPU */
  gpuLayers: z.union([z.number(), z.literal('max')]),
  contextSize: z.number(),
  layers: z.number(),
  /** llama.cpp's fitting decision when gpuLayers is auto (in words), else null */
  fitReason: z.string().nullable(),
  /** a MoE model with gpuLayers auto: what the fit chose for its experts, in words ("experts of 3 layers on the CPU"), else null */
  moeChoice: z.string().nullable(),
  fits: z.boolean(),
  problems: z.array(z.string()),
});
export type MemoryEstimateDTO = z.infer<typeof MemoryEstimateDTO>;

export const HardwareInfo = z.object({
  /** defaultThreads: the threads a model gets when its load settings name none (the engine's, not the cores counted here) */
  cpu: z.object({ model: z.string(), cores: z.number(), threads: z.number(), defaultThreads: z.number(), instructionSets: z.array(z.string()) }),
  ram: z.object({ total: z.number(), free: z.number() }),
  /**
   * every backend this build has, in words (main/engine/backends.ts backendStates): the ones the
   * engine loaded by name ("Vulkan", "CPU"), the others with why not ("Vulkan: found no GPU")
   */
  backends: z.array(z.string()),
  /** the backend modules this build has, e.g. ['cpu', 'vulkan']: the backend setting offers these (pinsFor) */
  built: z.array(z.string()),
  devices: z.array(DeviceInfo),
  backendChoice: BackendChoiceDTO,
  /** the remote endpoints set (rpcServers) and what the last probe found: those that answered are among the devices (backend RPC) */
  rpc: z.array(z.object({ endpoint: z.string(), ok: z.boolean(), devices: z.number().optional(), error: z.string().optional() })).default([]),
});
export type HardwareInfo = z.infer<typeof HardwareInfo>;

export const HardwareUsage = z.object({
  at: z.number(),
  cpuPercent: z.number(),
  ram: z.object({ used: z.number(), total: z.number() }),
  devices: z.array(z.object({ name: z.string(), backend: z.string(), used: z.number(), total: z.number() })),
});
export type HardwareUsage = z.infer<typeof HardwareUsage>;

export const Empty = z.object({}).strict();
export const Ok = z.object({ ok: z.literal(true) });
export const ThreadView = z.object({ thread: ThreadDTO, messages: z.array(MessageDTO) });
