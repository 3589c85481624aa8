/** The hub page's state: which repository it shows (null: the search). Helper-owned: search, results, files and fit verdicts go here too. */
import { createSlice, PayloadAction } from '@reduxjs/toolkit';
import type { AppDispatch } from '../../app/store';
import { pageShown } from '../../app/uiSlice';

export interface HubState {
  /** the repository (owner/name) whose files the page shows; null: the search and its results */
  repo: string | null;
}

const initialState: HubState = { repo: null };

const hubSlice = createSlice({
  name: 'hub',
  initialState,
  reducers: {
    repoOpened(s, a: PayloadAction<string | null>) {
      s.repo = a.payload;
    },
  },
});

export const { repoOpened } = hubSlice.actions;

/** Shows a repository's files on the hub page (from the search, the first-run view's recommendations, anywhere). */
export function showHubRepo(repo: string) {
  return (dispatch: AppDispatch) => {
    dispatch(repoOpened(repo));
    dispatch(pageShown('hub'));
  };
}

export default hubSlice.reducer;
