/**
 * The hub page's state: the search (query, author, sort) and its results; the repository shown
 * (null: the search) with its GGUF files by quantization; a fit verdict per file. The requests
 * follow the state in ./listeners.ts; the thunks here only ask main.
 */
import { createSlice, PayloadAction } from '@reduxjs/toolkit';
import { HUB_SORTS } from '../../../../main/ipc/models';
import type { RequestOf, ResponseOf } from '../../../../main/ipc/contract';
import { call } from '../../app/bridge';
import { ErrorInfo, toErrorInfo } from '../../app/errors';
import type { AppDispatch, RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';
import { pageShown } from '../../app/uiSlice';
import { openThread } from '../chat/chatSlice';
import { addDownload } from '../downloads/downloadsSlice';
import { loadModel } from '../models/modelsSlice';

export type HubSort = (typeof HUB_SORTS)[number];
export type HubModel = ResponseOf<'hub.search'>['models'][number];
export type HubFiles = ResponseOf<'hub.files'>;
export type HubQuantFile = HubFiles['groups'][number]['files'][number];
export type HubFit = ResponseOf<'hub.fit'>;

/** A file's verdict: being asked, known, or why not. */
export type FitEntry = { status: 'checking' } | { status: 'ready'; fit: HubFit } | { status: 'error'; error: ErrorInfo };

export interface HubState {
  query: string;
  /** the repositories' owner (empty: anyone) */
  author: string;
  sort: HubSort;
  results: HubModel[];
  searchStatus: 'idle' | 'loading' | 'ready' | 'error';
  searchError: ErrorInfo | null;
  /** requestId of the newest search; older answers are dropped */
  latestSearch: string | null;
  /** the repository (owner/name) whose files the page shows; null: the search and its results */
  repo: string | null;
  files: HubFiles | null;
  filesStatus: 'idle' | 'loading' | 'ready' | 'error';
  filesError: ErrorInfo | null;
  /** verdicts by fitKey(repo, revision, first part's path) */
  fits: Record<string, FitEntry>;
  /** the downloads this page started: fitKey → download ids (one per part) */
  downloads: Record<string, string[]>;
}

const initialState: HubState = {
  query: '', author: '', sort: 'downloads', results: [], searchStatus: 'idle', searchError: null, latestSearch: null,
  repo: null, files: null, filesStatus: 'idle', filesError: null, fits: {}, downloads: {},
};

/** The key of a file of a repository at a revision (a split model: its first part). */
export const fitKey = (repo: string, revision: string, file: string): string => `${repo}@${revision}:${file}`;

/** How many results a search asks for. */
export const HUB_RESULTS = 50;

export const searchHub = createAppAsyncThunk('hub/search', async (req: RequestOf<'hub.search'>, { rejectWithValue }) => {
  try {
    return (await call('hub.search', req)).models;
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const fetchHubFiles = createAppAsyncThunk('hub/files', async (repo: string, { rejectWithValue }) => {
  try {
    return await call('hub.files', { repo });
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const fitHubFile = createAppAsyncThunk('hub/fit', async (req: { repo: string; revision: string; file: string }, { rejectWithValue }) => {
  try {
    return await call('hub.fit', req);
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

/** Queues every part of a file of hub.files (a split model: each part). */
export const downloadHubFile = createAppAsyncThunk('hub/download', async (arg: { repo: string; revision: string; file: HubQuantFile }, { dispatch, rejectWithValue }) => {
  const ids: string[] = [];
  for (const part of arg.file.parts) {
    if (!part.sha256) return rejectWithValue({ code: 'invalid_input', message: `${part.path} has no SHA-256 on the hub: Hearth downloads only files it can verify` });
    const r = await dispatch(addDownload({ repo: arg.repo, revision: arg.revision, file: part.path, sha256: part.sha256, size: part.size }));
    if (addDownload.rejected.match(r)) return rejectWithValue(r.payload ?? { code: 'internal', message: r.error.message ?? 'failed' });
    ids.push(r.payload.id);
  }
  return ids;
});

const hubSlice = createSlice({
  name: 'hub',
  initialState,
  reducers: {
    repoOpened(s, a: PayloadAction<string | null>) {
      s.repo = a.payload;
      if (a.payload !== s.files?.repo) {
        s.files = null;
        s.filesStatus = 'idle';
        s.filesError = null;
      }
    },
    hubQueryChanged(s, a: PayloadAction<string>) {
      s.query = a.payload;
    },
    hubAuthorChanged(s, a: PayloadAction<string>) {
      s.author = a.payload;
    },
    hubSortChanged(s, a: PayloadAction<HubSort>) {
      s.sort = a.payload;
    },
  },
  extraReducers: (b) => {
    b.addCase(searchHub.pending, (s, a) => {
      s.latestSearch = a.meta.requestId;
      s.searchStatus = 'loading';
    })
      .addCase(searchHub.fulfilled, (s, a) => {
        if (s.latestSearch !== a.meta.requestId) return;
        s.results = a.payload;
        s.searchStatus = 'ready';
        s.searchError = null;
      })
      .addCase(searchHub.rejected, (s, a) => {
        if (s.latestSearch !== a.meta.requestId) return;
        s.searchStatus = 'error';
        s.searchError = a.payload ?? { code: 'internal', message: a.error.message ?? 'failed' };
      })
      .addCase(fetchHubFiles.pending, (s) => {
        s.filesStatus = 'loading';
        s.filesError = null;
      })
      .addCase(fetchHubFiles.fulfilled, (s, a) => {
        if (s.repo !== a.meta.arg) return;
        s.files = a.payload;
        s.filesStatus = 'ready';
      })
      .addCase(fetchHubFiles.rejected, (s, a) => {
        if (s.repo !== a.meta.arg) return;
        s.filesStatus = 'error';
        s.filesError = a.payload ?? { code: 'internal', message: a.error.message ?? 'failed' };
      })
      .addCase(fitHubFile.pending, (s, a) => {
        s.fits[fitKey(a.meta.arg.repo, a.meta.arg.revision, a.meta.arg.file)] = { status: 'checking' };
      })
      .addCase(fitHubFile.fulfilled, (s, a) => {
        s.fits[fitKey(a.meta.arg.repo, a.meta.arg.revision, a.meta.arg.file)] = { status: 'ready', fit: a.payload };
      })
      .addCase(fitHubFile.rejected, (s, a) => {
        s.fits[fitKey(a.meta.arg.repo, a.meta.arg.revision, a.meta.arg.file)] = { status: 'error', error: a.payload ?? { code: 'internal', message: a.error.message ?? 'failed' } };
      })
      .addCase(downloadHubFile.fulfilled, (s, a) => {
        s.downloads[fitKey(a.meta.arg.repo, a.meta.arg.revision, a.meta.arg.file.parts[0].path)] = a.payload;
      });
  },
});

export const { repoOpened, hubQueryChanged, hubAuthorChanged, hubSortChanged } = hubSlice.actions;

/** Shows a repository's files on the hub page (from the search, the first-run view's recommendations, anywhere). */
export function showHubRepo(repo: string) {
  return (dispatch: AppDispatch) => {
    dispatch(repoOpened(repo));
    dispatch(pageShown('hub'));
  };
}

/** Loads a downloaded model and opens a new chat with it. */
export function chatWithModel(path: string) {
  return (dispatch: AppDispatch) => {
    dispatch(openThread(null));
    void dispatch(loadModel(path));
  };
}

/** The repository shown, as the search listed it (null when it was opened from elsewhere). */
export const selectHubRepoInfo = (s: RootState): HubModel | null => s.hub.results.find((m) => m.id === s.hub.repo) ?? null;

const baseName = (p: string) => p.split(/[\\/]/).pop() ?? p;

/**
 * Where a file of the hub is on this disk: a download this page started that finished, else a
 * model of the folder with the file's name and size (downloaded before); null when it is not.
 */
export function selectLocalCopy(s: RootState, repo: string, revision: string, file: HubQuantFile): string | null {
  const ids = s.hub.downloads[fitKey(repo, revision, file.parts[0].path)];
  const first = ids?.[0];
  if (first && ids.every((id) => s.downloads.finished[id])) return s.downloads.finished[first];
  const name = baseName(file.parts[0].path);
  const m = s.models.list.find((x) => baseName(x.path) === name && (file.parts.length > 1 || x.fileSize === file.size));
  return m ? m.path : null;
}

export default hubSlice.reducer;
