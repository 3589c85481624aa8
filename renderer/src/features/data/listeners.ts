/**
 * Settings → Data's side effects: the page asks main for its backups, data folder and files set aside when it opens;
 * after main said it restarts (app.restarting), app.info is asked every second and the page reloads
 * once main answers again: as another instance than the page knew (browser mode restarts in the same
 * server, which may answer throughout), after it was seen gone, or after RESTART_GIVE_UP_MS of
 * answering (a restart too quick to be seen between two asks, an instance not known); an import's end refreshes the chat list; a new
 * file picked while a preview waited drops that preview's job in main; an export with chats an import would leave out says so in a toast.
 */
import type { AppStartListening } from '../../app/listeners';
import { call } from '../../app/bridge';
import { dialogShown, setSettingsSection, toastAdded } from '../../app/uiSlice';
import { fetchThreads } from '../threads/threadsSlice';
import { appRestarting, importProgressReceived } from './dataSlice';
import { page } from './page';
import { exportChats, fetchBackups, fetchDataFolder, fetchStray, importFile, leftOutWords, startImport } from './thunks';

export const RESTART_POLL_MS = 1000;
export const RESTART_GIVE_UP_MS = 15_000;

export function startDataListeners(start: AppStartListening): void {
  start({
    predicate: (a, state) => (setSettingsSection.match(a) || dialogShown.match(a)) && state.ui.dialog === 'settings' && state.ui.settingsSection === 'data',
    effect: (_a, api) => {
      void api.dispatch(fetchBackups());
      void api.dispatch(fetchDataFolder());
      void api.dispatch(fetchStray());
    },
  });
  start({
    actionCreator: appRestarting,
    effect: async (_a, api) => {
      api.unsubscribe(); // one reload per page
      const before = api.getState().settings.info?.instance;
      let gone = false;
      let answered = 0;
      for (;;) {
        await api.delay(RESTART_POLL_MS);
        try {
          const info = await call('app.info', {});
          answered += RESTART_POLL_MS;
          if (gone || answered >= RESTART_GIVE_UP_MS || (before !== undefined && info.instance !== undefined && info.instance !== before)) break;
        } catch {
          gone = true;
        }
      }
      page.reload();
    },
  });
  // an export from a chat's menu (the Data page shows it in its note too): chats an import would leave out are told
  start({
    actionCreator: exportChats.fulfilled,
    effect: (a, api) => {
      const ui = api.getState().ui;
      const onDataPage = ui.dialog === 'settings' && ui.settingsSection === 'data';
      if (a.payload.leftOutOnImport && !onDataPage) api.dispatch(toastAdded({ kind: 'info', text: leftOutWords(a.payload.leftOutOnImport) }));
    },
  });
  // a new file while a preview waited: main drops the preview's job
  start({
    actionCreator: importFile.pending,
    effect: (_a, api) => {
      const before = api.getOriginalState().data.import;
      if (before.phase === 'previewed' && before.preview) void call('data.import.cancel', { jobId: before.preview.jobId }).catch(() => undefined);
    },
  });
  // the chats an import added (or the part of them a cancel kept) appear in the list
  start({
    predicate: (a, state, before) =>
      (importProgressReceived.match(a) || startImport.fulfilled.match(a)) && before.data.import.phase === 'running' && ['done', 'cancelled', 'failed'].includes(state.data.import.phase),
    effect: (_a, api) => void api.dispatch(fetchThreads()),
  });
}
