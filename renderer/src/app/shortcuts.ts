/** Keyboard shortcuts: one table used by the key handler and by the help dialog. */
import { useEffect } from 'react';
import { openThread } from '../features/chat/chatSlice';
import { isMac } from './format';
import { useAppDispatch } from './hooks';
import type { AppDispatch } from './store';
import { dismissSidebar, isNarrow, openDialog, requestFocus, toggleSidebar } from './uiSlice';

export interface Combo {
  /** Ctrl, or ⌘ on macOS */
  mod?: boolean;
  shift?: boolean;
  key: string;
}

export interface Shortcut {
  id: 'newChat' | 'search' | 'focusComposer' | 'toggleSidebar' | 'settings' | 'help';
  label: string;
  combo: Combo;
  /** it works while a modal dialog is open (it opens a dialog, through the open one's discard guard); the others would act behind it and are ignored */
  overDialog?: true;
  run(dispatch: AppDispatch): void;
}

export const SHORTCUTS: Shortcut[] = [
  {
    id: 'newChat',
    label: 'New chat',
    combo: { mod: true, shift: true, key: 'o' },
    run: (d) => {
      d(openThread(null));
      d(requestFocus('composer'));
    },
  },
  { id: 'search', label: 'Search chats', combo: { mod: true, key: 'k' }, run: (d) => d(requestFocus('search')) },
  { id: 'focusComposer', label: 'Focus the message box', combo: { shift: true, key: 'Escape' }, run: (d) => d(requestFocus('composer')) },
  { id: 'toggleSidebar', label: 'Show or hide the sidebar', combo: { mod: true, key: 'b' }, run: (d) => d(toggleSidebar()) },
  { id: 'settings', label: 'Settings', combo: { mod: true, key: ',' }, overDialog: true, run: (d) => d(openDialog('settings')) },
  { id: 'help', label: 'Keyboard shortcuts', combo: { mod: true, key: '/' }, overDialog: true, run: (d) => d(openDialog('help')) },
];

export function matches(combo: Combo, e: Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'shiftKey' | 'altKey'>, mac = isMac): boolean {
  const mod = mac ? e.metaKey : e.ctrlKey;
  const other = mac ? e.ctrlKey : e.metaKey;
  return e.key.toLowerCase() === combo.key.toLowerCase() && !!combo.mod === mod && !!combo.shift === e.shiftKey && !e.altKey && !other;
}

const KEY_NAMES: Record<string, string> = { escape: 'Esc', ',': ',', '/': '/' };

/** The combo's keys as shown to people, e.g. ["Ctrl", "Shift", "O"] or ["⌘", "⇧", "O"]. */
export function comboKeys(combo: Combo, mac = isMac): string[] {
  const keys: string[] = [];
  if (combo.mod) keys.push(mac ? '⌘' : 'Ctrl');
  if (combo.shift) keys.push(mac ? '⇧' : 'Shift');
  keys.push(KEY_NAMES[combo.key.toLowerCase()] ?? combo.key.toUpperCase());
  return keys;
}

export function shortcutLabel(id: Shortcut['id']): string {
  const s = SHORTCUTS.find((x) => x.id === id);
  return s ? comboKeys(s.combo).join(isMac ? '' : '+') : '';
}

/**
 * Whether a key press in a message box sends it. With "Enter sends" on (the default): Enter, while
 * Shift+Enter is left to the box (a new line); off: Ctrl+Enter (⌘+Enter on macOS), while Enter is a
 * new line. Never while an input method is composing.
 */
export function isSendKey(
  e: Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'shiftKey' | 'altKey' | 'isComposing'>,
  sendOnEnter: boolean,
  mac = isMac,
): boolean {
  if (e.key !== 'Enter' || e.isComposing || e.altKey || e.shiftKey) return false;
  const mod = mac ? e.metaKey : e.ctrlKey;
  return sendOnEnter ? !(mac ? e.ctrlKey : e.metaKey) : mod;
}

/**
 * The keys that send a message and that add a line, as shown to people (the help dialog, the
 * composer's hint), as isSendKey has them: with "Enter sends" on, Ctrl+Enter sends too (`alsoSend`).
 */
export function messageKeys(sendOnEnter: boolean, mac = isMac): { send: string[]; alsoSend: string[] | null; newLine: string[] } {
  const mod = mac ? '⌘' : 'Ctrl';
  return sendOnEnter ? { send: ['Enter'], alsoSend: [mod, 'Enter'], newLine: ['Shift', 'Enter'] } : { send: [mod, 'Enter'], alsoSend: null, newLine: ['Enter'] };
}

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);
}

/** Whether a modal dialog is open (Settings, Assistants, Help, the load confirmation…): shortcuts other than overDialog ones would act behind it. */
function modalOpen(): boolean {
  return !!document.querySelector('[aria-modal="true"]');
}

/** Installs the window key handler (once, from <App>). */
export function useShortcuts(): void {
  const dispatch = useAppDispatch();
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented) return;
      const s = SHORTCUTS.find((x) => matches(x.combo, e));
      if (s) {
        if (!s.overDialog && modalOpen()) return;
        e.preventDefault();
        s.run(dispatch);
      } else if (e.key === 'Escape' && !e.shiftKey && !e.ctrlKey && !e.metaKey && !e.altKey && isNarrow() && !modalOpen()) {
        // the sidebar lying over the chat (a narrow window) closes; an Escape a box used (clearing the search, ending a rename) stopped before here
        dispatch(dismissSidebar());
      } else if (e.key === '?' && !e.ctrlKey && !e.metaKey && !e.altKey && !isTyping(e.target)) {
        e.preventDefault();
        dispatch(openDialog('help'));
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [dispatch]);
}
