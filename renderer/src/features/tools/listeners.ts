/**
 * The tools' side effects: a chat opened asks which of its calls await approval or run
 * (tools.pending; tools.call events keep it current); Settings → Tools asks for the tools' status and
 * the other apps' MCP configs found here, the assistants dialog for the status (its tools picker);
 * an import asks for the status again (the servers it added).
 */
import type { AppStartListening } from '../../app/listeners';
import { dialogShown, setSettingsSection } from '../../app/uiSlice';
import { threadSelected } from '../threads/threadsSlice';
import { fetchImportSources, fetchPendingCalls, fetchToolsStatus, importMcpServers } from './toolsSlice';

export function startToolsListeners(start: AppStartListening): void {
  start({
    actionCreator: threadSelected,
    effect: (a, api) => {
      if (a.payload) void api.dispatch(fetchPendingCalls(a.payload));
    },
  });
  start({
    predicate: (a, state) => (setSettingsSection.match(a) || dialogShown.match(a)) && state.ui.dialog === 'settings' && state.ui.settingsSection === 'tools',
    effect: (_a, api) => {
      void api.dispatch(fetchToolsStatus());
      void api.dispatch(fetchImportSources());
    },
  });
  start({
    predicate: (a, state) => dialogShown.match(a) && state.ui.dialog === 'assistants',
    effect: (_a, api) => void api.dispatch(fetchToolsStatus()),
  });
  start({
    actionCreator: importMcpServers.fulfilled,
    effect: (_a, api) => void api.dispatch(fetchToolsStatus()),
  });
}
