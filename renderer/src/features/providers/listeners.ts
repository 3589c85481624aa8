/**
 * The providers' side effects: the header's model picker's choice (a local model is loaded, and an
 * open chat on a remote model switches back to it; a remote model becomes the open chat's model,
 * or, on the new-chat screen, the model the next chat is created with: chatSlice's sendMessage);
 * Settings → Providers asks for the status when it opens; a provider just added with no models
 * asks the provider for its list once.
 */
import { parseRemoteModelRef } from '../../../../main/params';
import type { AppStartListening } from '../../app/listeners';
import { dialogShown, setSettingsSection } from '../../app/uiSlice';
import { loadModel } from '../models/modelsSlice';
import { setThreadModel } from '../threads/threadsSlice';
import { fetchProvidersStatus, modelPicked, refreshProviderModels, saveProvider } from './providersSlice';

export function startProvidersListeners(start: AppStartListening): void {
  start({
    actionCreator: modelPicked,
    effect: (a, api) => {
      const { value, threadId } = a.payload;
      const thread = threadId ? api.getState().threads.entities[threadId] : undefined;
      if (parseRemoteModelRef(value)) {
        if (thread && thread.modelPath !== value) void api.dispatch(setThreadModel({ id: thread.id, model: value }));
        return;
      }
      void api.dispatch(loadModel(value));
      if (thread && parseRemoteModelRef(thread.modelPath)) void api.dispatch(setThreadModel({ id: thread.id, model: value }));
    },
  });
  start({
    predicate: (a, state) => (setSettingsSection.match(a) || dialogShown.match(a)) && state.ui.dialog === 'settings' && state.ui.settingsSection === 'providers',
    effect: (_a, api) => void api.dispatch(fetchProvidersStatus()),
  });
  start({
    actionCreator: saveProvider.fulfilled,
    effect: (a, api) => {
      const sent = a.meta.arg.provider;
      if (sent.id !== undefined || sent.models?.length) return;
      // the provider just added: the one of that name (names are unique, main checks)
      const added = a.payload.providers.find((p) => p.name.toLowerCase() === sent.name.trim().toLowerCase());
      if (added && added.models.length === 0) void api.dispatch(refreshProviderModels(added.id));
    },
  });
}
