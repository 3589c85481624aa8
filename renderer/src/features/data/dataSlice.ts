/**
 * Settings → Data as the renderer holds it: an import of another app's chats (a file sent to main in
 * pieces, main's preview of it, then the import with progress, or its cancel), the backups main
 * keeps, the data folder (and a move of it under way), the files set aside and the restart main announced (app.restarting:
 * the window shows "Restarting…" until main answers again). The thunks that ask main are in
 * ./thunks.ts; what follows an action (the restart's polling) is in ./listeners.ts.
 */
import { createSlice, isAnyOf, PayloadAction } from '@reduxjs/toolkit';
import type { BackupsDTO, DataFolderDTO, EventOf, ImportFormatChoice, ImportPreviewDTO, ImportProgressDTO, StrayDTO } from '../../../../main/ipc/contract';
import type { RootState } from '../../app/store';
import { errorWords } from '../../app/thunk';
import {
  createBackup,
  deleteBackup,
  emptyStray,
  eraseData,
  exportChats,
  leftOutWords,
  fetchBackups,
  fetchDataFolder,
  fetchStray,
  importCancelled,
  importFile,
  moveDataFolder,
  restoreBackup,
  saveBackupSettings,
  startImport,
  uploadFinished,
  uploadProgressed,
} from './thunks';

/**
 * An import's steps: idle → uploading (bytes of total sent) → previewing (main reads the file) →
 * previewed (what an import adds) → running (progress) → done, cancelled or failed.
 */
export const IMPORT_PHASES = ['idle', 'uploading', 'previewing', 'previewed', 'running', 'done', 'cancelled', 'failed'] as const;
export type ImportPhase = (typeof IMPORT_PHASES)[number];

export interface ImportState {
  phase: ImportPhase;
  /** the file's name */
  name: string | null;
  from: ImportFormatChoice;
  /** the upload: bytes sent of the file's size */
  sent: number;
  size: number;
  preview: ImportPreviewDTO | null;
  progress: ImportProgressDTO | null;
  /** why it failed (phase failed), in words */
  error: string | null;
}

export interface DataState {
  import: ImportState;
  backups: BackupsDTO | null;
  backupsError: string | null;
  /** a backup made, its settings saved, one deleted or restored: one at a time */
  backupBusy: boolean;
  backupError: string | null;
  folder: DataFolderDTO | null;
  /** the images and documents of deleted chats set aside; whether they are being deleted, and the last outcome in words */
  stray: StrayDTO | null;
  /** the last request for `stray` (a list or a deletion): an older one's answer is not shown over it */
  strayRequest: string | null;
  strayBusy: boolean;
  strayNote: { kind: 'done' | 'failed'; text: string } | null;
  /** the data folder's move: null, or under way with main's progress, or its refusal */
  move: { state: 'moving' | 'failed'; bytes: number; total: number; file: string | null; error: string | null } | null;
  /** an export or an erase under way, and the last one's outcome in words */
  exporting: boolean;
  exportNote: { kind: 'done' | 'failed'; text: string } | null;
  erasing: boolean;
  eraseNote: { kind: 'done' | 'failed'; text: string } | null;
  /** main said it restarts (app.restarting): why; null when it does not */
  restarting: string | null;
}

const idleImport: ImportState = { phase: 'idle', name: null, from: 'auto', sent: 0, size: 0, preview: null, progress: null, error: null };

const initialState: DataState = {
  import: idleImport,
  backups: null,
  backupsError: null,
  backupBusy: false,
  backupError: null,
  folder: null,
  stray: null,
  strayRequest: null,
  strayBusy: false,
  strayNote: null,
  move: null,
  exporting: false,
  exportNote: null,
  erasing: false,
  eraseNote: null,
  restarting: null,
};

const FINAL: readonly ImportProgressDTO['state'][] = ['done', 'cancelled', 'failed'];

