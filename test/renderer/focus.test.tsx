/** @jest-environment jsdom */
/**
 * Where focus goes on the model pages and in dialogs, on the whole <App> with the FakeBridge
 * standing in for main: Escape closes the topmost dialog with focus fallen to <body>; a repository
 * opened on the hub page puts focus on its heading, and going back puts it on the result that
 * opened it. (A disabled control dropping focus is Chromium's doing: test/e2e/settings-models.test.ts.)
 */
import { act, fireEvent, screen, within } from '@testing-library/react';
import { NARROW_MEDIA, openDialog, pageShown, setSidebar } from '../../renderer/src/app/uiSlice';
import { renderApp } from './render-app';

const MODEL = { id: 'bartowski/Tiny-GGUF', author: 'bartowski', name: 'Tiny-GGUF', downloads: 10, likes: 1, lastModified: 1_700_000_000_000, gated: false };

test('Escape closes the dialog when focus has fallen out of it to <body>', async () => {
  const { store } = renderApp();
  act(() => store.dispatch(openDialog({ name: 'settings', section: 'models' })));
  expect(screen.getByRole('dialog', { name: 'Settings' })).toBeTruthy();
  act(() => (document.activeElement as HTMLElement).blur());
  expect(document.activeElement).toBe(document.body);
  fireEvent.keyDown(document.body, { key: 'Escape' });
  expect(screen.queryByRole('dialog', { name: 'Settings' })).toBeNull();
});

test("hub: opening a repository focuses its heading; Back focuses the result that opened it", async () => {
  const { store } = renderApp({ 'hub.search': () => ({ models: [MODEL] }), 'hub.files': () => new Promise(() => {}) });
  act(() => store.dispatch(pageShown('hub')));
  const result = await screen.findByRole('button', { name: 'Open bartowski/Tiny-GGUF' });
  result.focus();
  fireEvent.click(result);
  const heading = await screen.findByRole('heading', { name: 'bartowski/Tiny-GGUF' });
  expect(document.activeElement).toBe(heading);
  fireEvent.click(screen.getByRole('button', { name: 'Back to results' }));
  expect(document.activeElement).toBe(await screen.findByRole('button', { name: 'Open bartowski/Tiny-GGUF' }));
});

test('sending without any model: the message points to Find models (a button there) and to Settings → Models, not Settings → Data', async () => {
  const { store } = renderApp({ 'hub.recommended': () => ({ models: [] }), 'library.discover': () => ({ models: [], skipped: [], searched: [] }) });
  await screen.findByRole('heading', { name: 'Welcome to Hearth' });
  const box = screen.getByRole('textbox', { name: /message/i });
  fireEvent.change(box, { target: { value: 'hello' } });
  fireEvent.keyDown(box, { key: 'Enter' });
  const alert = await screen.findByText(/There are no models yet/);
  expect(alert.textContent).toContain('Find models');
  expect(alert.textContent).toContain('Settings → Models');
  expect(alert.textContent).not.toContain('Settings → Data');
  fireEvent.click(within(alert.closest<HTMLElement>('[role="alert"]')!).getByRole('button', { name: 'Find models' }));
  expect(store.getState().ui.page).toBe('hub');
});

test('a narrow window: choosing Find models or My models in the sidebar closes the sidebar lying over the page', async () => {
  // jsdom has no layout: matchMedia answers the narrow query as a 700 px window would
  const had = window.matchMedia;
  window.matchMedia = ((q: string) => ({ matches: q === NARROW_MEDIA, media: q, addEventListener() {}, removeEventListener() {} })) as never;
  try {
    const { store } = renderApp({ 'hub.search': () => ({ models: [] }) });
    act(() => store.dispatch(setSidebar(true)));
    fireEvent.click(screen.getByRole('button', { name: 'Find models' }));
    expect(store.getState().ui.page).toBe('hub');
    expect(store.getState().ui.sidebarOpen).toBe(false);
    act(() => store.dispatch(setSidebar(true)));
    fireEvent.click(screen.getByRole('button', { name: 'My models' }));
    expect(store.getState().ui.page).toBe('library');
    expect(store.getState().ui.sidebarOpen).toBe(false);
  } finally {
    window.matchMedia = had;
  }
});

test('Find models with an empty search: the results come first, the recommended list after them, folded', async () => {
  const { store } = renderApp({ 'hub.search': () => ({ models: [MODEL] }), 'hub.recommended': () => ({ models: [] }) });
  act(() => store.dispatch(pageShown('hub')));
  const results = await screen.findByRole('list', { name: 'Results' });
  const details = screen.getByText('Recommended models', { selector: 'summary' }).closest('details')!;
  expect(details.open).toBe(false);
  expect(results.compareDocumentPosition(details) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
});
