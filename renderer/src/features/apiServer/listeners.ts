/**
 * The API server section's side effects: its status asked for when Settings → Local API server opens
 * (api.changed keeps it current after that), and the clipboard written for its Copy buttons.
 */
import type { AppStartListening } from '../../app/listeners';
import { dialogShown, setSettingsSection, toastAdded } from '../../app/uiSlice';
import { copyRequested, fetchApiStatus } from './apiServerSlice';

export function startApiServerListeners(start: AppStartListening): void {
  start({
    predicate: (a, state) => (setSettingsSection.match(a) || dialogShown.match(a)) && state.ui.dialog === 'settings' && state.ui.settingsSection === 'api',
    effect: (_a, api) => void api.dispatch(fetchApiStatus()),
  });
  start({
    actionCreator: copyRequested,
    effect: async (a, api) => {
      try {
        await navigator.clipboard.writeText(a.payload.text);
        api.dispatch(toastAdded({ kind: 'info', text: `Copied the ${a.payload.what}.` }));
      } catch (e) {
        api.dispatch(toastAdded({ kind: 'error', text: `Could not copy the ${a.payload.what}: ${(e as Error).message}` }));
      }
    },
  });
}
