/**
 * The thread list: entities from threads.list and the threads.changed / threads.deleted events,
 * the selected thread (null = the new-chat screen), and deletes waiting out their undo window.
 */
import { createEntityAdapter, createSelector, createSlice, EntityState, PayloadAction } from '@reduxjs/toolkit';
import type { ThreadDTO } from '../../../../main/ipc/contract';
import { call } from '../../app/bridge';
import { describeError, toErrorInfo } from '../../app/errors';
import type { AppDispatch, RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';
import { requestFocus, toastAdded, toastRemoved } from '../../app/uiSlice';
import { PausableTimer, realClock, TimerClock } from './undoTimer';

export const threadsAdapter = createEntityAdapter<ThreadDTO>();

export interface ThreadsState extends EntityState<ThreadDTO, string> {
  selectedId: string | null;
  /** deleted in the UI, waiting for the undo toast to expire before threads.delete is called */
  pendingDelete: string[];
  nextCursor: string | null;
  status: 'idle' | 'loading' | 'ready' | 'error';
  error: string | null;
}

const initialState: ThreadsState = threadsAdapter.getInitialState({
  selectedId: null,
  pendingDelete: [],
  nextCursor: null,
  status: 'idle',
  error: null,
});

export const fetchThreads = createAppAsyncThunk('threads/fetch', async (arg: { more?: boolean } | undefined, { getState, rejectWithValue }) => {
  try {
    const cursor = arg?.more ? getState().threads.nextCursor ?? undefined : undefined;
    return await call('threads.list', { limit: 100, ...(cursor ? { cursor } : {}) });
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const createThread = createAppAsyncThunk('threads/create', async (arg: { assistantId?: string; modelPath?: string }, { rejectWithValue }) => {
  try {
    return await call('threads.create', arg);
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const renameThread = createAppAsyncThunk('threads/rename', async (arg: { id: string; title: string }, { rejectWithValue, dispatch }) => {
  try {
    return await call('threads.rename', arg);
  } catch (e) {
    const err = toErrorInfo(e);
    dispatch(toastAdded({ kind: 'error', text: `Could not rename the chat: ${err.message}` }));
    return rejectWithValue(err);
  }
});

export const pinThread = createAppAsyncThunk('threads/pin', async (arg: { id: string; pinned: boolean }, { rejectWithValue, dispatch }) => {
  try {
    return await call('threads.pin', arg);
  } catch (e) {
    const err = toErrorInfo(e);
    dispatch(toastAdded({ kind: 'error', text: `Could not ${arg.pinned ? 'pin' : 'unpin'} the chat: ${err.message}` }));
    return rejectWithValue(err);
  }
});

/**
 * Switches a chat's model (a local model's path, or a remote model's ref): shown at once in the
 * header; put back when main refuses (with a toast saying why).
 */
export const setThreadModel = createAppAsyncThunk('threads/setModel', async (arg: { id: string; model: string }, { getState, rejectWithValue, dispatch }) => {
  const before = getState().threads.entities[arg.id];
  if (before) dispatch(threadsSlice.actions.threadUpserted({ ...before, modelPath: arg.model }));
  try {
    return await call('threads.setModel', arg);
  } catch (e) {
    const err = toErrorInfo(e);
    const now = getState().threads.entities[arg.id];
    if (before && now?.modelPath === arg.model) dispatch(threadsSlice.actions.threadUpserted({ ...now, modelPath: before.modelPath }));
    dispatch(toastAdded({ kind: 'error', text: `Could not switch the chat's model: ${describeError(err)}` }));
    return rejectWithValue(err);
  }
});

/** A chat's title as shown (an untitled chat is a "New chat"). */
export const titleOf = (t: Pick<ThreadDTO, 'title'>) => t.title.trim() || 'New chat';

/** How long the "Deleted “title” — Undo" toast stays (not counting while it is hovered or focused) before the delete is sent to main. */
export const UNDO_MS = 5000;
const deleteTimers = new Map<string, PausableTimer>();
const toastIdFor = (id: string) => `delete-${id}`;

/** Calls threads.delete now (the undo window is over). */
export const commitDelete = createAppAsyncThunk('threads/commitDelete', async (id: string, { dispatch, rejectWithValue }) => {
  deleteTimers.get(id)?.cancel();
  deleteTimers.delete(id);
  dispatch(toastRemoved(toastIdFor(id)));
  try {
    await call('threads.delete', { id });
    return id;
  } catch (e) {
    const err = toErrorInfo(e);
    if (err.code === 'not_found') return id; // already gone
    dispatch(toastAdded({ kind: 'error', text: `Could not delete the chat: ${err.message}` }));
    return rejectWithValue(err);
  }
});

/**
 * Removes the thread from the list at once and shows an undo toast naming it; main is told when the
 * undo window (UNDO_MS, on `clock`) is over.
 */
export function deleteWithUndo(id: string, opts: { byKeyboard?: boolean; clock?: TimerClock } = {}) {
  const { byKeyboard = false, clock = realClock } = opts;
  return (dispatch: AppDispatch, getState: () => RootState) => {
    const thread = getState().threads.entities[id];
    if (!thread || deleteTimers.has(id)) return;
    dispatch(threadsSlice.actions.hidden(id));
    dispatch(toastAdded({ id: toastIdFor(id), kind: 'info', text: `Deleted “${titleOf(thread)}”`, action: { type: 'undoDelete', threadId: id, label: 'Undo' } }));
    // deleted from the keyboard, the Delete button is gone: focus goes to Undo, reachable at once
    // (focus there holds the window, Toasts.tsx; with the mouse the pointer decides, so focus stays put)
    if (byKeyboard) dispatch(requestFocus('toastAction', toastIdFor(id)));
    deleteTimers.set(id, new PausableTimer(UNDO_MS, () => void dispatch(commitDelete(id)), clock));
  };
}

/** Holds (true) or lets run again (false) a deleted chat's undo window: its toast is hovered or focused. */
export function holdDelete(id: string, hold: boolean) {
  return () => {
    const timer = deleteTimers.get(id);
    if (hold) timer?.pause();
    else timer?.resume();
  };
}

export function undoDelete(id: string) {
  return (dispatch: AppDispatch) => {
    deleteTimers.get(id)?.cancel();
    deleteTimers.delete(id);
    dispatch(toastRemoved(toastIdFor(id)));
    dispatch(threadsSlice.actions.unhidden(id));
    dispatch(requestFocus('thread', id)); // the Undo button is gone: focus goes to the chat it brought back
  };
}

/** Sends every delete still waiting (the page is going away). */
export function flushPendingDeletes() {
  return (dispatch: AppDispatch) => {
    for (const id of [...deleteTimers.keys()]) void dispatch(commitDelete(id));
  };
}

const threadsSlice = createSlice({
  name: 'threads',
  initialState,
  reducers: {
    threadSelected(state, a: PayloadAction<string | null>) {
      state.selectedId = a.payload;
    },
    threadUpserted(state, a: PayloadAction<ThreadDTO>) {
      threadsAdapter.upsertOne(state, a.payload);
    },
    threadRemoved(state, a: PayloadAction<string>) {
      threadsAdapter.removeOne(state, a.payload);
      state.pendingDelete = state.pendingDelete.filter((id) => id !== a.payload);
      if (state.selectedId === a.payload) state.selectedId = null;
    },
    hidden(state, a: PayloadAction<string>) {
      if (!state.pendingDelete.includes(a.payload)) state.pendingDelete.push(a.payload);
      if (state.selectedId === a.payload) state.selectedId = null;
    },
    unhidden(state, a: PayloadAction<string>) {
      state.pendingDelete = state.pendingDelete.filter((id) => id !== a.payload);
    },
  },
  extraReducers: (b) => {
    b.addCase(fetchThreads.pending, (state) => {
      state.status = 'loading';
    })
      .addCase(fetchThreads.fulfilled, (state, a) => {
        if (a.meta.arg?.more) threadsAdapter.upsertMany(state, a.payload.threads);
        else threadsAdapter.setAll(state, a.payload.threads);
        state.nextCursor = a.payload.nextCursor;
        state.status = 'ready';
        state.error = null;
      })
      .addCase(fetchThreads.rejected, (state, a) => {
        state.status = 'error';
        state.error = a.payload?.message ?? a.error.message ?? 'failed';
      })
      .addCase(createThread.fulfilled, (state, a) => {
        threadsAdapter.upsertOne(state, a.payload);
        state.selectedId = a.payload.id;
      })
      .addCase(setThreadModel.fulfilled, (state, a) => {
        threadsAdapter.upsertOne(state, a.payload);
      })
      .addCase(renameThread.fulfilled, (state, a) => {
        threadsAdapter.upsertOne(state, a.payload);
      })
      .addCase(pinThread.pending, (state, a) => {
        // optimistic: the list reorders at once
        const t = state.entities[a.meta.arg.id];
        if (t) t.pinned = a.meta.arg.pinned;
      })
      .addCase(pinThread.fulfilled, (state, a) => {
        threadsAdapter.upsertOne(state, a.payload);
      })
      .addCase(pinThread.rejected, (state, a) => {
        const t = state.entities[a.meta.arg.id];
        if (t) t.pinned = !a.meta.arg.pinned;
      })
      .addCase(commitDelete.fulfilled, (state, a) => {
        threadsAdapter.removeOne(state, a.payload);
        state.pendingDelete = state.pendingDelete.filter((id) => id !== a.payload);
      })
      .addCase(commitDelete.rejected, (state, a) => {
        state.pendingDelete = state.pendingDelete.filter((id) => id !== a.meta.arg);
      });
  },
});

export const { threadSelected, threadUpserted, threadRemoved } = threadsSlice.actions;
export default threadsSlice.reducer;

// ---- selectors ---------------------------------------------------------------------------------

const adapterSelectors = threadsAdapter.getSelectors((s: RootState) => s.threads);
export const selectThreadById = adapterSelectors.selectById;
export const selectSelectedThreadId = (s: RootState) => s.threads.selectedId;
export const selectSelectedThread = (s: RootState) => (s.threads.selectedId ? s.threads.entities[s.threads.selectedId] ?? null : null);

/** Pinned first, then most recently updated; archived, temporary and pending-delete threads left out. */
export function sortThreads(threads: readonly ThreadDTO[]): ThreadDTO[] {
  return [...threads].sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.updatedAt - a.updatedAt || a.id.localeCompare(b.id));
}

export const selectVisibleThreads = createSelector([adapterSelectors.selectAll, (s: RootState) => s.threads.pendingDelete], (all, pending) =>
  sortThreads(all.filter((t) => !t.archived && !t.temporary && !pending.includes(t.id))),
);
