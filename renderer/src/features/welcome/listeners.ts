/** The first-run view asks main once it shows: the recommendations and a discovery, each unless it has them or is asking. */
import type { AppStartListening } from '../../app/listeners';
import { fetchRecommended, runDiscovery, welcomeOpened } from './welcomeSlice';

export function startWelcomeListeners(start: AppStartListening): void {
  start({
    actionCreator: welcomeOpened,
    effect: (_action, api) => {
      const { recommended, discovery } = api.getState().welcome;
      // a failed request is asked again when the view shows again
      if (recommended.status === 'idle' || recommended.status === 'error') void api.dispatch(fetchRecommended());
      if (discovery.status === 'idle' || discovery.status === 'error') void api.dispatch(runDiscovery());
    },
  });
}
