/** The models in <data>/models/ and the engine's model state (loaded, loading with progress, error). */
import { createSlice, PayloadAction } from '@reduxjs/toolkit';
import type { ModelDTO, ModelState } from '../../../../main/ipc/contract';
import { call } from '../../app/bridge';
import { describeError, toErrorInfo } from '../../app/errors';
import type { RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';

export interface ModelsState {
  list: ModelDTO[];
  listStatus: 'idle' | 'loading' | 'ready' | 'error';
  state: ModelState;
  /** an error from models.load / models.unload, in words */
  error: string | null;
}

const initialState: ModelsState = {
  list: [],
  listStatus: 'idle',
  state: { loaded: null, loading: null, error: null },
  error: null,
};

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

export const loadModel = createAppAsyncThunk('models/load', async (path: string, { rejectWithValue }) => {
  try {
    return await call('models.load', { path });
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
      state.state = a.payload;
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
        s.state = a.payload;
      })
      .addCase(loadModel.pending, (s, a) => {
        s.error = null;
        // show progress at once; models.state events take over from here
        if (s.state.loaded?.path !== a.meta.arg) s.state.loading = { path: a.meta.arg, progress: 0 };
      })
      .addCase(loadModel.fulfilled, (s, a) => {
        s.state = a.payload;
      })
      .addCase(loadModel.rejected, (s, a) => {
        if (s.state.loading?.path === a.meta.arg) s.state.loading = null;
        s.error = a.payload ? describeError(a.payload) : a.error.message ?? 'Could not load the model.';
      })
      .addCase(unloadModel.pending, (s) => {
        s.error = null;
      })
      .addCase(unloadModel.fulfilled, (s, a) => {
        s.state = a.payload;
      })
      .addCase(unloadModel.rejected, (s, a) => {
        s.error = a.payload ? describeError(a.payload) : 'Could not unload the model.';
      });
  },
});

export const { modelStateReceived } = modelsSlice.actions;
export default modelsSlice.reducer;

export const selectModels = (s: RootState) => s.models.list;
export const selectModelState = (s: RootState) => s.models.state;

/**
 * The model a new chat should use without asking: the loaded (or loading) one, else the only model
 * present. Null when there is a choice to make (several models, none loaded) or nothing to use.
 */
export function selectDefaultModelPath(s: RootState): string | null {
  const st = s.models.state;
  if (st.loaded) return st.loaded.path;
  if (st.loading) return st.loading.path;
  if (s.models.list.length === 1) return s.models.list[0].path;
  return null;
}
