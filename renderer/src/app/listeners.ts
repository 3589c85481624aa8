/**
 * The renderer's side effects that follow the state rather than a click: RTK listener middleware
 * (one per store). Components only render and dispatch; what to ask main and when — the memory
 * estimate following the model settings form, the search following the query, the hub page's search, files and fit verdicts, the hardware page's
 * usage polling, the composer's token count, a chat's tool calls awaiting approval, a thread's documents and a cited passage, the model picker's choice (local or remote), Settings → Data's backups and the reload after a restart — is decided here, from the state, with timers the tests control (jest's fake timers).
 */
import { createListenerMiddleware, TypedStartListening } from '@reduxjs/toolkit';
import { startChatListeners } from '../features/chat/listeners';
import { startHardwareListeners } from '../features/hardware/listeners';
import { startLibraryListeners } from '../features/library/listeners';
import { startHubListeners } from '../features/hub/listeners';
import { startModelSettingsListeners } from '../features/modelSettings/listeners';
import { startSearchListeners } from '../features/search/listeners';
import { startUpdatesListeners } from '../features/updates/listeners';
import { startApiServerListeners } from '../features/apiServer/listeners';
import { startWelcomeListeners } from '../features/welcome/listeners';
import { startToolsListeners } from '../features/tools/listeners';
import { startDocsListeners } from '../features/documents/listeners';
import { startProvidersListeners } from '../features/providers/listeners';
import { startDataListeners } from '../features/data/listeners';
import type { AppDispatch, RootState } from './store';

export type AppStartListening = TypedStartListening<RootState, AppDispatch>;

/** A listener middleware with every listener of the app started on it. */
export function appListeners() {
  const listeners = createListenerMiddleware();
  const start = listeners.startListening as AppStartListening;
  startChatListeners(start);
  startModelSettingsListeners(start);
  startSearchListeners(start);
  startHardwareListeners(start);
  startLibraryListeners(start);
  startHubListeners(start);
  startWelcomeListeners(start);
  startUpdatesListeners(start);
  startApiServerListeners(start);
  startToolsListeners(start);
  startDocsListeners(start);
  startProvidersListeners(start);
  startDataListeners(start);
  return listeners;
}
