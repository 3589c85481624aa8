/** Toasts in a live region; "Chat deleted — Undo" lives here until its undo window is over. */
import { useEffect } from 'react';
import { commitDelete, undoDelete } from '../features/threads/threadsSlice';
import { Icon } from '../components/Icon';
import { useAppDispatch, useAppSelector } from './hooks';
import { Toast, toastRemoved } from './uiSlice';

const AUTO_DISMISS_MS = 6000;

function ToastItem({ toast }: { toast: Toast }) {
  const dispatch = useAppDispatch();
  useEffect(() => {
    if (toast.action) return; // the delete timer removes it
    const t = setTimeout(() => dispatch(toastRemoved(toast.id)), AUTO_DISMISS_MS);
    return () => clearTimeout(t);
  }, [toast, dispatch]);
  const dismiss = () => {
    if (toast.action?.type === 'undoDelete') void dispatch(commitDelete(toast.action.threadId));
    else dispatch(toastRemoved(toast.id));
  };
  return (
    <div className={`toast ${toast.kind}`}>
      <span>{toast.text}</span>
      {toast.action && (
        <button type="button" className="button small" onClick={() => toast.action && dispatch(undoDelete(toast.action.threadId))}>
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
