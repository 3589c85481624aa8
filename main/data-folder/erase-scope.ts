/**
 * What each data.erase scope deletes, as data: the confirmation the Data page shows (eraseSummary)
 * and the files main/data-folder/erase.ts removes come from this one list. No node imports: the renderer
 * imports this file too.
 */
import type { ERASE_SCOPES } from '../ipc/data';
import { DATABASE_FILE, DATABASE_FILES } from '../database-files';

export type EraseScope = (typeof ERASE_SCOPES)[number];

export interface ErasedItem {
  /** what goes, in the user's words */
  says: string;
  /** the data folder's entries (files or folders, relative to it) removed for scope everything */
  entries: readonly string[];
}

/** scope 'everything': every item goes (after Hearth closes; it starts again on a fresh store). The models stay. */
export const ERASED_EVERYTHING: readonly ErasedItem[] = [
  { says: 'every chat and its messages, assistants, settings, tool approvals, remote providers and the documents index', entries: [...DATABASE_FILES, `${DATABASE_FILE}.before-update`, `${DATABASE_FILE}.before-update.json`] },
  { says: 'the images and documents attached to chats', entries: ['images', 'documents'] },
  { says: 'the saved conversation caches', entries: ['sessions'] },
  { says: 'every backup', entries: ['backups'] },
  { says: 'the Hugging Face token, the tools’ and remote providers’ keys', entries: ['hf-token', 'tool-secrets.json', 'provider-secrets.json'] },
  { says: 'the logs, the window’s size and the updater’s state', entries: ['logs', 'window.json', 'updater'] },
];

/** scope 'threads': what goes (live; nothing else changes). */
const ERASED_THREADS: readonly string[] = [
  'every saved chat: its messages, its attached images and documents (unless an open temporary chat uses them) and its saved conversation cache',
  'the images and documents of chats deleted before, kept 30 days so that a backup restored finds them',
];

/** What an erase of `scope` deletes, one line each, and what it keeps, one sentence: the confirmation's text (the Data page). */
export function eraseSummary(scope: EraseScope): { goes: string[]; stays: string; restarts: boolean } {
  if (scope === 'threads') {
    return {
      goes: [...ERASED_THREADS],
      stays: 'Assistants, settings, backups and models stay. The backups still hold these chats\' text: restoring one brings them back without their images and documents.',
      restarts: false,
    };
  }
  return { goes: ERASED_EVERYTHING.map((i) => i.says), stays: 'The models stay (their files and folder are not touched).', restarts: true };
}
