/**
 * The hardware page's requests: while it is on screen (useViewShown('hardware')), the machine's info
 * once and a usage sample at once and then every POLL_MS after each answer. Leaving the page stops
 * the polling: the state is checked before every request, so none goes out after the page left.
 */
import type { AppStartListening } from '../../app/listeners';
import type { RootState } from '../../app/store';
import { selectViewShown } from '../../app/uiSlice';
import { fetchHardwareInfo, fetchUsage, POLL_MS, usageCleared } from './hardwareSlice';

const hardwareShown = (s: RootState): boolean => selectViewShown(s, 'hardware');

export function startHardwareListeners(start: AppStartListening): void {
  /** which showing of the page polls (a page shown again starts a new one; the old one ends) */
  let showing = 0;
  start({
    predicate: (_action, state, before) => hardwareShown(state) && !hardwareShown(before),
    effect: async (_action, api) => {
      const mine = ++showing;
      const polling = () => mine === showing && hardwareShown(api.getState());
      void api.dispatch(fetchHardwareInfo());
      // the page opened: the charts start over
      api.dispatch(usageCleared());
      while (polling()) {
        await api.dispatch(fetchUsage());
        if (!polling()) return;
        await api.delay(POLL_MS);
      }
    },
  });
}
