/**
 * The hub page's requests, following its state: the search once the query, author or sort stays
 * still for HUB_SEARCH_DEBOUNCE_MS (the first when the page opens); a repository's files when it is
 * opened; then a fit verdict for each of its model files, one at a time, while the page shows that
 * repository (a page that leaves stops asking: at most the verdict in flight finishes).
 */
import { isAnyOf } from '@reduxjs/toolkit';
import type { AppStartListening } from '../../app/listeners';
import { pageShown } from '../../app/uiSlice';
import { fetchHubFiles, fitHubFile, fitKey, HUB_RESULTS, hubAuthorChanged, hubQueryChanged, hubSortChanged, repoOpened, searchHub } from './hubSlice';

/** how long the search fields must stay still before the hub is searched */
export const HUB_SEARCH_DEBOUNCE_MS = 300;

export function startHubListeners(start: AppStartListening): void {
  start({
    matcher: isAnyOf(hubQueryChanged, hubAuthorChanged, hubSortChanged),
    effect: async (_action, api) => {
      // a newer keystroke replaces the search still waiting
      api.cancelActiveListeners();
      await api.delay(HUB_SEARCH_DEBOUNCE_MS);
      const { query, author, sort } = api.getState().hub;
      void api.dispatch(searchHub({ query: query.trim() || undefined, author: author.trim() || undefined, sort, limit: HUB_RESULTS }));
    },
  });

  // the page opened: the first search (the most downloaded GGUF repositories), and the files of the repository shown
  start({
    matcher: isAnyOf(pageShown, repoOpened),
    effect: (_action, api) => {
      const s = api.getState();
      if (s.ui.page !== 'hub') return;
      if (s.hub.searchStatus === 'idle') void api.dispatch(searchHub({ sort: s.hub.sort, limit: HUB_RESULTS }));
      if (s.hub.repo && s.hub.filesStatus === 'idle') void api.dispatch(fetchHubFiles(s.hub.repo));
    },
  });

  // a verdict per model file, one at a time, while the page shows the repository
  start({
    matcher: isAnyOf(fetchHubFiles.fulfilled, pageShown),
    effect: async (_action, api) => {
      api.cancelActiveListeners();
      const files = api.getState().hub.files;
      if (!files) return;
      const showing = () => {
        const s = api.getState();
        return s.ui.page === 'hub' && s.hub.repo === files.repo;
      };
      for (const f of files.groups.flatMap((g) => g.files)) {
        // a projector is not a model on its own: no verdict
        if (f.projector) continue;
        if (!showing()) return;
        const entry = api.getState().hub.fits[fitKey(files.repo, files.revision, f.parts[0].path)];
        if (entry && entry.status !== 'error') continue;
        await api.pause(api.dispatch(fitHubFile({ repo: files.repo, revision: files.revision, file: f.parts[0].path })));
      }
    },
  });
}
