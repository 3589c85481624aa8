/** The search follows the query: asked once the typing pauses; a cleared query cancels what was waiting. */
import { isAnyOf } from '@reduxjs/toolkit';
import type { AppStartListening } from '../../app/listeners';
import { queryChanged, runSearch, searchCleared } from './searchSlice';

/** how long the query must stay still before it is searched */
export const SEARCH_DEBOUNCE_MS = 200;

export function startSearchListeners(start: AppStartListening): void {
  start({
    matcher: isAnyOf(queryChanged, searchCleared),
    effect: async (_action, api) => {
      // a newer keystroke (or a clear) replaces the search still waiting
      api.cancelActiveListeners();
      const q = api.getState().search.query.trim();
      if (!q) return;
      await api.delay(SEARCH_DEBOUNCE_MS);
      void api.dispatch(runSearch(q));
    },
  });
}
