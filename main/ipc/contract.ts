/**
 * The one IPC contract: channel names with zod schemas for request and response, and the events
 * main pushes. Imported by main, the Electron preload, the browser-mode WebSocket bridge and the
 * renderer. Main validates every incoming payload against these schemas. The shapes they carry are
 * defined in ./dtos.ts (and the domain files beside it) and re-exported from here.
 */
import { z } from 'zod';
import { LOAD_SETTING_FIELDS, MAX_DOC_CHARS, MAX_IMAGE_CHARS, MAX_MESSAGE_CHARS, TokenLogprobs } from '../params';
import { codesOf, type IpcErrorCode } from '../errors/catalogue';
import {
  DiscoveryDTO, DownloadDTO, HubFitDTO, hubFitRequestSchema, LibraryDeleteDTO, LibraryFactsDTO, LibraryImportDTO, libraryImportSchema, DownloadProgressDTO, DOWNLOAD_CONCURRENCY, downloadRequestSchema, hubSearchSchema, HubModelDTO,
  HubQuantGroupDTO, RecommendedModelDTO, REFERENCE_SOURCES, repoIdSchema,
} from './models';
import { UpdateStateDTO } from './updates';
import { ApiServerSettings, ApiStatusDTO } from './api';
import { ImageAttachment, ImageRef, MessageImages, TEXT_OR_IMAGES, textOrImages } from './images';
import { DocProgressDTO, DocsStatusDTO, DocumentAttachment, DocumentDTO, DocumentRef, KnowledgeFolderDTO, MessageDocuments, PassageDTO } from './docs';
import { LiveToolCallDTO, McpImportDTO, McpServerSave, TOOL_SECRET_NAMES, ToolsStatusDTO } from './tools';
import { APPROVAL_DECISIONS, McpServerName, ProviderId } from '../params';
import { ProviderSave, ProvidersStatusDTO } from './providers';
import {
  BackupName, BackupSettings, BackupsDTO, DataFolderDTO, ERASE_SCOPES, ExportFileDTO, ExportRequest, ImportFormatChoice, ImportPreviewDTO, ImportProgressDTO, ImportSource, ImportUpload, StrayDTO, StrayRequest, UploadId,
} from './data';
import { AppInfo, Diagnostics, SamplingDTO, Id, ThreadDTO, MessageDTO, AssistantDTO, AssistantInput, SettingsFields, ModelsFolderPath, HfToken, SettingsDTO, LibraryModelDTO, ModelState, SearchHit, LoadSettingsDTO, ModelSettingsView, MemoryEstimateDTO, HardwareInfo, HardwareUsage, Empty, Ok, ThreadView } from './dtos';

export { DownloadDTO, DOWNLOAD_CONCURRENCY, REFERENCE_SOURCES };
export { ATTACHMENT_REF_CHARS, AttachmentDTO, ImageAttachment, ImageRef, NO_VISION } from './images';
export { DocProgressDTO, DocsStatusDTO, DocumentAttachment, DocumentDTO, KnowledgeFolderDTO, PassageDTO, SourceDTO } from './docs';
export { ProviderDTO, ProviderSave, ProvidersStatusDTO } from './providers';
export * from './data';
export { LiveToolCallDTO, McpServerStatusDTO, TOOL_SECRET_NAMES, ToolCallDTO, ToolResultDTO, ToolsStatusDTO } from './tools';

export * from './dtos';

/** how llama.cpp rounds a context size (the settings page says what a size becomes) */
export { CONTEXT_STEP, contextSizeUsed } from '../params';

// ---- channels ------------------------------------------------------------------------------------

