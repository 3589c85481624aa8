/**
 * Builds main's services from their dependencies: the store in the data folder, the model library,
 * the chat turns, and the IPC channels over them, each domain registering its own. Used by
 * Electron, browser mode and tests alike.
 */
import { assistantChannels } from './chat/assistants';
import { chatChannels } from './chat/channels';
import { ChatService } from './chat/turns';
import { ChatViews } from './chat/views';
import { EngineClient } from './engine/client';
import type { Logger } from './logging';
import { ModelLibrary } from './models/library';
import { ModelService } from './models/service';
import { HardwareMonitor } from './hardware';
import { DataPaths } from './paths';
import { Services } from './services';
import { settingsChannels } from './settings/channels';
import { Store } from './store';

export interface App {
  services: Services;
  store: Store;
  library: ModelLibrary;
  chat: ChatService;
  close(): Promise<void>;
}

/** `usageRefreshMs`: how often the header's context meter may refresh while a reply streams (tests shorten it). */
export function composeApp(opts: { paths: DataPaths; engine: EngineClient; appVersion: string; logger: Logger; usageRefreshMs?: number }): App {
  const { paths, engine, logger } = opts;
  const store = Store.open(paths.database, { logger });
  // the backend pin from settings applies before the engine first starts
  const pin = store.settings.get('backend');
  if (pin !== 'auto') void engine.setBackend(pin).catch((e: Error) => logger.error(`engine: ${e.message}`));
  const services = new Services({ engine, paths, appVersion: opts.appVersion, logger });
  const library = new ModelLibrary({
    engine,
    modelsDir: paths.models,
    logger,
    references: store.modelRefs,
    loadSettings: (modelPath) => store.modelSettings.get(modelPath),
    guardrail: () => ({ mode: store.settings.get('guardrail'), marginMiB: store.settings.get('fitMarginMiB') }),
    onState: (s) => services.emit('models.state', s),
    onModels: (models) => services.emit('models.changed', { models }),
  });
  const views = new ChatViews(store);
  const chat = new ChatService({ store, engine, library, services, logger, views, usageRefreshMs: opts.usageRefreshMs });
  services.register(chatChannels({ store, engine, library, services, views, chat }));
  services.register(assistantChannels({ store, views }));
  services.register(settingsChannels({ store, engine, library }));
  const hardware = new HardwareMonitor(engine);
  new ModelService({ store, engine, library, services, hardware, logger }).register();
  return {
    services,
    store,
    library,
    chat,
    async close() {
      await chat.stopAll();
      library.close();
      services.close();
      store.close();
    },
  };
}
