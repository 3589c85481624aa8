/**
 * Main's side of window.hearth: one invoke handler that answers every call with the reply envelope
 * (never a throw: Electron passes only an error's message across), and events pushed to the app's
 * pages. Plain (electron types only): the tests register it on an ipcMain double.
 */
import type { IpcMainInvokeEvent } from 'electron';
import { IpcError, IpcReply } from '../ipc/contract';
import { errorReply } from '../ipc/reply';
import type { Services } from '../services';
import { EVENT_CHANNEL, INVOKE_CHANNEL } from './preload-api';
import { isAppUrl } from './scheme';

/** A page events go to (a BrowserWindow's webContents). */
export interface EventPage {
  getURL(): string;
  send(channel: string, ...args: unknown[]): void;
}

/** What the handler reads of an invoke event: the frame that sent it (null once destroyed). */
export type SenderEvent = Pick<IpcMainInvokeEvent, 'senderFrame'>;

/** ipcMain, as far as registerIpc uses it. */
export interface InvokeRegistry {
  handle(channel: string, listener: (event: SenderEvent, ...args: any[]) => unknown): void;
}

function senderUrl(event: SenderEvent): string | undefined {
  try {
    return event.senderFrame?.url;
  } catch {
    return undefined; // the frame navigated away or was destroyed
  }
}

/** One call from a page: refused unless it comes from the app's own origin. */
export function invokeFromPage(services: Pick<Services, 'call'>, event: SenderEvent, channel: unknown, payload: unknown): Promise<IpcReply> {
  if (!isAppUrl(senderUrl(event))) return Promise.resolve(errorReply(new IpcError('forbidden', 'IPC from a page that is not Hearth')));
  if (typeof channel !== 'string') return Promise.resolve(errorReply(new IpcError('invalid_input', 'channel must be a string')));
  return services.call(channel, payload);
}

/** Registers the invoke handler and forwards events; returns the function that stops forwarding. */
export function registerIpc(ipcMain: InvokeRegistry, services: Pick<Services, 'call' | 'subscribe'>, pages: () => EventPage[]): () => void {
  ipcMain.handle(INVOKE_CHANNEL, (event, channel: unknown, payload: unknown) => invokeFromPage(services, event, channel, payload));
  return services.subscribe((event, payload) => {
    for (const page of pages()) {
      try {
        if (isAppUrl(page.getURL())) page.send(EVENT_CHANNEL, event, payload);
      } catch {
        /* a page closing while the event went out */
      }
    }
  });
}
