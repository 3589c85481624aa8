/** @jest-environment jsdom */
/**
 * Browser mode's token in the page (issue 12, item 10): taken from the address once, removed from it
 * with history.replaceState (the path and hash stay), kept in sessionStorage for a reload of the tab.
 * jsdom's location, history and storage; the real Chromium run is in test/e2e/browser-mode.test.ts.
 */
import { takeToken } from '../../renderer/src/app/bridge';

beforeEach(() => {
  sessionStorage.clear();
  history.replaceState(null, '', '/');
});

test('the token moves from the address bar to sessionStorage', () => {
  history.replaceState(null, '', '/?token=abc-123&x=1#about');
  expect(takeToken()).toBe('abc-123');
  expect(`${location.pathname}${location.search}${location.hash}`).toBe('/?x=1#about');
  expect(sessionStorage.getItem('hearth.token')).toBe('abc-123');
  // a reload: no token in the address, the tab still has it
  expect(takeToken()).toBe('abc-123');
  expect(document.cookie).toBe('');
});

test('a new token in the address replaces the stored one; none at all is empty', () => {
  expect(takeToken()).toBe('');
  sessionStorage.setItem('hearth.token', 'old');
  history.replaceState(null, '', '/?token=new');
  expect(takeToken()).toBe('new');
  expect(location.search).toBe('');
  expect(takeToken()).toBe('new');
});
