/**
 * What the app's error box says when Hearth could not start (main.ts shows it with
 * dialog.showErrorBox, then quits). No Electron here, so it is tested as it is.
 */
import { isStoreError } from '../store';
import { MovedAwayError } from '../paths';

export interface StartErrorBox {
  title: string;
  content: string;
}

/**
 * The title and text for a failed start. An update whose migration failed says the data was
 * restored to its state before the update and that the previous Hearth can still open it (the
 * store's message, which `hearth` prints as its one line too).
 */
export function startErrorBox(e: unknown): StartErrorBox {
  const message = e instanceof Error ? e.message : String(e);
  if (isStoreError(e, 'migration_failed')) {
    return { title: e.details?.restored === true ? 'Hearth restored your data after a failed update' : 'Hearth could not update your data', content: message };
  }
  if (isStoreError(e, 'in_use')) return { title: 'Hearth could not update your data', content: message };
  if (e instanceof MovedAwayError) return { title: 'Hearth could not find your data', content: `${message[0].toUpperCase()}${message.slice(1)}.` };
  return { title: 'Hearth could not start', content: message };
}
