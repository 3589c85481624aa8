/** The models in <data>/models/ and the engine's model state (loaded, loading with progress, error). */
import { createSelector, createSlice, PayloadAction } from '@reduxjs/toolkit';
import { loadableRole } from '../../../../main/params';
import type { LibraryModelDTO, ModelState } from '../../../../main/ipc/contract';
import { call } from '../../app/bridge';
import { describeError, toErrorInfo } from '../../app/errors';
import type { RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';

export interface ModelsState {
  /** the library (models.list, models.changed) */
  list: LibraryModelDTO[];
  listStatus: 'idle' | 'loading' | 'ready' | 'error';
  state: ModelState;
  /** an error from models.load / models.unload, in words, and the model it is about */
  error: { path: string | null; text: string } | null;
  /** the model main's error (state.error) is about: the one loading or loaded when main reported it */
  stateErrorPath: string | null;
  /** main's model error (state.error) the user dismissed: hidden until main reports another */
  dismissedStateError: string | null;
  /** the guardrail ("warn") asks before a load that may not fit: which model, and main's words */
  confirm: { path: string; message: string } | null;
}

const initialState: ModelsState = {
  list: [],
  listStatus: 'idle',
  state: { loaded: null, loading: null, error: null },
  error: null,
  stateErrorPath: null,
  dismissedStateError: null,
  confirm: null,
};

/**
 * main's model state arrived. A dismissed error of main's stays hidden only while main still reports
 * it. A failed load's or unload's error goes once it no longer applies: another model is loading, or a
 * model finished loading (another one, or this one after all).
 */
function stateReceived(s: ModelsState, state: ModelState): void {
  const before = s.state;
  if (state.error && state.error !== before.error) s.stateErrorPath = before.loading?.path ?? before.loaded?.path ?? null;
  if (!state.error) s.stateErrorPath = null;
  if (s.error) {
    const otherLoading = state.loading !== null && state.loading.path !== s.error.path;
    const newlyLoaded = state.loaded !== null && state.loaded.path !== before.loaded?.path;
    if (otherLoading || newlyLoaded) s.error = null;
  }
  s.state = state;
  if (state.error !== s.dismissedStateError) s.dismissedStateError = null;
}

/** An error about a model, naming its file: "tiny.gguf: …". */
function aboutModel(path: string | null, text: string): string {
  const file = path?.split(/[\\/]/).pop();
  return file ? `${file}: ${text}` : text;
}

/** A load: the path, or the path with force (the user said "Load anyway" to the guardrail). */
export type LoadArg = string | { path: string; force?: boolean };
const pathOf = (a: LoadArg) => (typeof a === 'string' ? a : a.path);

export const fetchModels = createAppAsyncThunk('models/list', async (_: void, { rejectWithValue }) => {
  try {
    return await call('models.list', {});
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const fetchModelState = createAppAsyncThunk('models/state', async (_: void, { rejectWithValue }) => {
  try {
    return await call('models.state', {});
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const loadModel = createAppAsyncThunk('models/load', async (arg: LoadArg, { rejectWithValue }) => {
  const path = pathOf(arg);
  const force = typeof arg !== 'string' && arg.force === true;
  try {
    return await call('models.load', force ? { path, force } : { path });
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const unloadModel = createAppAsyncThunk('models/unload', async (_: void, { rejectWithValue }) => {
  try {
    return await call('models.unload', {});
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

const modelsSlice = createSlice({
  name: 'models',
  initialState,
  reducers: {
    modelStateReceived(state, a: PayloadAction<ModelState>) {
      stateReceived(state, a.payload);
    },
    /** main's models.changed: the models folder changed; an error about a model no longer there goes with it */
    modelListReceived(state, a: PayloadAction<LibraryModelDTO[]>) {
      state.list = a.payload;
      state.listStatus = 'ready';
      const there = (p: string | null) => p === null || a.payload.some((m) => m.path === p);
      if (state.error && !there(state.error.path)) state.error = null;
    },
    /** "Dismiss" on the model error under the header */
    modelErrorDismissed(state) {
      state.error = null;
      state.dismissedStateError = state.state.error;
    },
    /** "Cancel" in the guardrail's dialog */
    loadConfirmDismissed(state) {
      state.confirm = null;
    },
  },
  extraReducers: (b) => {
    b.addCase(fetchModels.pending, (s) => {
      s.listStatus = 'loading';
    })
      .addCase(fetchModels.fulfilled, (s, a) => {
        s.list = a.payload;
        s.listStatus = 'ready';
      })
      .addCase(fetchModels.rejected, (s) => {
        s.listStatus = 'error';
      })
      .addCase(fetchModelState.fulfilled, (s, a) => {
        stateReceived(s, a.payload);
      })
      .addCase(loadModel.pending, (s, a) => {
        s.error = null;
        s.confirm = null;
        // show progress at once; models.state events take over from here (main may still refuse:
        // the guardrail answers before anything loads, and then the progress goes away again)
        const path = pathOf(a.meta.arg);
        if (s.state.loaded?.path !== path) s.state.loading = { path, progress: 0 };
      })
      .addCase(loadModel.fulfilled, (s, a) => {
        stateReceived(s, a.payload);
      })
      .addCase(loadModel.rejected, (s, a) => {
        const path = pathOf(a.meta.arg);
        if (s.state.loading?.path === path) s.state.loading = null;
        if (a.payload?.code === 'needs_confirmation') {
          s.confirm = { path, message: a.payload.message };
          return;
        }
        s.error = { path, text: a.payload ? describeError(a.payload) : a.error.message ?? 'Could not load the model.' };
      })
      .addCase(unloadModel.pending, (s) => {
        s.error = null;
      })
      .addCase(unloadModel.fulfilled, (s, a) => {
        stateReceived(s, a.payload);
      })
      .addCase(unloadModel.rejected, (s, a) => {
        s.error = { path: s.state.loaded?.path ?? null, text: a.payload ? describeError(a.payload) : 'Could not unload the model.' };
      });
  },
});

export const { modelStateReceived, modelListReceived, loadConfirmDismissed, modelErrorDismissed } = modelsSlice.actions;
export default modelsSlice.reducer;

/** Every file of the library (the Library page lists projectors and adapters too). */
export const selectModels = (s: RootState) => s.models.list;
/** The library's models to load: not the projectors and adapters that go with one (FILE_ROLES). */
export const selectLoadableModels = createSelector([selectModels], (list) => list.filter((m) => loadableRole(m.role)));
export const selectModelState = (s: RootState) => s.models.state;
/** The model error to show, naming the model's file: the last failed load or unload, else main's (unless dismissed). */
export function selectModelError(s: RootState): string | null {
  const m = s.models;
  if (m.error) return aboutModel(m.error.path, m.error.text);
  return m.state.error !== null && m.state.error !== m.dismissedStateError ? aboutModel(m.stateErrorPath, m.state.error) : null;
}

/**
 * The model a new chat should use without asking: the loaded (or loading) one, else the default
 * model of the settings (while it is in the list), else the only model present. Null when there is a
 * choice to make (several models, none loaded, no default) or nothing to use.
 */
export function selectDefaultModelPath(s: RootState): string | null {
  const st = s.models.state;
  if (st.loaded) return st.loaded.path;
  if (st.loading) return st.loading.path;
  const preferred = s.settings.settings?.defaultModel;
  if (preferred && s.models.list.some((m) => m.path === preferred)) return preferred;
  if (s.models.list.length === 1) return s.models.list[0].path;
  return null;
}
