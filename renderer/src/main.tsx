/** Entry: the store, the event subscription (once), and <App>. */
import { createRoot } from 'react-dom/client';
import { Provider } from 'react-redux';
import { App } from './app/App';
import { startEvents } from './app/events';
import { makeStore } from './app/store';
import { flushPendingDeletes } from './features/threads/threadsSlice';

const store = makeStore();
document.documentElement.dataset.theme = store.getState().settings.theme;
startEvents(store.dispatch);
// deletes still inside their undo window are sent when the page goes away
window.addEventListener('pagehide', () => store.dispatch(flushPendingDeletes()));

const el = document.getElementById('root');
if (el) {
  createRoot(el).render(
    <Provider store={store}>
      <App />
    </Provider>,
  );
}
