/** The chats, pinned first; each with pin, rename, export (Markdown or Hearth JSON) and delete (with undo). */
import { KeyboardEvent, memo, useEffect, useRef, useState } from 'react';
import type { ThreadDTO } from '../../../../main/ipc/contract';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { focusHandled, selectFocusRequest } from '../../app/uiSlice';
import { Icon } from '../../components/Icon';
import { openThread } from '../chat/chatSlice';
import { RemoteSentMark } from '../providers/RemoteSent';
import { ExportMenu } from '../data/ExportMenu';
import { deleteWithUndo, fetchThreads, pinThread, renameThread, selectVisibleThreads, titleOf } from './threadsSlice';

const ThreadItem = memo(function ThreadItem({ thread, selected }: { thread: ThreadDTO; selected: boolean }) {
  const dispatch = useAppDispatch();
  const [renaming, setRenaming] = useState(false);
  const title = titleOf(thread);
  const linkRef = useRef<HTMLAnchorElement>(null);
  const focusRequest = useAppSelector((s) => selectFocusRequest(s, 'thread', thread.id));
  useEffect(() => {
    if (!focusRequest) return;
    linkRef.current?.focus();
    dispatch(focusHandled(focusRequest));
  }, [focusRequest, dispatch]);

  const finishRename = (value: string | null) => {
    setRenaming(false);
    const next = value?.trim();
    if (next && next !== thread.title) void dispatch(renameThread({ id: thread.id, title: next }));
  };
  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') finishRename(e.currentTarget.value);
    else if (e.key === 'Escape') {
      e.stopPropagation();
      finishRename(null);
    }
  };

  return (
    <li className={`thread${selected ? ' selected' : ''}${thread.pinned ? ' pinned' : ''}`}>
      {renaming ? (
        <input className="rename-input" aria-label="Chat title" defaultValue={thread.title} autoFocus onKeyDown={onKeyDown} onBlur={(e) => finishRename(e.currentTarget.value)} />
      ) : (
        <a
          ref={linkRef}
          className="thread-link"
          href={`#chat-${thread.id}`}
          aria-current={selected ? 'page' : undefined}
          title={title}
          onClick={(e) => {
            e.preventDefault();
            dispatch(openThread(thread.id));
          }}
        >
          {thread.pinned && (
            <span className="pin-mark" aria-hidden="true">
              <Icon name="pin" size={13} />
            </span>
          )}
          <span className="thread-title">{title}</span>
          <RemoteSentMark thread={thread} />
        </a>
      )}
      {!renaming && (
        <div className="thread-actions">
          <button type="button" className="icon-button small" aria-label={`${thread.pinned ? 'Unpin' : 'Pin'} ${title}`} title={thread.pinned ? 'Unpin' : 'Pin'} onClick={() => void dispatch(pinThread({ id: thread.id, pinned: !thread.pinned }))}>
            <Icon name="pin" size={14} />
          </button>
          <button type="button" className="icon-button small" aria-label={`Rename ${title}`} title="Rename" onClick={() => setRenaming(true)}>
            <Icon name="edit" size={14} />
          </button>
          <ExportMenu threadId={thread.id} title={title} />
          <button type="button" className="icon-button small danger" aria-label={`Delete ${title}`} title="Delete" onClick={(e) => dispatch(deleteWithUndo(thread.id, { byKeyboard: e.detail === 0 }))}>
            <Icon name="trash" size={14} />
          </button>
        </div>
      )}
    </li>
  );
});

export function ThreadList() {
  const threads = useAppSelector(selectVisibleThreads);
  const selectedId = useAppSelector((s) => s.threads.selectedId);
  const status = useAppSelector((s) => s.threads.status);
  const error = useAppSelector((s) => s.threads.error);
  const more = useAppSelector((s) => s.threads.nextCursor);
  const dispatch = useAppDispatch();
  const firstUnpinned = threads.findIndex((t) => !t.pinned);
  return (
    <div className="thread-list">
      {status === 'error' && (
        <p role="alert" className="inline-error">
          Could not list the chats: {error}{' '}
          <button type="button" className="link-button" onClick={() => void dispatch(fetchThreads())}>
            Try again
          </button>
        </p>
      )}
      {status === 'ready' && threads.length === 0 && <p className="muted small-pad">No chats yet.</p>}
      <ul aria-label="Chat list">
        {threads.map((t, i) => (
          <ThreadItemRow key={t.id} thread={t} selected={t.id === selectedId} separator={i === firstUnpinned && i > 0} />
        ))}
      </ul>
      {more && (
        <button type="button" className="button small full" onClick={() => void dispatch(fetchThreads({ more: true }))}>
          Show older chats
        </button>
      )}
    </div>
  );
}

function ThreadItemRow({ thread, selected, separator }: { thread: ThreadDTO; selected: boolean; separator: boolean }) {
  return (
    <>
      {separator && <li role="separator" className="thread-sep" />}
      <ThreadItem thread={thread} selected={selected} />
    </>
  );
}