export const contract = {
  'app.info': { request: Empty, response: AppInfo },
  'app.diagnostics': { request: Empty, response: Diagnostics },
  /** opens <data>/logs in the file manager; registered by the desktop app only (AppInfo.canOpenLogsFolder) */
  'app.openLogsFolder': { request: Empty, response: Ok },
  /** where the updater is (phase unsupported in browser mode and development runs) */
  'updates.state': { request: Empty, response: UpdateStateDTO },
  /** checks the followed channel's feed now (whatever the mode) */
  'updates.check': { request: Empty, response: UpdateStateDTO },
  /** downloads the update found (mode check, or a downgrade: `confirmDowngrade` must be true for one) */
  'updates.download': { request: z.object({ confirmDowngrade: z.boolean().default(false) }).strict(), response: UpdateStateDTO },
  /** "Restart to update": waits while a reply generates or a model downloads (phase waiting), stops the engine host, then installs */
  'updates.install': { request: Empty, response: UpdateStateDTO },
  /** leaves a waiting install (phase back to downloaded) */
  'updates.cancelInstall': { request: Empty, response: UpdateStateDTO },
  /** the local API server (main/server/): phase, URL, settings, its models, the last requests */
  'api.status': { request: Empty, response: ApiStatusDTO },
  /** saves changed API server settings (enabled starts or stops it; any other change restarts a running one); regenerateKey makes a new key */
  'api.update': { request: z.object({ settings: ApiServerSettings.partial(), regenerateKey: z.boolean().optional() }).strict(), response: ApiStatusDTO },

  'threads.list': {
    request: z.object({ cursor: z.string().optional(), limit: z.number().int().min(1).max(200).default(50), archived: z.boolean().default(false) }).strict(),
    response: z.object({ threads: z.array(ThreadDTO), nextCursor: z.string().nullable() }),
  },
  'threads.create': {
    request: z.object({ assistantId: Id.optional(), modelPath: z.string().optional(), temporary: z.boolean().default(false) }).strict(),
    response: ThreadDTO,
  },
  'threads.get': { request: z.object({ id: Id }).strict(), response: ThreadView },
  'threads.rename': { request: z.object({ id: Id, title: z.string().trim().min(1).max(500) }).strict(), response: ThreadDTO },
  'threads.pin': { request: z.object({ id: Id, pinned: z.boolean() }).strict(), response: ThreadDTO },
  'threads.archive': { request: z.object({ id: Id, archived: z.boolean() }).strict(), response: ThreadDTO },
  'threads.delete': { request: z.object({ id: Id }).strict(), response: Ok },

  'messages.switchAlternative': {
    request: z.object({ messageId: Id, direction: z.enum(['prev', 'next']) }).strict(),
    response: ThreadView,
  },

  /**
   * sends a message: text, and images stored by images.store (refused unless the model has a
   * projector; each must still be stored)
   */
  'chat.send': {
    request: z.object({ threadId: Id, content: z.string().max(MAX_MESSAGE_CHARS), attachments: MessageImages.optional(), documents: MessageDocuments.optional() }).strict().refine(textOrImages, TEXT_OR_IMAGES),
    response: z.object({ userMessage: MessageDTO, reply: MessageDTO }),
  },
  'chat.stop': { request: z.object({ threadId: Id }).strict(), response: Ok },
  'chat.regenerate': { request: z.object({ threadId: Id, messageId: Id }).strict(), response: z.object({ reply: MessageDTO }) },
  /** a new version of a user message (its images stay; `attachments` replaces them, and only images it did not have need a model that reads images) */
  'chat.edit': {
    request: z.object({ threadId: Id, messageId: Id, content: z.string().max(MAX_MESSAGE_CHARS), attachments: MessageImages.optional(), documents: MessageDocuments.optional() }).strict().refine(textOrImages, TEXT_OR_IMAGES),
    response: z.object({ userMessage: MessageDTO, reply: MessageDTO }),
  },
  'chat.continue': { request: z.object({ threadId: Id, messageId: Id }).strict(), response: z.object({ reply: MessageDTO }) },
  /** checks an image the user attached (PNG, JPEG, GIF or BMP; at most MAX_IMAGE_BYTES) and stores it in <data>/images by its hash: the attachment chat.send takes */
  'images.store': {
    request: z.object({ name: z.string().trim().min(1).max(1000), data: z.string().min(1).max(MAX_IMAGE_CHARS) }).strict(),
    response: ImageAttachment,
  },
  /** a stored image as a data: URL, to show */
  'images.read': { request: z.object({ ref: ImageRef }).strict(), response: z.object({ url: z.string() }) },
  /** reads a document the user attached (text, Markdown, code, CSV, JSON, HTML, PDF, DOCX; at most MAX_DOC_BYTES) and queues its indexing; the same content is one document: the attachment chat.send takes */
  'docs.store': {
    request: z.object({ name: z.string().trim().min(1).max(1000), data: z.string().min(1).max(MAX_DOC_CHARS) }).strict(),
    response: z.object({ attachment: DocumentAttachment, document: DocumentDTO }),
  },
  /** a thread's documents (those its messages attached, removed ones marked) */
  'docs.list': { request: z.object({ threadId: Id }).strict(), response: z.array(DocumentDTO) },
  /** takes a document out of a thread: its passages are no longer given to the thread's replies */
  'docs.remove': { request: z.object({ threadId: Id, ref: DocumentRef }).strict(), response: Ok },
  /** stops a document's indexing (state cancelled), or indexes it again (a cancelled or failed one) */
  'docs.cancel': { request: z.object({ ref: DocumentRef }).strict(), response: Ok },
  'docs.retry': { request: z.object({ ref: DocumentRef }).strict(), response: Ok },
  'docs.status': { request: Empty, response: DocsStatusDTO },
  /** a chunk a reply cited, with the chunks around it, in its document */
  'docs.passage': { request: z.object({ chunkId: z.number().int().min(1) }).strict(), response: PassageDTO },
  /** an assistant's knowledge folder: watched, its files indexed as they change */
  'docs.folders.add': { request: z.object({ assistantId: Id, path: z.string().trim().min(1).max(4096) }).strict(), response: KnowledgeFolderDTO },
  'docs.folders.remove': { request: z.object({ id: z.number().int().min(1) }).strict(), response: Ok },
  'docs.folders.rescan': { request: z.object({ id: z.number().int().min(1) }).strict(), response: KnowledgeFolderDTO },
  'chat.countTokens': { request: z.object({ threadId: Id.optional(), text: z.string().max(MAX_MESSAGE_CHARS) }).strict(), response: z.object({ tokens: z.number().int() }) },

  /** the models folder's models, then the references (marked, with who keeps them; `missing` when gone) */
  'models.list': { request: Empty, response: z.array(LibraryModelDTO) },
  'models.state': { request: Empty, response: ModelState },
  /** with the guardrail on "warn", a load that may not fit fails with code needs_confirmation unless force is set */
  'models.load': { request: z.object({ path: z.string().min(1), force: z.boolean().default(false) }).strict(), response: ModelState },
  'models.settings.get': { request: z.object({ path: z.string().min(1) }).strict(), response: ModelSettingsView },
  'models.settings.update': { request: z.object({ path: z.string().min(1), settings: LoadSettingsDTO }).strict(), response: ModelSettingsView },
  'models.settings.reset': { request: z.object({ path: z.string().min(1) }).strict(), response: ModelSettingsView },
  /** memory per device for a model and settings, without loading it; cancellable (newer calls win) */
  'models.estimate': { request: z.object({ path: z.string().min(1), settings: LoadSettingsDTO }).strict(), response: MemoryEstimateDTO },
  /** a sample conversation rendered with a chat template (blank: the model file's own), for the template setting's live preview */
  'models.template.preview': {
    request: z.object({ path: z.string().min(1), template: LOAD_SETTING_FIELDS.chatTemplate.schema }).strict(),
    response: z.object({ prompt: z.string(), tokens: z.number(), template: z.string() }),
  },

  'hardware.info': { request: Empty, response: HardwareInfo },
  /** one sample of live usage (CPU since the previous sample, RAM, device memory) */
  'hardware.usage': { request: Empty, response: HardwareUsage },
  'models.unload': { request: Empty, response: ModelState },

  'assistants.list': { request: Empty, response: z.array(AssistantDTO) },
  'assistants.create': { request: AssistantInput, response: AssistantDTO },
  'assistants.update': { request: z.object({ id: Id, patch: AssistantInput.partial() }).strict(), response: AssistantDTO },
  'assistants.delete': { request: z.object({ id: Id }).strict(), response: Ok },

  'settings.get': { request: Empty, response: SettingsDTO },
  'settings.update': {
    /** any of the settings; the rest stay as they are. defaultModel must be a model of the library (model_unknown) */
    request: SettingsFields.partial()
      /** hfToken: a new Hugging Face token, or null to forget it */
      .extend({ chatDefaults: SamplingDTO.optional(), hfToken: HfToken.nullable().optional() })
      .strict(),
    response: SettingsDTO,
  },

  /** the tools the model may be offered, the MCP servers with their state and tools, which secrets are set */
  'tools.status': { request: Empty, response: ToolsStatusDTO },
  /** adds an MCP server, or changes one (previousName: its name before); its secret values ("" keeps the stored one) go to the secret store */
  'tools.servers.save': { request: McpServerSave, response: ToolsStatusDTO },
  'tools.servers.delete': { request: z.object({ name: McpServerName }).strict(), response: ToolsStatusDTO },
  'tools.servers.restart': { request: z.object({ name: McpServerName }).strict(), response: ToolsStatusDTO },
  /** adds the servers of another app's MCP config (Claude Desktop, Jan, Cursor, VS Code, LM Studio): its text, or a file found by tools.servers.importSources */
  'tools.servers.import': {
    request: z
      .object({ text: z.string().min(1).max(1_000_000).optional(), filename: z.string().max(300).optional(), path: z.string().min(1).max(4096).optional() })
      .strict()
      .refine((r) => (r.text === undefined) !== (r.path === undefined), 'give the config\'s text, or the path of a file tools.servers.importSources found (one of them)'),
    response: McpImportDTO,
  },
  /** the other apps' MCP configs found on this machine */
  'tools.servers.importSources': { request: Empty, response: z.object({ sources: z.array(z.object({ app: z.string(), path: z.string() })) }) },
  /** sets a tool secret (a search key), or forgets it (null) */
  'tools.secrets.set': { request: z.object({ name: z.enum(TOOL_SECRET_NAMES), value: z.string().trim().min(1).max(4096).nullable() }).strict(), response: ToolsStatusDTO },
  /** the calls of a chat awaiting approval or running */
  'tools.pending': { request: z.object({ threadId: Id }).strict(), response: z.array(LiveToolCallDTO) },
  /** the user's decision on a call awaiting approval */
  'tools.decide': { request: z.object({ threadId: Id, callId: z.string().min(1).max(256), decision: z.enum(APPROVAL_DECISIONS) }).strict(), response: Ok },

  /** the remote providers (keys masked), whether they are allowed, where keys are kept */
  'providers.status': { request: Empty, response: ProvidersStatusDTO },
  /** adds a provider (no id: one is made) or changes one; its API key goes to the secret store (absent: kept, null: forgotten) */
  'providers.save': { request: ProviderSave, response: ProvidersStatusDTO },
  /** removes a provider and its key (its threads keep their messages; a turn on it is refused until another model is picked) */
  'providers.delete': { request: z.object({ id: ProviderId }).strict(), response: ProvidersStatusDTO },
  /** asks the provider for its models (GET /v1/models) and adds those not listed: the provider's error when it cannot answer */
  'providers.refreshModels': { request: z.object({ id: ProviderId }).strict(), response: ProvidersStatusDTO },
  /** allows or forbids remote providers altogether */
  'providers.allow': { request: z.object({ allowRemote: z.boolean() }).strict(), response: ProvidersStatusDTO },
  /** the model a thread runs on: a local model's path, or a remote model (remote:<provider id>/<model>); its next turn uses it */
  'threads.setModel': { request: z.object({ id: Id, model: z.string().min(1).max(4096) }).strict(), response: ThreadDTO },

  /** a piece of a file to import (the browser cannot hand main a path): the upload's id and the bytes it holds */
  'data.import.upload': { request: ImportUpload, response: z.object({ uploadId: UploadId, bytes: z.number().int() }) },
  /** reads an upload or a path to the end (format detected unless given) and says what an import would do; nothing is written */
  'data.import.preview': { request: z.object({ source: ImportSource, from: ImportFormatChoice.default('auto') }).strict(), response: ImportPreviewDTO },
  /** imports what a preview read (data.importProgress as it goes; one transaction per thread) */
  'data.import.start': { request: z.object({ jobId: Id }).strict(), response: ImportProgressDTO },
  /** stops an import between threads (those written stay) or forgets a preview */
  'data.import.cancel': { request: z.object({ jobId: Id }).strict(), response: Ok },
  /** threads (or every thread) as one file: Hearth JSON, one Markdown file, or a zip of Markdown files */
  'data.export': { request: ExportRequest, response: ExportFileDTO },
  /** the backups of hearth.db (newest first), their folder and settings */
  'data.backups.list': { request: Empty, response: BackupsDTO },
  /** backs hearth.db up now (SQLite's online backup: consistent while replies stream) */
  'data.backups.create': { request: Empty, response: BackupsDTO },
  /** daily backups on or off, how many are kept */
  'data.backups.settings': { request: BackupSettings.partial().strict(), response: BackupsDTO },
  /** makes a backup the data (a backup of the data as it is is made first); the app restarts onto it */
  'data.backups.restore': { request: z.object({ name: BackupName }).strict(), response: Ok },
  'data.backups.delete': { request: z.object({ name: BackupName }).strict(), response: BackupsDTO },
  /** the data folder in use */
  'data.folder': { request: Empty, response: DataFolderDTO },
  /** moves the data folder to `to` (an empty or new folder; data.moveProgress as it goes); the app restarts there */
  'data.move': { request: z.object({ to: z.string().trim().min(1).max(4096) }).strict(), response: Ok },
  /** the images and documents set aside (no chat names them, nor `keep`), kept a while so that a restored backup finds them */
  'data.stray': { request: StrayRequest, response: StrayDTO },
  /** deletes them now but `keep` (the page's message boxes' images and documents, not sent yet); one a chat names again is put back instead; what is left */
  'data.stray.empty': { request: StrayRequest, response: StrayDTO },
  /** erases every thread, or everything Hearth keeps (threads, assistants, settings, documents, images, backups; models stay) */
  'data.erase': { request: z.object({ scope: z.enum(ERASE_SCOPES) }).strict(), response: Ok },

  'search.query': {
    request: z.object({ q: z.string().trim().min(1).max(500), threadId: Id.optional(), limit: z.number().int().min(1).max(100).default(20), offset: z.number().int().min(0).default(0) }).strict(),
    response: z.object({ hits: z.array(SearchHit) }),
  },

  /** GGUF repositories of the Hugging Face hub (HF_ENDPOINT) */
  'hub.search': { request: hubSearchSchema, response: z.object({ models: z.array(HubModelDTO) }) },
  /** a repository's GGUF files grouped by quantization, with sizes and SHA-256s */
  'hub.files': {
    request: z.object({ repo: repoIdSchema, revision: z.string().min(1).max(200).default('main') }).strict(),
    response: z.object({ repo: z.string(), revision: z.string(), groups: z.array(HubQuantGroupDTO) }),
  },
  /** whether a file of hub.files fits this machine, from its GGUF header read with Range requests (queued, one at a time; kept for the session) */
  'hub.fit': { request: hubFitRequestSchema, response: HubFitDTO },

  /** the curated models the first-run view recommends (resources/recommended.json) */
  'hub.recommended': { request: Empty, response: z.object({ models: z.array(RecommendedModelDTO) }) },

  /** queues a file of hub.files into the models folder */
  'downloads.add': { request: downloadRequestSchema, response: DownloadDTO },
  'downloads.pause': { request: z.object({ id: Id }).strict(), response: DownloadDTO },
  'downloads.resume': { request: z.object({ id: Id }).strict(), response: DownloadDTO },
  /** stops a download and deletes its partial file */
  'downloads.cancel': { request: z.object({ id: Id }).strict(), response: Ok },
  'downloads.list': { request: Empty, response: z.array(DownloadDTO) },

  /** the GGUF models LM Studio, Ollama, Jan and GPT4All keep on this disk (bounded; one run at a time) */
  'library.discover': { request: Empty, response: DiscoveryDTO },
  /** adds a model library.discover found, where it is (no copy) */
  'library.addReference': { request: z.object({ path: z.string().min(1).max(4096), name: z.string().trim().min(1).max(200).optional() }).strict(), response: LibraryModelDTO },
  /** removes a reference (the file stays where it is) */
  'library.removeReference': { request: z.object({ path: z.string().min(1).max(4096) }).strict(), response: z.object({ removed: z.boolean() }) },
  /**
   * moves every file of the models folder to `to` (library.moveProgress as it goes) and makes it the
   * models folder; refused while a download is queued, running, paused or failed, and for a relative
   * path, a folder inside the current one, names already there, or too little free space on its disk
   */
  'library.moveFolder': { request: z.object({ to: ModelsFolderPath }).strict(), response: z.object({ folder: z.string(), files: z.number().int(), bytes: z.number() }) },
  /** each model of models.list with its files and its header's facts (read once per unchanged file) */
  'library.facts': { request: Empty, response: z.array(LibraryFactsDTO) },
  /** checks a GGUF file (refused with the reason), then copies or moves it (all parts of a split model) into the models folder, or adds it by reference */
  'library.import': { request: libraryImportSchema, response: LibraryImportDTO },
  /** deletes a model of the models folder from disk (every part of a split model), unloading it first; a reference is refused (library.removeReference) */
  'library.delete': { request: z.object({ path: z.string().min(1).max(4096) }).strict(), response: LibraryDeleteDTO },
} as const;

