/**
 * The first-run view's state: the recommended models (hub.recommended), what discovery found in
 * other apps' folders (library.discover), and the models being added from there by reference
 * (library.addReference; models.changed then fills the library). Asked by the listeners
 * (./listeners.ts) when the view opens, or by a click ("Look again", "Add").
 */
import { createSlice } from '@reduxjs/toolkit';
import type { ResponseOf } from '../../../../main/ipc/contract';
import type { RecommendedModelDTO } from '../../../../main/ipc/models';
import { call } from '../../app/bridge';
import { ErrorInfo, toErrorInfo } from '../../app/errors';
import { createAppAsyncThunk } from '../../app/thunk';

export type Discovery = ResponseOf<'library.discover'>;
export type Status = 'idle' | 'loading' | 'ready' | 'error';

export interface WelcomeState {
  recommended: { status: Status; models: RecommendedModelDTO[]; error: ErrorInfo | null };
  discovery: { status: Status; result: Discovery | null; error: ErrorInfo | null };
  /** files being added by reference */
  adding: string[];
  /** the last add that failed: which file, and main's words */
  addError: { path: string; error: ErrorInfo } | null;
}

const initialState: WelcomeState = {
  recommended: { status: 'idle', models: [], error: null },
  discovery: { status: 'idle', result: null, error: null },
  adding: [],
  addError: null,
};

export const fetchRecommended = createAppAsyncThunk('welcome/recommended', async (_: void, { rejectWithValue }) => {
  try {
    return (await call('hub.recommended', {})).models;
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const runDiscovery = createAppAsyncThunk('welcome/discover', async (_: void, { rejectWithValue }) => {
  try {
    return await call('library.discover', {});
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

/** Adds a file discovery found (one of a model's locations) to the library, where it is. */
export const addDiscovered = createAppAsyncThunk('welcome/addReference', async (path: string, { rejectWithValue }) => {
  try {
    return await call('library.addReference', { path });
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

const welcomeSlice = createSlice({
  name: 'welcome',
  initialState,
  reducers: {
    /** the view was shown: the listeners ask for what it has not got yet */
    welcomeOpened() {},
    addErrorDismissed(s) {
      s.addError = null;
    },
  },
  extraReducers: (b) => {
    b.addCase(fetchRecommended.pending, (s) => {
      s.recommended.status = 'loading';
      s.recommended.error = null;
    });
    b.addCase(fetchRecommended.fulfilled, (s, a) => {
      s.recommended = { status: 'ready', models: a.payload, error: null };
    });
    b.addCase(fetchRecommended.rejected, (s, a) => {
      s.recommended.status = 'error';
      s.recommended.error = a.payload ?? { code: 'internal', message: a.error.message ?? 'failed' };
    });
    b.addCase(runDiscovery.pending, (s) => {
      s.discovery.status = 'loading';
      s.discovery.error = null;
    });
    b.addCase(runDiscovery.fulfilled, (s, a) => {
      s.discovery = { status: 'ready', result: a.payload, error: null };
    });
    b.addCase(runDiscovery.rejected, (s, a) => {
      s.discovery.status = 'error';
      s.discovery.error = a.payload ?? { code: 'internal', message: a.error.message ?? 'failed' };
    });
    b.addCase(addDiscovered.pending, (s, a) => {
      s.adding.push(a.meta.arg);
      s.addError = null;
    });
    b.addCase(addDiscovered.fulfilled, (s, a) => {
      s.adding = s.adding.filter((p) => p !== a.meta.arg);
      // the model of that file is in the library now
      for (const m of s.discovery.result?.models ?? []) if (m.locations.some((l) => l.path === a.meta.arg)) m.inLibrary = true;
    });
    b.addCase(addDiscovered.rejected, (s, a) => {
      s.adding = s.adding.filter((p) => p !== a.meta.arg);
      s.addError = { path: a.meta.arg, error: a.payload ?? { code: 'internal', message: a.error.message ?? 'failed' } };
    });
  },
});

export const { welcomeOpened, addErrorDismissed } = welcomeSlice.actions;

export default welcomeSlice.reducer;
