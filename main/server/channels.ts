/** The api.* channels over the API server's service. */
import type { Handlers } from '../services';
import type { ApiService } from './service';

export function apiChannels(api: ApiService): Handlers {
  return {
    'api.status': () => api.status(),
    'api.update': (r) => api.update(r.settings, { regenerateKey: r.regenerateKey }),
  };
}
