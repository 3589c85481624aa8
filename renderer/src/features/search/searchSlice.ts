/** Full-text search over chats: the query, its hits (latest query wins) and the status. */
import { createSlice, PayloadAction } from '@reduxjs/toolkit';
import type { SearchHit } from '../../../../main/ipc/contract';
import { call } from '../../app/bridge';
import { toErrorInfo } from '../../app/errors';
import type { RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';

export interface SearchState {
  query: string;
  hits: SearchHit[];
  status: 'idle' | 'loading' | 'ready' | 'error';
  error: string | null;
  /** requestId of the newest search; older answers are dropped */
  latest: string | null;
}

const initialState: SearchState = { query: '', hits: [], status: 'idle', error: null, latest: null };

export const runSearch = createAppAsyncThunk('search/query', async (q: string, { rejectWithValue }) => {
  try {
    return (await call('search.query', { q, limit: 30 })).hits;
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

const searchSlice = createSlice({
  name: 'search',
  initialState,
  reducers: {
    queryChanged(s, a: PayloadAction<string>) {
      s.query = a.payload;
      if (!a.payload.trim()) {
        s.hits = [];
        s.status = 'idle';
        s.error = null;
        s.latest = null;
      }
    },
    searchCleared() {
      return initialState;
    },
  },
  extraReducers: (b) => {
    b.addCase(runSearch.pending, (s, a) => {
      s.latest = a.meta.requestId;
      s.status = 'loading';
    })
      .addCase(runSearch.fulfilled, (s, a) => {
        if (s.latest !== a.meta.requestId) return;
        s.hits = a.payload;
        s.status = 'ready';
        s.error = null;
      })
      .addCase(runSearch.rejected, (s, a) => {
        if (s.latest !== a.meta.requestId) return;
        s.status = 'error';
        s.error = a.payload?.message ?? a.error.message ?? 'failed';
      });
  },
});

export const { queryChanged, searchCleared } = searchSlice.actions;
export default searchSlice.reducer;

export const selectSearch = (s: RootState) => s.search;
