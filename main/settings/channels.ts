/**
 * The settings.* channels: the app settings kept in the store (SettingsFields and the chat
 * defaults). A new backend pin restarts the engine on it; a default model must be one of the
 * library's.
 */
import { pickSampling } from '../chat/dto';
import type { EngineClient } from '../engine/client';
import type { SettingsDTO } from '../ipc/contract';
import type { ModelLibrary } from '../models/library';
import type { Handlers } from '../services';
import type { AppSettings, Store } from '../store';

export function settingsChannels(deps: { store: Store; engine: EngineClient; library: ModelLibrary }): Handlers {
  const { store } = deps;
  const settings = (): SettingsDTO => {
    const all = store.settings.getAll();
    return {
      theme: all.theme,
      chatDefaults: pickSampling(all.chatDefaults),
      guardrail: all.guardrail,
      fitMarginMiB: all.fitMarginMiB,
      backend: all.backend,
      sendOnEnter: all.sendOnEnter,
      fontSize: all.fontSize,
      showReasoning: all.showReasoning,
      defaultModel: all.defaultModel,
    };
  };
  return {
    'settings.get': () => settings(),
    'settings.update': async (r) => {
      const { chatDefaults, defaultModel, ...rest } = r;
      const patch: Partial<AppSettings> = { ...rest };
      if (chatDefaults) patch.chatDefaults = { ...store.settings.get('chatDefaults'), ...chatDefaults };
      if (defaultModel !== undefined) patch.defaultModel = defaultModel === null ? null : await deps.library.known(defaultModel);
      const backendChanged = r.backend !== undefined && r.backend !== store.settings.get('backend');
      store.settings.update(patch);
      if (backendChanged) await deps.engine.setBackend(r.backend!);
      return settings();
    },
  };
}
