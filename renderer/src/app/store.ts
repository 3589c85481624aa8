/** The Redux store: one slice per feature plus the layout (ui) slice, and the listeners (./listeners.ts) that ask main as the state changes. */
import { combineReducers, configureStore } from '@reduxjs/toolkit';
import assistants from '../features/assistants/assistantsSlice';
import chat from '../features/chat/chatSlice';
import images from '../features/chat/imagesSlice';
import downloads from '../features/downloads/downloadsSlice';
import hub from '../features/hub/hubSlice';
import hardware from '../features/hardware/hardwareSlice';
import library from '../features/library/librarySlice';
import modelSettings from '../features/modelSettings/modelSettingsSlice';
import models from '../features/models/modelsSlice';
import search from '../features/search/searchSlice';
import settings from '../features/settings/settingsSlice';
import threads from '../features/threads/threadsSlice';
import updates from '../features/updates/updatesSlice';
import apiServer from '../features/apiServer/apiServerSlice';
import welcome from '../features/welcome/welcomeSlice';
import tools from '../features/tools/toolsSlice';
import docs from '../features/documents/docsSlice';
import providers from '../features/providers/providersSlice';
import data from '../features/data/dataSlice';
import { appListeners } from './listeners';
import ui from './uiSlice';

export const rootReducer = combineReducers({ threads, chat, images, models, modelSettings, hardware, assistants, settings, search, downloads, hub, library, welcome, updates, apiServer, tools, docs, providers, data, ui });

export type RootState = ReturnType<typeof rootReducer>;

export function makeStore(preloadedState?: Partial<RootState>) {
  return configureStore({
    reducer: rootReducer,
    preloadedState,
    // development-only checks (off in the production bundle); long threads are large states
    middleware: (getDefault) => getDefault({ serializableCheck: { warnAfter: 250 }, immutableCheck: { warnAfter: 250 } }).prepend(appListeners().middleware),
  });
}

export type AppStore = ReturnType<typeof makeStore>;
export type AppDispatch = AppStore['dispatch'];
