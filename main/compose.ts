/**
 * Builds main's services from their dependencies: the store in the data folder, the model library,
 * the chat turns, and the IPC channels over them, each domain registering its own. Used by
 * Electron, browser mode and tests alike.
 */
import path from 'path';
import { assistantChannels } from './chat/assistants';
import { chatChannels } from './chat/channels';
import { ImageSweep } from './chat/image-sweep';
import { ImageStore } from './chat/images';
import { chatParallel, type LoadedChat, loadFingerprint, ThreadSessions } from './chat/sessions';
import { ChatService } from './chat/turns';
import { ChatViews } from './chat/views';
import { EngineClient } from './engine/client';
import type { Logger } from './logging';
import { discoverEnvOf, type DiscoverEnv } from './models/discover';
import { DownloadManager } from './models/downloads';
import { HubClient, hubConfigFromEnv, type HubConfig } from './models/hub';
import { HubService } from './models/hub-service';
import { LibraryService } from './models/library-service';
import { netFetch } from './models/net';
import { ModelLibrary, storeDeps } from './models/library';
import { ModelService } from './models/service';
import { HardwareMonitor } from './hardware';
import { DataPaths, modelsFolderOf } from './paths';
import { FolderService } from './models/folder-service';
import { FolderLock } from './models/folder-lock';
import { peerModelFolders } from './models/import';
import { apiChannels } from './server/channels';
import { ApiService } from './server/service';
import { Services } from './services';
import { settingsChannels } from './settings/channels';
import { type SecretCipher, TokenVault } from './settings/token';
import { Store } from './store';
import { SecretStore } from './secrets';
import { ToolsService } from './tools/service';
import { ProviderService } from './providers/service';
import { DocFiles } from './docs/files';
import { DocModels } from './docs/models';
import { DocsService } from './docs/service';
import { DataService } from './data/service';
import { extractInWorker } from './docs/extract-run';
import type { ToolSource } from './tools/types';
import { installFailureFile } from './updates/install-failure';
import { Backups } from './data-folder/backups';
import { backupChannels, folderChannels } from './data-folder/local-channels';
import { Restarter, type RestartPort } from './data-folder/restart';
import { UpdateController, updatesChannels, type Blocker, type UpdaterPort, BROWSER_MODE_UPDATES_REASON } from './updates/controller';

export interface App {
  services: Services;
  store: Store;
  library: ModelLibrary;
  chat: ChatService;
  /** each chat thread's KV cache: its sequence, saved and restored (main/chat/sessions.ts) */
  sessions: ThreadSessions;
  downloads: DownloadManager;
  updates: UpdateController;
  /** the local API server (main/server/): started by startIfEnabled (the app) or start (hearth serve --api) */
  api: ApiService;
  /** deletes the image files no message refers to (main/chat/image-sweep.ts): at startup, after a thread is deleted, at close */
  imageSweep: ImageSweep;
  /** the documents: attached to chats and in knowledge folders, their indexing and their folder's sweep (main/docs/) */
  docs: DocsService;
  /** the tools chats are offered (built-ins, MCP servers), their approvals and settings (main/tools/) */
  tools: ToolsService;
  /** the remote providers (main/providers/) */
  providers: ProviderService;
  /** the data folder's backups (main/data-folder/backups.ts): the host starts the daily one (backups.start) */
  backups: Backups;
  close(): Promise<void>;
}

