/**
 * The settings.* channels: the app settings kept in the store (SettingsFields and the chat
 * defaults). A new backend pin restarts the engine on it, and so do new remote devices (rpcServers); a default model must be one of the
 * library's; a new download limit applies to the download manager at once, a new proxy to the next hub request (net.ts reads it per request), a new update channel or mode to the updater. The Hugging Face token is
 * kept by TokenVault (token.ts): settings.update takes it, settings.get says only whether it is set.
 */
import { pickSampling } from '../chat/dto';
import type { EngineClient } from '../engine/client';
import type { z } from 'zod';
import { SettingsFields, type SettingsDTO } from '../ipc/contract';
import type { ModelLibrary } from '../models/library';
import type { TokenVault } from './token';
import type { Handlers } from '../services';
import type { AppSettings, Store } from '../store';

const SETTINGS_FIELD_KEYS = Object.keys(SettingsFields.shape) as (keyof typeof SettingsFields.shape)[];

export function settingsChannels(deps: {
  store: Store;
  engine: EngineClient;
  library: ModelLibrary;
  tokens: TokenVault;
  /** the models folder in use */
  modelsFolder: () => string;
  /** told the download limit when it changes */
  setDownloadConcurrency: (n: number) => void;
  /** told when the updateChannel or updateMode setting changes (the updater follows them) */
  updateSettingsChanged?: () => void;
  /** told when the tools setting changes (the tools' status is told again: web search's provider, the built-ins on) */
  toolSettingsChanged?: () => void;
  /** told when the documents settings change (a new embedding model embeds the documents again) */
  documentSettingsChanged?: () => void;
}): Handlers {
  const { store } = deps;
  const settings = (): SettingsDTO => {
    const all = store.settings.getAll();
    // every field the user sets, as the store has it (SettingsFields is the one list)
    const fields = Object.fromEntries(SETTINGS_FIELD_KEYS.map((k) => [k, all[k]])) as z.output<typeof SettingsFields>;
    return {
      ...fields,
      chatDefaults: pickSampling(all.chatDefaults),
      hfToken: deps.tokens.token() ? 'set' : 'not set',
      hfTokenStorage: deps.tokens.storage(),
      warnings: deps.tokens.warnings(),
      modelsFolder: deps.modelsFolder(),
    };
  };
  return {
    'settings.get': () => settings(),
    'settings.update': async (r) => {
      const { chatDefaults, defaultModel, hfToken, ...rest } = r;
      const patch: Partial<AppSettings> = { ...rest };
      if (chatDefaults) patch.chatDefaults = { ...store.settings.get('chatDefaults'), ...chatDefaults };
      if (defaultModel !== undefined) patch.defaultModel = defaultModel === null ? null : await deps.library.known(defaultModel);
      const backendChanged = r.backend !== undefined && r.backend !== store.settings.get('backend');
      const rpcChanged = r.rpcServers !== undefined && JSON.stringify(r.rpcServers) !== JSON.stringify(store.settings.get('rpcServers'));
      store.settings.update(patch);
      if (hfToken !== undefined) deps.tokens.set(hfToken);
      if (r.downloadConcurrency !== undefined) deps.setDownloadConcurrency(r.downloadConcurrency);
      if (r.updateChannel !== undefined || r.updateMode !== undefined) deps.updateSettingsChanged?.();
      if (r.tools !== undefined) deps.toolSettingsChanged?.();
      if (r.documents !== undefined) deps.documentSettingsChanged?.();
      if (backendChanged) await deps.engine.setBackend(r.backend!);
      // the engine restarts with the remote devices that answer; the hardware page shows what the probe found
      if (rpcChanged) await deps.engine.setRpcServers(r.rpcServers!);
      return settings();
    },
  };
}
