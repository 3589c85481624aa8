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
    return () => guard.setDirty(id, null);
  }, [guard, id, dirty]);
}

/** The dialog's guard: `guard(action)` runs the action, after asking when edits would be lost. */
export function useDiscardGuard(): (then: () => void) => void {
  return useContext(DiscardGuardContext).confirm;
}
