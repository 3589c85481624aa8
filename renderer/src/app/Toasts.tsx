/**
 * Toasts in a live region; "Deleted “title” — Undo" lives here until its undo window is over, the
 * window held while the pointer is over the toast or focus is in it. A toast that goes away while held
 * (another toast pushed it out) lets its window run again.
 */
import { FocusEvent, useEffect, useRef } from 'react';
import { commitDelete, holdDelete, undoDelete } from '../features/threads/threadsSlice';
import { Icon } from '../components/Icon';
import { useAppDispatch, useAppSelector } from './hooks';
import { focusHandled, requestFocus, selectFocusRequest, Toast, toastRemoved } from './uiSlice';

const AUTO_DISMISS_MS = 6000;

function ToastItem({ toast }: { toast: Toast }) {
  const dispatch = useAppDispatch();
  useEffect(() => {
    if (toast.action) return; // the delete timer removes it
    const t = setTimeout(() => dispatch(toastRemoved(toast.id)), AUTO_DISMISS_MS);
    return () => clearTimeout(t);
  }, [toast, dispatch]);
  // the undo window waits while the toast is hovered or focused, and runs again once it is neither
  const held = useRef({ hover: false, focus: false });
  const hold = (k: 'hover' | 'focus', on: boolean) => {
    const threadId = toast.action?.threadId;
    if (!threadId) return;
    held.current[k] = on;
    dispatch(holdDelete(threadId, held.current.hover || held.current.focus));
  };
  // unmounted while held (evicted by newer toasts: no mouseleave or blur comes): the window runs again
  useEffect(() => {
    const threadId = toast.action?.threadId;
    const h = held.current;
    return () => {
      if (threadId && (h.hover || h.focus)) dispatch(holdDelete(threadId, false));
    };
  }, [toast, dispatch]);
  const actionRef = useRef<HTMLButtonElement>(null);
  const focusRequest = useAppSelector((s) => selectFocusRequest(s, 'toastAction', toast.id));
  useEffect(() => {
    if (!focusRequest) return;
    actionRef.current?.focus();
    dispatch(focusHandled(focusRequest));
  }, [focusRequest, dispatch]);
  const dismiss = () => {
    if (toast.action?.type === 'undoDelete') void dispatch(commitDelete(toast.action.threadId));
    else dispatch(toastRemoved(toast.id));
    dispatch(requestFocus('composer')); // the Dismiss button is gone
  };
  return (
    <div
      className={`toast ${toast.kind}`}
      onMouseEnter={() => hold('hover', true)}
      onMouseLeave={() => hold('hover', false)}
      onFocus={() => hold('focus', true)}
      onBlur={(e: FocusEvent<HTMLDivElement>) => !e.currentTarget.contains(e.relatedTarget) && hold('focus', false)}
    >
      <span>{toast.text}</span>
      {toast.action && (
        <button ref={actionRef} type="button" className="button small" onClick={() => toast.action && dispatch(undoDelete(toast.action.threadId))}>
          {toast.action.label}
        </button>
      )}
      <button type="button" className="icon-button small" aria-label="Dismiss" onClick={dismiss}>
        <Icon name="close" size={14} />
      </button>
    </div>
  );
}

export function Toasts() {
  const toasts = useAppSelector((s) => s.ui.toasts);
  return (
    <div className="toasts" role="status" aria-live="polite">
      {toasts.map((t) => (
        <ToastItem key={t.id} toast={t} />
      ))}
    </div>
  );
}