export interface ComposeOptions {
  paths: DataPaths;
  engine: EngineClient;
  appVersion: string;
  logger: Logger;
  /** how often the header's context meter may refresh while a reply streams (tests shorten it) */
  usageRefreshMs?: number;
  /** encrypts the Hugging Face token (main/app: Electron's safeStorage, when available); without it the token is a plain file */
  secrets?: SecretCipher;
  /** the environment read for HF_ENDPOINT, HF_TOKEN and the proxy variables (default process.env) */
  env?: NodeJS.ProcessEnv;
  /** where discovery looks (default: this process's home and OS) */
  discoverEnv?: () => DiscoverEnv;
  /** the recommended models' file (default resources/recommended.json) */
  recommendedFile?: string;
  /** a fetch for the hub and downloads instead of netFetch's (proxy setting, HTTPS_PROXY/HTTP_PROXY/NO_PROXY) */
  fetch?: typeof fetch;
  /**
   * the updater (main/app/updater.ts) and what closes everything before an install; without it
   * (browser mode, `hearth serve`, a development run) the updates.* channels answer phase unsupported
   * with `updatesUnsupported` as the reason
   */
  updates?: { port: UpdaterPort; beforeInstall: () => Promise<void>; relaunch: () => void; gpu: string };
  updatesUnsupported?: string;
  /** more tool sources beside the built-ins and the MCP servers (tests) */
  toolSources?: ToolSource[];
  /** how long a remote provider may stay silent (tests; default PROVIDER_TIMEOUT_MS, and PROVIDER_LIST_TIMEOUT_MS for a model list) */
  providerTimeoutMs?: number;
  /** the fetch the built-in tools use (default the global one) */
  toolFetch?: typeof fetch;
  /** where other apps' MCP configs are looked for (default this process's platform, environment and home) */
  toolImportEnv?: { platform: NodeJS.Platform; env: NodeJS.ProcessEnv; home: string };
  /**
   * closes this App, runs `work` (a restore's, a move's or an erase's file swap), then starts Hearth
   * again on the data folder resolveDataDir gives (main/data/restart.ts); without it (tests, a host
   * that cannot) data.folder says canRestart false and those are refused
   */
  restart?: RestartPort;
}

