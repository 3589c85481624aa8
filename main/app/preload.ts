/** Preload: exposes a typed, minimal window.hearth through contextBridge. */
import { contextBridge, ipcRenderer } from 'electron';

contextBridge.exposeInMainWorld('hearth', {
  invoke: (channel: string, payload: unknown): Promise<unknown> => ipcRenderer.invoke('hearth:invoke', channel, payload),
});