export type Channel = keyof typeof contract;
export type RequestOf<C extends Channel> = z.input<(typeof contract)[C]['request']>;
export type ResponseOf<C extends Channel> = z.infer<(typeof contract)[C]['response']>;

// ---- events main pushes to every window ------------------------------------------------------------

export const events = {
  /** text appended to a streaming reply (several tokens, batched) */
  'chat.piece': z.object({ threadId: Id, messageId: Id, content: z.string(), reasoning: z.string(), probs: z.array(TokenLogprobs).optional() }),
  /** a reply finished (done, aborted, error): the final message */
  'chat.done': z.object({ threadId: Id, message: MessageDTO }),
  /** a message the call loop added to a chat: a tool's outcome, or the next reply (streaming) after the tools answered */
  'chat.message': z.object({ threadId: Id, message: MessageDTO }),
  /** a tool call awaits approval or runs (call), or left that state (call null: its message follows) */
  'tools.call': z.object({ threadId: Id, callId: z.string(), call: LiveToolCallDTO.nullable() }),
  /** a document's indexing went on (at most a few times a second per document) */
  'docs.progress': DocProgressDTO,
  /** documents' states changed (indexed, failed, removed, a folder scanned): what docs.status answers now, the documents that changed, and their states now (those still stored; `removed` is a thread's: false here) */
  'docs.changed': z.object({ status: DocsStatusDTO, refs: z.array(DocumentRef), documents: z.array(DocumentDTO) }),
  /** the tools or an MCP server's state changed */
  'tools.changed': ToolsStatusDTO,
  /** the remote providers changed (added, changed, removed, their models refreshed, allowed or forbidden) */
  'providers.changed': ProvidersStatusDTO,
  /** a thread's metadata changed (title, pin, updatedAt…) or it was created */
  'threads.changed': z.object({ thread: ThreadDTO }),
  /** temporary: a temporary chat (its files go at once; a saved chat's wait aside, STRAY_KEEP_MS) */
  'threads.deleted': z.object({ id: Id, temporary: z.boolean().optional() }),
  'models.state': ModelState,
  /** the library changed (a model of <data>/models added, removed, renamed or resized; a reference added or removed): the whole list, as models.list answers it */
  'models.changed': z.object({ models: z.array(LibraryModelDTO) }),
  /** a download's bytes (at most one event per download every DOWNLOAD_DEFAULTS.progressIntervalMs) */
  'downloads.progress': DownloadProgressDTO,
  /** the downloads changed (one added, started, paused, failed, finished or cancelled): the whole list, as downloads.list answers it; `done` names a file that just finished */
  'downloads.changed': z.object({ downloads: z.array(DownloadDTO), done: z.object({ id: z.string(), path: z.string() }).optional() }),
  /** library.moveFolder's progress: bytes moved of all, the file being moved (null once all are) */
  'library.moveProgress': z.object({ bytes: z.number(), total: z.number(), file: z.string().nullable() }),
  /** a library.import copying or moving its file(s) in: bytes written of the total (at most a few times a second, and at the end) */
  'library.importProgress': z.object({ path: z.string(), bytes: z.number(), total: z.number() }),
  /** an import's progress (at most a few times a second, and at its end) */
  'data.importProgress': ImportProgressDTO,
  /** data.move's progress: bytes copied of all, the file being copied */
  'data.moveProgress': z.object({ bytes: z.number(), total: z.number(), file: z.string().nullable() }),
  /** the app is about to restart (a backup restored, the data folder moved, everything erased): the page reloads once it answers again */
  'app.restarting': z.object({ reason: z.string() }),
  /** an item of the desktop app's menu was chosen that the page carries out (Help → Keyboard Shortcuts) */
  'app.menu': z.object({ item: z.enum(['shortcuts']) }),
  /** the updater's state changed (a check, a download's progress at most every 500 ms, an install waiting) */
  'updates.changed': UpdateStateDTO,
  /** the API server's status changed (started, stopped, failed, a request answered, a model loaded or unloaded) */
  'api.changed': ApiStatusDTO,
  /** something the user should know that no request of the page answers (the desktop app: a link that could not be opened) */
  'app.notice': z.object({ kind: z.enum(['info', 'error']), text: z.string().max(2000) }),
};