export function composeApp(opts: ComposeOptions): App {
  const { paths, engine, logger } = opts;
  const store = Store.open(paths.database, { logger, appVersion: opts.appVersion });
  // the backend pin from settings applies before the engine first starts
  const pin = store.settings.get('backend');
  if (pin !== 'auto') void engine.setBackend(pin).catch((e: Error) => logger.error(`engine: ${e.message}`));
  // and so do the remote devices (rpc-server endpoints): the engine probes them before it starts
  const rpcServers = store.settings.get('rpcServers');
  if (rpcServers.length) void engine.setRpcServers(rpcServers).catch((e: Error) => logger.error(`engine: ${e.message}`));
  const services = new Services({ engine, paths, appVersion: opts.appVersion, logger });
  const modelsDir = modelsFolderOf(paths, store.settings);
  const library = new ModelLibrary({
    engine,
    modelsDir,
    logger,
    ...storeDeps(store),
    onState: (s) => services.emit('models.state', s),
    // the folder's listing changed: the whole library goes out, references with it
    onModels: () => modelsChanged(),
    // a sequence per live thread and the titles' (main/chat/sessions.ts), saved before the model goes
    parallel: () => chatParallel(store.settings.get('threadCache').liveThreads),
    beforeUnload: (): Promise<void> => sessions.saveAll(),
    seqOf: (threadId: string): number | undefined => sessions.seqOf(threadId),
  });
  const sessions: ThreadSessions = new ThreadSessions({
    engine,
    dir: paths.sessions,
    settings: () => store.settings.get('threadCache'),
    loaded: (): LoadedChat | null => {
      const l = library.loadedChat;
      return l && { loadId: l.loadId, fingerprint: loadFingerprint(l.model, l.params), parallel: l.model.context.parallel };
    },
    // a temporary chat stays in memory
    persist: (threadId) => !store.temporary.has(threadId),
    exists: (threadId) => store.threads.exists(threadId),
    logger,
  });
  // the saved caches past their age or the disk budget, and those of threads deleted meanwhile
  void sessions.prune();
  const modelsChanged = () => {
    library
      .entries()
      .then((models) => services.emit('models.changed', { models }))
      .catch((e: Error) => logger.warn(`models: the list could not be sent: ${e.message}`));
  };
  // the hub: HF_ENDPOINT, and the token from settings, else HF_TOKEN (a new one applies to the next request)
  const env = opts.env ?? process.env;
  const tokens = new TokenVault(paths.root, { cipher: opts.secrets, env, logger });
  const hubUrl = hubConfigFromEnv(env).hubUrl;
  const hubConfig: HubConfig = {
    hubUrl,
    get token() {
      return tokens.token();
    },
    // the proxy setting is read per request: a new one applies to the next request
    fetch: opts.fetch ?? netFetch({ env, proxy: () => store.settings.get('proxy') }),
  };
  // the models folder's writers (downloads, imports, a move) consult one another through it
  const folderLock = new FolderLock();
  const downloads = new DownloadManager({ downloads: store.downloads, modelsDir, hub: hubConfig, logger, concurrency: store.settings.get('downloadConcurrency'), lock: folderLock });
  const discoverEnv = opts.discoverEnv ?? (() => discoverEnvOf());
  let hub: HubClient | null = null;
  tokens.onChange(() => {
    hub = null;
    hubService.tokenChanged();
  });
  const hubService = new HubService({
    services,
    library,
    downloads,
    hub: () => (hub ??= new HubClient({ ...hubConfig, token: hubConfig.token })),
    fitEngine: engine,
    fitMarginMiB: () => store.settings.get('fitMarginMiB'),
    discoverEnv,
    onLibraryChanged: modelsChanged,
    ...(opts.recommendedFile ? { recommendedFile: opts.recommendedFile } : {}),
    logger,
  });
  const folder = new FolderService({ services, store, library, downloads, folder: modelsDir, dataDir: paths.root, lock: folderLock, onLibraryChanged: modelsChanged, logger });
  const views = new ChatViews(store);
  const images = new ImageStore(paths.images);
  // the image files no message refers to (saved chats, open temporary chats) go: now, after a thread is deleted, at close
  const imageSweep = new ImageSweep({ dir: paths.images, referenced: () => store.attachmentRefs(), logger });
  void imageSweep.run();
  // the tools: their secrets with the OS keychain where there is one (as the token), the MCP servers started now
  const tools = new ToolsService({
    store,
    services,
    secrets: new SecretStore(paths.root, { cipher: opts.secrets, logger }),
    logger,
    ...(opts.toolSources ? { sources: opts.toolSources } : {}),
    ...(opts.toolFetch ? { fetch: opts.toolFetch } : {}),
    ...(opts.toolImportEnv ? { importEnv: opts.toolImportEnv } : {}),
  });
  tools.start();
  services.register(tools.channels());
  // documents: attached to chats or in assistants' knowledge folders, indexed by the documents' own models
  // (a reply being written keeps priority over their embedding)
  const docs: DocsService = new DocsService({
    store,
    files: new DocFiles(paths.documents),
    models: new DocModels({ engine, loadSettings: storeDeps(store).loadSettings, guardrail: storeDeps(store).guardrail, logger }),
    services,
    logger,
    extract: (name, bytes, signal) => extractInWorker(name, bytes, { signal }),
    chat: { replying: (): boolean => chat.replying(), onActivity: (l: () => void): (() => void) => chat.onActivity(l) },
    libraryPaths: async () => (await library.entries()).filter((e) => !e.missing).map((e) => e.path),
  });
  services.register(docs.channels());
  // remote providers: their keys in a secret store of their own (the OS keychain where there is one)
  const providers = new ProviderService({
    store,
    services,
    secrets: new SecretStore(paths.root, { cipher: opts.secrets, logger, file: 'provider-secrets.json' }),
    logger,
    ...(opts.providerTimeoutMs ? { listTimeoutMs: opts.providerTimeoutMs, chatTimeoutMs: opts.providerTimeoutMs } : {}),
  });
  services.register(providers.channels());
  const chat: ChatService = new ChatService({
    store, engine, library, services, logger, views, usageRefreshMs: opts.usageRefreshMs, sessions, images,
    tools: { registry: tools.registry, approvals: tools.approvals, settings: () => tools.settings() },
    docs,
    providers,
  });
  docs.start();
  services.register(chatChannels({ store, engine, library, services, views, chat, images, sessions, imageSweep }));
  services.register(assistantChannels({ store, views }));
  // the updater: follows the updateChannel and updateMode settings; an install waits for replies and downloads
  const updates = new UpdateController({
    current: opts.appVersion,
    port: opts.updates?.port ?? null,
    unsupportedReason: opts.updatesUnsupported ?? BROWSER_MODE_UPDATES_REASON,
    settings: () => ({ channel: store.settings.get('updateChannel'), mode: store.settings.get('updateMode') }),
    activity: {
      busy: () => [...(chat.generating() ? ['generation' as Blocker] : []), ...(downloads.active() ? ['download' as Blocker] : [])],
      onChange: (l) => {
        const offChat = chat.onActivity(l);
        const offDownloads = downloads.on((e) => {
          if (e.type === 'state' || e.type === 'done' || e.type === 'removed') l();
        });
        return () => {
          offChat();
          offDownloads();
        };
      },
    },
    beforeInstall: opts.updates?.beforeInstall ?? (async () => undefined),
    relaunch: opts.updates?.relaunch ?? (() => undefined),
    installFailure: installFailureFile(path.join(paths.root, 'updater', 'install-failed.json')),
    gpu: opts.updates?.gpu,
    emit: (s) => services.emit('updates.changed', s),
    // a release that reads only an older schema than this database's is offered but not installed
    dataSchemaVersion: () => store.schemaVersion,
    logger,
  });
  services.register(updatesChannels(updates));
  services.register(settingsChannels({
    store, engine, library, tokens, modelsFolder: () => folder.folder, setDownloadConcurrency: (n) => downloads.setConcurrency(n), updateSettingsChanged: () => updates.settingsChanged(),
    toolSettingsChanged: () => tools.changed(),
    documentSettingsChanged: () => docs.settingsChanged(),
  }));
  const hardware = new HardwareMonitor(engine);
  new ModelService({ store, engine, library, services, hardware, logger }).register();
  hubService.register();
  folder.register();
  // the models folder as of now (a move changes it)
  new LibraryService({
    services, library, engine, modelsDir: () => folder.folder, lock: folderLock, peerFolders: () => peerModelFolders(discoverEnv()), onLibraryChanged: modelsChanged, logger,
  }).register();
  const lib = storeDeps(store);
  const api = new ApiService({
    engine,
    entries: () => library.entries(),
    chatModel: () => library.loadedPath,
    loadSettings: lib.loadSettings,
    guardrail: lib.guardrail,
    read: () => store.settings.get('apiServer'),
    write: (s) => void store.settings.set('apiServer', s),
    version: opts.appVersion,
    logger,
    emit: (s) => services.emit('api.changed', s),
  });
  services.register(apiChannels(api));
  // this machine's data: backups (the daily one from now), the folder's move, erasing
  const backups = new Backups({
    db: store.db, database: paths.database, dir: path.join(paths.root, 'backups'), logger,
    settings: { get: () => store.settings.get('backups'), set: (s) => void store.settings.set('backups', s) },
  });
  const restarter = new Restarter(opts.restart, (reason) => services.emit('app.restarting', { reason }));
  // the Data page: imports of other apps' chats, exports
  const data = new DataService({ store, services, dataDir: paths.root, logger, indexDocuments: (refs) => docs.adoptImported(refs) });
  services.register(data.importExportChannels());
  services.register(backupChannels({ backups, restarter, store, paths, logger }));
  services.register(folderChannels({ paths, restarter, services, store, logger, chat, sessions, imageSweep, documents: docs.garbage, imports: data.imports }));
  // the downloads the store holds (running or waiting when Hearth last closed) go on
  downloads.restore().catch((e: Error) => logger.error(`downloads: could not restore: ${e.message}`));
  return {
    services,
    store,
    library,
    chat,
    sessions,
    downloads,
    updates,
    api,
    imageSweep,
    docs,
    tools,
    providers,
    backups,
    async close() {
      updates.close();
      await backups.close();
      await api.close();
      await chat.stopAll();
      await data.close();
      await tools.close();
      await docs.close();
      // the live threads' caches are saved while the engine still holds them
      await sessions.saveAll();
      // the temporary chats go now (store.close would drop them), and their images with them
      const temporaryImages = store.temporary.attachmentRefs();
      store.temporary.clear();
      await imageSweep.run(temporaryImages, { closing: true });
      await downloads.close();
      hubService.close();
      library.close();
      services.close();
      store.close();
    },
  };
}
