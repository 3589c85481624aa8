/**
 * What the updates feature asks main as the state changes: once the update channel or mode is saved,
 * the updater's state again (main's answer follows the new settings: the channel shown, a check
 * turned off). updates.changed events keep it current otherwise (app/events.ts).
 */
import type { AppStartListening } from '../../app/listeners';
import { updateSettings } from '../settings/settingsSlice';
import { fetchUpdateState } from './updatesSlice';

export function startUpdatesListeners(start: AppStartListening): void {
  start({
    actionCreator: updateSettings.fulfilled,
    effect: (a, api) => {
      if (a.meta.arg.updateChannel !== undefined || a.meta.arg.updateMode !== undefined) void api.dispatch(fetchUpdateState());
    },
  });
}
