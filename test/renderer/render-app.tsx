/** The whole renderer (App, store, events) on a FakeBridge: what the UI tests render. */
import { render } from '@testing-library/react';
import { Provider } from 'react-redux';
import { App } from '../../renderer/src/app/App';
import { setBridge } from '../../renderer/src/app/bridge';
import { startEvents } from '../../renderer/src/app/events';
import { makeStore } from '../../renderer/src/app/store';
import { FakeBridge } from './fake-bridge';

export function renderApp(handlers: ConstructorParameters<typeof FakeBridge>[0] = {}) {
  const bridge = new FakeBridge(handlers);
  setBridge(bridge);
  const store = makeStore();
  const stop = startEvents(store.dispatch);
  const ui = render(
    <Provider store={store}>
      <App />
    </Provider>,
  );
  return { bridge, store, stop, ...ui };
}
