/**
 * The download manager's queue as main reports it (downloads.list, then the downloads.changed and
 * downloads.progress events), and the actions on it: add a hub file, pause, resume, cancel.
 */
import { createSlice, PayloadAction, createSelector } from '@reduxjs/toolkit';
import type { DownloadDTO, EventOf, RequestOf } from '../../../../main/ipc/contract';
import { call } from '../../app/bridge';
import { ErrorInfo, toErrorInfo } from '../../app/errors';
import type { RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';

export interface DownloadsState {
  /** main's list, in queue order, with the latest progress applied */
  list: DownloadDTO[];
  /** the last error of an action on the queue (add, pause, resume, cancel), in main's words */
  error: ErrorInfo | null;
  /** files that finished while the page was open: id → path in the models folder */
  finished: Record<string, string>;
}

const initialState: DownloadsState = { list: [], error: null, finished: {} };

const act = <C extends 'downloads.add' | 'downloads.pause' | 'downloads.resume' | 'downloads.cancel'>(channel: C) =>
  createAppAsyncThunk(channel, async (req: RequestOf<C>, { rejectWithValue }) => {
    try {
      return await call(channel, req);
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  });

export const fetchDownloads = createAppAsyncThunk('downloads/list', async (_: void, { rejectWithValue }) => {
  try {
    return await call('downloads.list', {});
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});
export const addDownload = act('downloads.add');
export const pauseDownload = act('downloads.pause');
export const resumeDownload = act('downloads.resume');
export const cancelDownload = act('downloads.cancel');

/** one download's row replaced or added */
function put(s: DownloadsState, d: DownloadDTO): void {
  const i = s.list.findIndex((x) => x.id === d.id);
  if (i >= 0) s.list[i] = d;
  else s.list.push(d);
}

const downloadsSlice = createSlice({
  name: 'downloads',
  initialState,
  reducers: {
    downloadsChanged(s, a: PayloadAction<EventOf<'downloads.changed'>>) {
      s.list = a.payload.downloads;
      if (a.payload.done) s.finished[a.payload.done.id] = a.payload.done.path;
    },
    downloadProgress(s, a: PayloadAction<EventOf<'downloads.progress'>>) {
      const d = s.list.find((x) => x.id === a.payload.id);
      if (!d) return;
      Object.assign(d, { bytes: a.payload.bytes, size: a.payload.size, speed: a.payload.speed, etaSeconds: a.payload.etaSeconds });
    },
    downloadErrorDismissed(s) {
      s.error = null;
    },
  },
  extraReducers: (b) => {
    b.addCase(fetchDownloads.fulfilled, (s, a) => {
      s.list = a.payload;
    });
    for (const t of [addDownload, pauseDownload, resumeDownload]) {
      b.addCase(t.fulfilled, (s, a) => {
        s.error = null;
        put(s, a.payload);
      });
    }
    b.addCase(cancelDownload.fulfilled, (s, a) => {
      s.error = null;
      s.list = s.list.filter((d) => d.id !== a.meta.arg.id);
    });
    for (const t of [fetchDownloads, addDownload, pauseDownload, resumeDownload, cancelDownload]) {
      b.addCase(t.rejected, (s, a) => {
        s.error = a.payload ?? { code: 'internal', message: a.error.message ?? 'failed' };
      });
    }
  },
});

export const { downloadsChanged, downloadProgress, downloadErrorDismissed } = downloadsSlice.actions;

/** downloads still under way or waiting (what the header's button counts) */
/** The downloads not yet finished, failed or cancelled (memoized: the same array while the list is the same). */
export const selectActiveDownloads = createSelector([(s: RootState) => s.downloads.list], (list): DownloadDTO[] =>
  list.filter((d) => d.state === 'queued' || d.state === 'downloading' || d.state === 'verifying' || d.state === 'paused'));
/** the download of a repository's file, if there is one */
export const selectDownloadOf = (s: RootState, repo: string, file: string): DownloadDTO | undefined => s.downloads.list.find((d) => d.repo === repo && d.file === file);

export default downloadsSlice.reducer;
