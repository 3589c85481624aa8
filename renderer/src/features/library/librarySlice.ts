/**
 * The Library page's state: each model's files and header facts (library.facts, asked for by
 * ./listeners.ts while the page is shown), the delete being confirmed, and the import form's outcome.
 * Deleting, removing a reference and importing go through main (library.delete, library.removeReference,
 * library.import); the list itself is the models slice's, which models.changed keeps current.
 */
import { createSlice, PayloadAction, ThunkAction, UnknownAction } from '@reduxjs/toolkit';
import type { LibraryModelDTO, RequestOf, ResponseOf } from '../../../../main/ipc/contract';
import { call } from '../../app/bridge';
import { describeError, toErrorInfo } from '../../app/errors';
import type { RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';
import { openDialog, requestFocus, toastAdded } from '../../app/uiSlice';
import { modelSettingsPathChosen } from '../modelSettings/modelSettingsSlice';
import { fetchModels } from '../models/modelsSlice';

export type LibraryFacts = ResponseOf<'library.facts'>[number];
export type ImportMode = RequestOf<'library.import'>['mode'];

export interface LibraryState {
  /** path → its files and facts */
  facts: Record<string, LibraryFacts>;
  factsStatus: 'idle' | 'loading' | 'ready' | 'error';
  /** the model whose delete is being confirmed */
  confirmDelete: string | null;
  /** a delete or a removal under way: the model's path */
  busy: string | null;
  /** a failed delete or removal, in words, and the model */
  actionError: { path: string; text: string } | null;
  importing: boolean;
  /** main's refusal of the last import, in its words */
  importError: string | null;
  /** what the last import did */
  importNote: string | null;
  /** the import under way: bytes copied of the total (library.importProgress) */
  importProgress: { bytes: number; total: number } | null;
  /** the latest library.facts request: only its answer is kept */
  factsRequest: string | null;
}

const initialState: LibraryState = { facts: {}, factsStatus: 'idle', confirmDelete: null, busy: null, actionError: null, importing: false, importError: null, importNote: null, importProgress: null, factsRequest: null };

export const fetchLibraryFacts = createAppAsyncThunk('library/facts', async (_: void, { rejectWithValue }) => {
  try {
    return await call('library.facts', {});
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const deleteLibraryModel = createAppAsyncThunk('library/delete', async (path: string, { dispatch, rejectWithValue }) => {
  try {
    const r = await call('library.delete', { path });
    void dispatch(fetchModels());
    return r;
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const removeLibraryReference = createAppAsyncThunk('library/removeReference', async (path: string, { dispatch, getState, rejectWithValue }) => {
  const name = getState().models.list.find((m) => m.path === path)?.name ?? path;
  try {
    const r = await call('library.removeReference', { path });
    void dispatch(fetchModels());
    // the file stays where it is: say so (nothing to undo on disk)
    if (r.removed) dispatch(toastAdded({ kind: 'info', text: `${name} removed from the library; the file stays at ${path}` }));
    return r;
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const importLibraryFile = createAppAsyncThunk('library/import', async (arg: { path: string; mode: ImportMode }, { dispatch, rejectWithValue }) => {
  try {
    const r = await call('library.import', arg);
    void dispatch(fetchModels());
    return r;
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

/** "Load settings" on a model: Settings → Models, on that model. */
export function openLoadSettings(path: string): ThunkAction<void, RootState, unknown, UnknownAction> {
  return (dispatch) => {
    dispatch(modelSettingsPathChosen(path));
    dispatch(openDialog({ name: 'settings', section: 'models' }));
    dispatch(requestFocus('modelSetup'));
  };
}

const fileName = (p: string) => p.split(/[\\/]/).pop() ?? p;

const librarySlice = createSlice({
  name: 'library',
  initialState,
  reducers: {
    deleteAsked(s, a: PayloadAction<string>) {
      s.confirmDelete = a.payload;
      s.actionError = null;
    },
    deleteDismissed(s) {
      s.confirmDelete = null;
    },
    importProgressReceived(s, a: PayloadAction<{ bytes: number; total: number }>) {
      if (s.importing) s.importProgress = { bytes: a.payload.bytes, total: a.payload.total };
    },
    importMessagesCleared(s) {
      s.importError = null;
      s.importNote = null;
    },
  },
  extraReducers: (b) => {
    b.addCase(fetchLibraryFacts.pending, (s, a) => {
      s.factsStatus = 'loading';
      s.factsRequest = a.meta.requestId;
    })
      .addCase(fetchLibraryFacts.fulfilled, (s, a) => {
        // an older answer arriving after a newer request was made is stale
        if (a.meta.requestId !== s.factsRequest) return;
        s.facts = Object.fromEntries(a.payload.map((f) => [f.path, f]));
        s.factsStatus = 'ready';
      })
      .addCase(fetchLibraryFacts.rejected, (s, a) => {
        if (a.meta.requestId !== s.factsRequest) return;
        s.factsStatus = 'error';
      })
      .addCase(deleteLibraryModel.pending, (s, a) => {
        s.busy = a.meta.arg;
        s.confirmDelete = null;
        s.actionError = null;
      })
      .addCase(deleteLibraryModel.fulfilled, (s) => {
        s.busy = null;
      })
      .addCase(deleteLibraryModel.rejected, (s, a) => {
        s.busy = null;
        s.actionError = { path: a.meta.arg, text: a.payload ? describeError(a.payload) : 'Could not delete the model.' };
      })
      .addCase(removeLibraryReference.pending, (s, a) => {
        s.busy = a.meta.arg;
        s.actionError = null;
      })
      .addCase(removeLibraryReference.fulfilled, (s) => {
        s.busy = null;
      })
      .addCase(removeLibraryReference.rejected, (s, a) => {
        s.busy = null;
        s.actionError = { path: a.meta.arg, text: a.payload ? describeError(a.payload) : 'Could not remove the model from the library.' };
      })
      .addCase(importLibraryFile.pending, (s) => {
        s.importing = true;
        s.importProgress = null;
        s.importError = null;
        s.importNote = null;
      })
      .addCase(importLibraryFile.fulfilled, (s, a) => {
        s.importing = false;
        s.importProgress = null;
        const how = a.payload.mode === 'link' ? 'Added by reference' : a.payload.mode === 'move' ? 'Moved into the models folder' : 'Copied into the models folder';
        s.importNote = `${how}: ${fileName(a.payload.path)}`;
      })
      .addCase(importLibraryFile.rejected, (s, a) => {
        s.importing = false;
        s.importProgress = null;
        // main's reason as it gave it (the refusal names what is wrong with the file)
        s.importError = a.payload?.message ?? a.error.message ?? 'Could not import the file.';
      });
  },
});

export const { deleteAsked, deleteDismissed, importMessagesCleared, importProgressReceived } = librarySlice.actions;
export default librarySlice.reducer;

export const selectLibrary = (s: RootState) => s.library;
/** The models folder: <data folder>/models (main/paths.ts), known once app.info has come. */
export function selectModelsDir(s: RootState): string | null {
  const dataDir = s.settings.info?.dataDir;
  if (!dataDir) return null;
  return `${dataDir}${dataDir.includes('\\') ? '\\' : '/'}models`;
}

/** Where a model comes from, in words. */
export function whereFrom(m: LibraryModelDTO): string {
  if (m.origin === 'folder') return 'Models folder';
  const words: Record<NonNullable<LibraryModelDTO['source']>, string> = { lmstudio: 'LM Studio', ollama: 'Ollama', jan: 'Jan', gpt4all: 'GPT4All', file: 'A file (by reference)' };
  return m.source ? words[m.source] : 'A file (by reference)';
}