function applyProgress(s: DataState, p: ImportProgressDTO): void {
  const imp = s.import;
  if (!imp.preview || imp.preview.jobId !== p.jobId) return;
  // a late piece of progress does not undo the end (the event and the answer may cross)
  if (imp.progress && FINAL.includes(imp.progress.state) && !FINAL.includes(p.state)) return;
  imp.progress = p;
  imp.phase = p.state === 'previewed' ? 'running' : p.state;
  imp.error = p.state === 'failed' ? p.error ?? 'The import failed.' : null;
}

const dataSlice = createSlice({
  name: 'data',
  initialState,
  reducers: {
    importProgressReceived(s, a: PayloadAction<ImportProgressDTO>) {
      applyProgress(s, a.payload);
    },
    /** back to choosing a file (after an outcome, or a preview not wanted) */
    importReset(s) {
      s.import = idleImport;
    },
    moveProgressReceived(s, a: PayloadAction<EventOf<'data.moveProgress'>>) {
      if (s.move?.state === 'moving') s.move = { ...s.move, ...a.payload };
    },
    appRestarting(s, a: PayloadAction<string>) {
      s.restarting = a.payload;
    },
  },
  extraReducers: (b) => {
    b.addCase(uploadProgressed, (s, a) => {
      if (s.import.phase === 'uploading') s.import.sent = a.payload;
    })
      .addCase(uploadFinished, (s) => {
        if (s.import.phase === 'uploading') s.import.phase = 'previewing';
      })
      .addCase(importFile.pending, (s, a) => {
      s.import = { ...idleImport, phase: 'uploading', name: a.meta.arg.file.name, from: a.meta.arg.from, size: a.meta.arg.file.size };
    })
      .addCase(importFile.fulfilled, (s, a) => {
        // null: cancelled while uploading (the state already says so)
        if (a.payload && s.import.phase === 'previewing') {
          s.import.phase = 'previewed';
          s.import.preview = a.payload;
        }
      })
      .addCase(importFile.rejected, (s, a) => {
        if (s.import.phase !== 'uploading' && s.import.phase !== 'previewing') return;
        s.import.phase = 'failed';
        s.import.error = errorWords(a.payload, 'The file could not be read.');
      })
      .addCase(startImport.pending, (s) => {
        if (s.import.phase !== 'previewed' || !s.import.preview) return;
        s.import.phase = 'running';
        const p = s.import.preview;
        s.import.progress = { jobId: p.jobId, state: 'running', done: 0, total: p.threads + p.duplicates, imported: 0, messages: 0, duplicates: 0, error: null };
      })
      .addCase(startImport.fulfilled, (s, a) => applyProgress(s, a.payload))
      .addCase(startImport.rejected, (s, a) => {
        if (s.import.phase !== 'running') return;
        s.import.phase = 'failed';
        s.import.error = errorWords(a.payload, 'The import failed.');
      })
      .addCase(importCancelled, (s) => {
        // an upload or a preview stops here; a running import says when it stopped (its progress)
        if (s.import.phase === 'uploading' || s.import.phase === 'previewing') s.import.phase = 'cancelled';
        else if (s.import.phase === 'previewed') s.import = idleImport;
      })
      .addCase(fetchBackups.fulfilled, (s, a) => {
        s.backups = a.payload;
        s.backupsError = null;
      })
      .addCase(fetchBackups.rejected, (s, a) => {
        s.backupsError = errorWords(a.payload, 'Could not list the backups.');
      })
      .addCase(fetchDataFolder.fulfilled, (s, a) => {
        s.folder = a.payload;
      })
      .addCase(fetchStray.pending, (s, a) => {
        // (a deletion under way answers with the count after it)
        if (!s.strayBusy) s.strayRequest = a.meta.requestId;
      })
      .addCase(fetchStray.fulfilled, (s, a) => {
        if (a.meta.requestId === s.strayRequest) s.stray = a.payload;
      })
      .addCase(emptyStray.pending, (s, a) => {
        s.strayRequest = a.meta.requestId;
        s.strayBusy = true;
        s.strayNote = null;
      })
      .addCase(emptyStray.fulfilled, (s, a) => {
        s.strayBusy = false;
        if (a.meta.requestId === s.strayRequest) s.stray = a.payload;
        s.strayNote = a.payload.files === 0
          ? { kind: 'done', text: 'Deleted.' }
          : { kind: 'failed', text: `${a.payload.files} ${a.payload.files === 1 ? 'file' : 'files'} could not be deleted (the log says why).` };
      })
      .addCase(emptyStray.rejected, (s, a) => {
        s.strayBusy = false;
        s.strayNote = { kind: 'failed', text: errorWords(a.payload, 'Nothing was deleted.') };
      })
      .addCase(moveDataFolder.pending, (s) => {
        s.move = { state: 'moving', bytes: 0, total: 0, file: null, error: null };
      })
      .addCase(moveDataFolder.rejected, (s, a) => {
        s.move = { state: 'failed', bytes: s.move?.bytes ?? 0, total: s.move?.total ?? 0, file: null, error: errorWords(a.payload, 'The data folder was not moved.') };
      })
      .addCase(exportChats.pending, (s) => {
        s.exporting = true;
        s.exportNote = null;
      })
      .addCase(exportChats.fulfilled, (s, a) => {
        s.exporting = false;
        const done = `Exported ${a.payload.threads} ${a.payload.threads === 1 ? 'chat' : 'chats'} to ${a.payload.fileName}.`;
        s.exportNote = { kind: 'done', text: a.payload.leftOutOnImport ? `${done} ${leftOutWords(a.payload.leftOutOnImport)}` : done };
      })
      .addCase(exportChats.rejected, (s, a) => {
        s.exporting = false;
        s.exportNote = { kind: 'failed', text: errorWords(a.payload, 'The export failed.') };
      })
      .addCase(eraseData.pending, (s) => {
        s.erasing = true;
        s.eraseNote = null;
      })
      .addCase(eraseData.fulfilled, (s, a) => {
        s.erasing = false;
        s.eraseNote = { kind: 'done', text: a.meta.arg === 'threads' ? 'Every chat was erased.' : 'Everything was erased.' };
      })
      .addCase(eraseData.rejected, (s, a) => {
        s.erasing = false;
        s.eraseNote = { kind: 'failed', text: errorWords(a.payload, 'Nothing was erased.') };
      })
      .addMatcher(isAnyOf(createBackup.pending, saveBackupSettings.pending, deleteBackup.pending, restoreBackup.pending), (s) => {
        s.backupBusy = true;
        s.backupError = null;
      })
      .addMatcher(isAnyOf(createBackup.fulfilled, saveBackupSettings.fulfilled, deleteBackup.fulfilled), (s, a) => {
        s.backupBusy = false;
        s.backups = a.payload;
      })
      .addMatcher(isAnyOf(restoreBackup.fulfilled), (s) => {
        s.backupBusy = false;
      })
      .addMatcher(isAnyOf(createBackup.rejected, saveBackupSettings.rejected, deleteBackup.rejected, restoreBackup.rejected), (s, a) => {
        s.backupBusy = false;
        s.backupError = errorWords(a.payload, 'Hearth refused the change.');
      });
  },
});

export const { importProgressReceived, importReset, moveProgressReceived, appRestarting } = dataSlice.actions;
export default dataSlice.reducer;

export const selectData = (s: RootState) => s.data;
export const selectImport = (s: RootState) => s.data.import;
export const selectRestarting = (s: RootState) => s.data.restarting;
/** Why a restore or a move cannot be done here (null: it can): main's data.folder says whether this app restarts itself. */
export const selectNoRestart = (s: RootState): string | null =>
  s.data.folder && !s.data.folder.canRestart ? 'Hearth cannot restart itself here, which this needs.' : null;
