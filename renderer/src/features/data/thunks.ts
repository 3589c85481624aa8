/**
 * Settings → Data's requests to main: a file sent in pieces (file.slice: a 2 GB export is never read
 * whole), its preview, the import and its cancel; an export handed to the browser as a download;
 * the backups, the data folder's move and the erase.
 */
import { createAction, ThunkAction, UnknownAction } from '@reduxjs/toolkit';
import { IMPORT_MAX_BYTES, STRAY_KEEP_REFS, UPLOAD_CHUNK_BYTES, type Channel, type ERASE_SCOPES, type EXPORT_FORMATS, type ImportFormatChoice, type RequestOf } from '../../../../main/ipc/contract';
import { call } from '../../app/bridge';
import { toErrorInfo } from '../../app/errors';
import { readBase64 } from '../../app/read-file';
import type { RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';
import { fetchAssistants } from '../assistants/assistantsSlice';
import { fetchSettings } from '../settings/settingsSlice';
import { fetchThreads, threadSelected } from '../threads/threadsSlice';
import { blobOf, page } from './page';

/** bytes of the file main has so far */
export const uploadProgressed = createAction<number>('data/uploadProgressed');
/** the whole file reached main: main reads it for the preview */
export const uploadFinished = createAction('data/uploadFinished');
/** the user cancelled the import (an upload or a preview stops here; a running import when main says so) */
export const importCancelled = createAction('data/importCancelled');

/** A thunk that asks main one thing (its refusal as an ErrorInfo). */
function ask<C extends Channel, A = RequestOf<C>>(type: string, channel: C, toRequest: (arg: A) => RequestOf<C> = (a) => a as unknown as RequestOf<C>) {
  return createAppAsyncThunk(type, async (arg: A, { rejectWithValue }) => {
    try {
      return await call(channel, toRequest(arg));
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  });
}

/** The file's name as data.import.upload takes it (its end kept: the extension tells a zip). */
const uploadName = (name: string) => (name.trim() ? name.trim().slice(-300) : 'import');

/** An import's phases during which another file is refused (one import at a time). */
export const IMPORT_BUSY: readonly string[] = ['uploading', 'previewing', 'running'];

const stillUploading = (s: RootState) => s.data.import.phase === 'uploading';

/**
 * Sends `file` to main in pieces of UPLOAD_CHUNK_BYTES (base64), then asks for its preview.
 * Resolves null when the user cancelled on the way (a preview already made is cancelled with main).
 */
export const importFile = createAppAsyncThunk('data/importFile', async ({ file, from }: { file: File; from: ImportFormatChoice }, { dispatch, getState, rejectWithValue }) => {
  try {
    if (file.size > IMPORT_MAX_BYTES) throw { code: 'invalid_input', message: `${file.name} is larger than 2 GB` };
    let uploadId: string | undefined;
    let offset = 0;
    do {
      if (!stillUploading(getState())) return null;
      const piece = file.slice(offset, offset + UPLOAD_CHUNK_BYTES);
      const chunk = await readBase64(piece);
      const last = offset + piece.size >= file.size;
      const r = await call('data.import.upload', { ...(uploadId ? { uploadId } : {}), name: uploadName(file.name), offset, chunk, last });
      uploadId = r.uploadId;
      offset += piece.size;
      dispatch(uploadProgressed(offset));
    } while (offset < file.size);
    if (!stillUploading(getState()) || !uploadId) return null;
    dispatch(uploadFinished());
    const preview = await call('data.import.preview', { source: { upload: uploadId }, from });
    if (getState().data.import.phase !== 'previewing') {
      await call('data.import.cancel', { jobId: preview.jobId }).catch(() => undefined);
      return null;
    }
    return preview;
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
}, { condition: (_arg, { getState }) => !IMPORT_BUSY.includes(getState().data.import.phase) });

/** Imports what the preview read (data.importProgress events as it goes; the answer is its outcome or its start). */
export const startImport = createAppAsyncThunk('data/startImport', async (jobId: string, { rejectWithValue }) => {
  try {
    return await call('data.import.start', { jobId });
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

const sendImportCancel = ask<'data.import.cancel', string>('data/cancelImport', 'data.import.cancel', (jobId) => ({ jobId }));

/** Cancel: an upload stops sending, a preview is dropped, a running import is stopped by main. */
export function cancelImport(): ThunkAction<void, RootState, undefined, UnknownAction> {
  return (dispatch, getState) => {
    const imp = getState().data.import;
    const jobId = imp.preview?.jobId;
    dispatch(importCancelled());
    if (jobId && (imp.phase === 'previewed' || imp.phase === 'running')) void dispatch(sendImportCancel(jobId));
  };
}

/** The export formats' names (the Data page's choice, a chat's Export menu). */
export const EXPORT_FORMAT_NAMES: Record<(typeof EXPORT_FORMATS)[number], string> = { md: 'Markdown', json: 'Hearth JSON' };

/** What an export says of the chats in it that an import would leave out (ExportFileDTO.leftOutOnImport). */
export function leftOutWords(l: { count: number; chats: { title: string; reason: string }[] }): string {
  const named = l.chats.map((c) => `"${c.title || 'Untitled chat'}": ${c.reason}`).join('; ');
  const more = l.count > l.chats.length ? `; and ${l.count - l.chats.length} more` : '';
  const which = l.count === 1 ? 'One chat in the file' : `${l.count} chats in the file`;
  return `${which} would be left out by an import (${named}${more}). A Markdown export keeps ${l.count === 1 ? 'it' : 'them'} readable.`;
}

/** Exports chats (threadIds null: all of them) and hands the file to the browser as a download. */
export const exportChats = createAppAsyncThunk(
  'data/export',
  async (req: { threadIds: string[] | null; format: (typeof EXPORT_FORMATS)[number] }, { rejectWithValue }) => {
    try {
      const file = await call('data.export', req);
      page.download(file.fileName, blobOf(file));
      return { fileName: file.fileName, threads: file.threads, leftOutOnImport: file.leftOutOnImport ?? null };
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  },
);

export const fetchBackups = ask<'data.backups.list', void>('data/backups', 'data.backups.list', () => ({}));
export const createBackup = ask<'data.backups.create', void>('data/backupNow', 'data.backups.create', () => ({}));
export const saveBackupSettings = ask<'data.backups.settings'>('data/backupSettings', 'data.backups.settings');
export const deleteBackup = ask<'data.backups.delete', string>('data/deleteBackup', 'data.backups.delete', (name) => ({ name }));
/** Restores a backup: main backs the current data up first, then restarts (app.restarting). */
export const restoreBackup = ask<'data.backups.restore', string>('data/restoreBackup', 'data.backups.restore', (name) => ({ name }));
export const fetchDataFolder = ask<'data.folder', void>('data/folder', 'data.folder', () => ({}));
/** The images and documents set aside (of deleted chats), and deleting them now. */
/** The files this page's message boxes hold and have not sent (images, documents; edit boxes' too): kept when the set-aside files go. */
export function heldFileRefs(s: RootState): string[] {
  const refs = new Set<string>();
  for (const box of Object.values(s.images.attached)) for (const i of box) if (i.attachment) refs.add(i.attachment.ref);
  for (const box of Object.values(s.docs.attached)) for (const d of box) if (d.attachment) refs.add(d.attachment.ref);
  return [...refs].slice(0, STRAY_KEEP_REFS);
}
/** Asks main for the set-aside files (`data.stray`) or deletes them (`data.stray.empty`), keeping what this page's boxes hold. */
function askStray(type: string, channel: 'data.stray' | 'data.stray.empty') {
  return createAppAsyncThunk(type, async (_: void, { getState, rejectWithValue }) => {
    try {
      return await call(channel, { keep: heldFileRefs(getState()) });
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  });
}
export const fetchStray = askStray('data/stray', 'data.stray');
export const emptyStray = askStray('data/emptyStray', 'data.stray.empty');
/** Moves the data folder (data.moveProgress as it goes); main restarts there (app.restarting). */
export const moveDataFolder = ask<'data.move', string>('data/move', 'data.move', (to) => ({ to }));

/** Erases every chat, or everything; then the lists shown are asked again. */
export const eraseData = createAppAsyncThunk('data/erase', async (scope: (typeof ERASE_SCOPES)[number], { dispatch, rejectWithValue }) => {
  try {
    await call('data.erase', { scope });
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
  dispatch(threadSelected(null));
  void dispatch(fetchThreads());
  void dispatch(fetchStray());
  if (scope === 'everything') {
    void dispatch(fetchSettings());
    void dispatch(fetchAssistants());
    void dispatch(fetchBackups());
  }
});
