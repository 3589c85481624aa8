/**
 * window.hearth, built over ipcRenderer. Plain (electron types only) so the tests run this code
 * with Electron's IPC objects as doubles, and so the sandboxed preload bundles nothing but it.
 */
import type { IpcRenderer, IpcRendererEvent } from 'electron';
import { errorReply, PreloadApi } from '../ipc/reply';

export const INVOKE_CHANNEL = 'hearth:invoke';
export const EVENT_CHANNEL = 'hearth:event';

export function hearthApi(ipc: Pick<IpcRenderer, 'invoke' | 'on' | 'removeListener'>): PreloadApi {
  return {
    // main answers with the reply envelope (an error's code would not survive a throw across
    // Electron's IPC); a failure of the IPC itself becomes one too
    invoke: (channel, payload) => ipc.invoke(INVOKE_CHANNEL, channel, payload).catch((e: unknown) => errorReply(e, 'disconnected')),
    on: (fn) => {
      const listener = (_e: IpcRendererEvent, event: string, payload: unknown) => fn(event, payload);
      ipc.on(EVENT_CHANNEL, listener);
      return () => {
        ipc.removeListener(EVENT_CHANNEL, listener);
      };
    },
  };
}
