/**
 * The documents' side effects: a thread whose messages carry documents asks for their states
 * (docs.list) when it opens, when a message with documents is sent or edited, when an action on one
 * of them ends, and when docs.changed names one of them; Settings → Documents and the assistants
 * dialog ask for the documents' status (docs.status: counts, the active job, the knowledge folders),
 * as does the end of an action on a folder; a citation opened asks for its passage (docs.passage).
 */
import type { AppStartListening } from '../../app/listeners';
import { dialogShown, setSettingsSection } from '../../app/uiSlice';
import { editMessage, loadThread, sendMessage, switchAlternative } from '../chat/chatSlice';
import { DOC_ACTIONS, docsChanged, fetchDocsStatus, fetchPassage, fetchThreadDocs, FOLDER_ACTIONS, passageOpened, threadDocRefs } from './docsSlice';

export function startDocsListeners(start: AppStartListening): void {
  // a thread's messages arrived (opened, sent, edited, another alternative): its documents' states, when it has any
  start({
    predicate: (a) => loadThread.fulfilled.match(a) || sendMessage.fulfilled.match(a) || editMessage.fulfilled.match(a) || switchAlternative.fulfilled.match(a),
    effect: (a, api) => {
      const threadId = sendMessage.fulfilled.match(a) ? a.payload.threadId : loadThread.fulfilled.match(a) ? a.meta.arg : (a.meta.arg as { threadId: string }).threadId;
      if (threadDocRefs(api.getState(), threadId).length) void api.dispatch(fetchThreadDocs(threadId));
    },
  });
  start({
    predicate: (a) => DOC_ACTIONS.some((t) => t.fulfilled.match(a) || t.rejected.match(a)),
    effect: (a, api) => void api.dispatch(fetchThreadDocs((a.meta as { arg: { threadId: string } }).arg.threadId)),
  });
  // docs.changed: each thread whose documents it names asks for their states again
  start({
    actionCreator: docsChanged,
    effect: (a, api) => {
      const s = api.getState();
      const changed = new Set(a.payload.refs);
      for (const [threadId, t] of Object.entries(s.docs.threads)) {
        if ([...t.refs, ...threadDocRefs(s, threadId)].some((r) => changed.has(r))) void api.dispatch(fetchThreadDocs(threadId));
      }
    },
  });
  start({
    predicate: (a, state) =>
      ((setSettingsSection.match(a) || dialogShown.match(a)) && state.ui.dialog === 'settings' && state.ui.settingsSection === 'documents') || (dialogShown.match(a) && state.ui.dialog === 'assistants'),
    effect: (_a, api) => void api.dispatch(fetchDocsStatus()),
  });
  start({
    predicate: (a) => FOLDER_ACTIONS.some((t) => t.fulfilled.match(a) || t.rejected.match(a)),
    effect: (_a, api) => void api.dispatch(fetchDocsStatus()),
  });
  start({
    actionCreator: passageOpened,
    effect: (a, api) => {
      if (a.payload.chunkId !== null) void api.dispatch(fetchPassage(a.payload.chunkId));
    },
  });
}
