/** Sidebar search: full-text results with highlighted snippets; a hit opens its chat at the message. */
import { KeyboardEvent, useEffect, useRef } from 'react';
import { splitHighlights } from '../../../../main/ipc/snippet';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { Icon } from '../../components/Icon';
import { openThread } from '../chat/chatSlice';
import { queryChanged, searchCleared, selectSearch } from './searchSlice';

export function Snippet({ text }: { text: string }) {
  return (
    <>
      {splitHighlights(text).map((p, i) => (p.match ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
    </>
  );
}

/** The query box; the search itself follows the query (./listeners.ts). */
export function SearchBox() {
  const dispatch = useAppDispatch();
  const { query } = useAppSelector(selectSearch);
  const focus = useAppSelector((s) => s.ui.focus);
  const ref = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (focus?.target === 'search') {
      ref.current?.focus();
      ref.current?.select();
    }
  }, [focus]);

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Escape' && query) {
      e.stopPropagation();
      dispatch(searchCleared());
    } else if (e.key === 'ArrowDown') {
      e.preventDefault();
      document.querySelector<HTMLButtonElement>('.search-results button')?.focus();
    }
  };

  return (
    <div className="search-box">
      <Icon name="search" size={15} />
      <input ref={ref} type="search" aria-label="Search chats" placeholder="Search chats" value={query} onChange={(e) => dispatch(queryChanged(e.target.value))} onKeyDown={onKeyDown} />
    </div>
  );
}

export function SearchResults() {
  const dispatch = useAppDispatch();
  const { hits, status, error } = useAppSelector(selectSearch);
  const onKeyDown = (e: KeyboardEvent<HTMLUListElement>) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    const buttons = [...e.currentTarget.querySelectorAll<HTMLButtonElement>('button')];
    const i = buttons.indexOf(document.activeElement as HTMLButtonElement);
    buttons[Math.max(0, Math.min(buttons.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))]?.focus();
  };
  return (
    <div className="search-results">
      <p role="status" className="muted small-pad">
        {status === 'loading' ? 'Searching…' : status === 'error' ? `Search failed: ${error}` : status === 'ready' ? (hits.length ? `${hits.length} ${hits.length === 1 ? 'match' : 'matches'}` : 'No matches') : ''}
      </p>
      <ul aria-label="Search results" onKeyDown={onKeyDown}>
        {hits.map((h, i) => (
          <li key={`${h.threadId}-${h.messageId ?? 'title'}-${i}`}>
            <button type="button" className="hit" onClick={() => dispatch(openThread(h.threadId, h.messageId ?? undefined))}>
              <span className="hit-title">{h.threadTitle || 'New chat'}</span>
              <span className="hit-snippet">
                <Snippet text={h.snippet} />
              </span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
