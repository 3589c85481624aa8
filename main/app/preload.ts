/** Preload: exposes a typed, minimal window.hearth through contextBridge. */
import { contextBridge, ipcRenderer, IpcRendererEvent } from 'electron';

contextBridge.exposeInMainWorld('hearth', {
  invoke: (channel: string, payload: unknown): Promise<unknown> => ipcRenderer.invoke('hearth:invoke', channel, payload),
  on: (fn: (event: string, payload: unknown) => void): (() => void) => {
    const listener = (_e: IpcRendererEvent, event: string, payload: unknown) => fn(event, payload);
    ipcRenderer.on('hearth:event', listener);
    return () => ipcRenderer.removeListener('hearth:event', listener);
  },
});