export type EventName = keyof typeof events;
export type EventOf<E extends EventName> = z.infer<(typeof events)[E]>;

// ---- the reply to one call: what Electron's IPC returns, and (with its id) a WebSocket frame --------

const ReplyOk = z.object({ ok: z.literal(true), result: z.unknown() });
const ReplyError = z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) });
/** Every face answers a call with this envelope; main/ipc/reply.ts builds it from a result or an error. */
export const IpcReply = z.union([ReplyOk, ReplyError]);
export type IpcReply = z.infer<typeof IpcReply>;

// ---- browser-mode WebSocket frames ----------------------------------------------------------------

export const WsRequest = z.object({ id: z.number().int(), channel: z.string().max(100), payload: z.unknown() });
/** Every request gets one response; id is null only for a frame that had no usable id (not JSON, no integer id). */
export const WsResponse = z.union([ReplyOk.extend({ id: z.number().int() }), ReplyError.extend({ id: z.number().int().nullable() })]);
export type WsResponse = z.infer<typeof WsResponse>;
export const WsEvent = z.object({ event: z.string(), payload: z.unknown() });

/**
 * Every code an IPC error may carry: the catalogue's `ipc` codes (main/errors/catalogue.ts says what each
 * means and how the renderer words it; `internal` is a bug, never an answer to input).
 */
export const IPC_ERROR_CODES = codesOf('ipc');
export type { IpcErrorCode };

/** A typed error crossing IPC. */
export class IpcError extends Error {
  constructor(
    public readonly code: IpcErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isChannel(name: string): name is Channel {
  return Object.prototype.hasOwnProperty.call(contract, name);
}
