/**
 * What the Library page asks main while it is shown: each model's files and facts (library.facts)
 * when the page opens and whenever the list of models changes (models.changed, a delete, an import).
 */
import type { AppStartListening } from '../../app/listeners';
import type { RootState } from '../../app/store';
import { fetchLibraryFacts } from './librarySlice';

const libraryShown = (s: RootState): boolean => s.ui.page === 'library';

export function startLibraryListeners(start: AppStartListening): void {
  start({
    predicate: (_a, state, before) => libraryShown(state) && (!libraryShown(before) || state.models.list !== before.models.list),
    effect: (_a, api) => {
      void api.dispatch(fetchLibraryFacts());
    },
  });
}
