/**
 * Unsaved edits in a dialog: a form says whether it holds edits (useUnsavedChanges), and whatever
 * would drop them (closing the dialog, another tab, another model or assistant) goes through the
 * dialog's guard (useDiscardGuard), which asks "Discard changes?" first while any form holds edits.
 * Outside a Dialog the guard runs the action at once.
 */
import { createContext, useContext, useEffect, useId, useRef } from 'react';

export interface DiscardGuard {
  /** registers (or, with null, unregisters) a form's edits; `discard` drops them when the user agrees */
  setDirty(id: string, discard: (() => void) | null): void;
  /** runs `then` now when nothing is unsaved, else once the user chose Discard */
  confirm(then: () => void): void;
}

export const DiscardGuardContext = createContext<DiscardGuard>({ setDirty: () => undefined, confirm: (then) => then() });

/** Marks the calling form as holding unsaved edits while `dirty`; `discard` (optional) drops them on Discard. */
export function useUnsavedChanges(dirty: boolean, discard?: () => void): void {
  const id = useId();
  const guard = useContext(DiscardGuardContext);
  const discardRef = useRef(discard);
  discardRef.current = discard;
  useEffect(() => {
    guard.setDirty(id, dirty ? () => discardRef.current?.() : null);
    noteUnsaved(id, dirty);
    return () => {
      guard.setDirty(id, null);
      noteUnsaved(id, false);
    };
  }, [guard, id, dirty]);
}

/** The dialog's guard: `guard(action)` runs the action, after asking when edits would be lost. */
export function useDiscardGuard(): (then: () => void) => void {
  return useContext(DiscardGuardContext).confirm;
}

/**
 * The open dialogs' guards, the topmost last: whatever replaces or closes the open dialog from
 * outside it (a shortcut, the app's menu, a button behind it) asks through `guardDialogChange`.
 */
const openGuards: DiscardGuard[] = [];

/** Registers an open dialog's guard; returns the unregister function (Dialog's mount effect). */
export function registerDialogGuard(guard: DiscardGuard): () => void {
  openGuards.push(guard);
  return () => {
    const i = openGuards.lastIndexOf(guard);
    if (i >= 0) openGuards.splice(i, 1);
  };
}

/** Runs `then` now when no open dialog holds edits, else once the user chose Discard in the topmost one. */
export function guardDialogChange(then: () => void): void {
  const top = openGuards[openGuards.length - 1];
  if (top) top.confirm(then);
  else then();
}

/** Forms holding edits in any dialog; while there is one, leaving the page (reload, closing the tab) asks the browser's own question. */
const unsavedForms = new Set<string>();
const onBeforeUnload = (e: BeforeUnloadEvent) => {
  e.preventDefault();
  e.returnValue = ''; // older Chromium asks only with returnValue set
};

/**
 * Notes whether a form holds edits, for the page's beforeunload prompt. Browser mode only: in the
 * Electron window a beforeunload that objects cancels the close without asking anything.
 */
export function noteUnsaved(id: string, dirty: boolean): void {
  if (typeof window === 'undefined' || window.hearth) return;
  const before = unsavedForms.size;
  if (dirty) unsavedForms.add(id);
  else unsavedForms.delete(id);
  if (!before && unsavedForms.size) window.addEventListener('beforeunload', onBeforeUnload);
  else if (before && !unsavedForms.size) window.removeEventListener('beforeunload', onBeforeUnload);
}
