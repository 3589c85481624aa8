/** Preload: exposes window.hearth (main/app/preload-api.ts) through contextBridge. */
import { contextBridge, ipcRenderer } from 'electron';
import { hearthApi } from './preload-api';

contextBridge.exposeInMainWorld('hearth', hearthApi(ipcRenderer));
