/**
 * The passage a citation opened, in a side panel: its document, page and heading, the chunks before
 * and after it (dimmed) and the cited chunk marked and scrolled into view (docs.passage, asked by
 * ./listeners.ts); a source that was a whole document shows the text its prompt held. Close, or
 * Escape, hides it.
 */
import { KeyboardEvent, useEffect, useRef } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { Icon } from '../../components/Icon';
import { passageClosed, selectPassage } from './docsSlice';
import { whereText } from './Sources';

export function PassagePanel() {
  const dispatch = useAppDispatch();
  const open = useAppSelector(selectPassage);
  const cited = useRef<HTMLElement>(null);
  const panel = useRef<HTMLElement>(null);
  const shown = open?.status === 'ready' ? (open.passage ?? open.source) : null;
  useEffect(() => {
    cited.current?.scrollIntoView?.({ block: 'center' });
  }, [shown]);
  const opened = open?.source;
  useEffect(() => {
    if (opened) panel.current?.focus();
  }, [opened]);
  if (!open) return null;
  const { source, passage } = open;
  const where = whereText(passage ?? source);
  const close = () => dispatch(passageClosed());
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      close();
    }
  };
  return (
    <aside ref={panel} className="passage-panel" aria-label="Passage" tabIndex={-1} onKeyDown={onKeyDown}>
      <header className="passage-head">
        <div>
          <h3 className="passage-name">
            [{source.n}] {passage?.name ?? source.name}
          </h3>
          {where && <p className="muted passage-where">{where}</p>}
        </div>
        <button type="button" className="icon-button small" aria-label="Close passage" title="Close" onClick={close}>
          <Icon name="close" size={14} />
        </button>
      </header>
      {open.status === 'loading' && (
        <p role="status" className="muted">
          Loading the passage…
        </p>
      )}
      {open.status === 'error' && (
        <div className="passage-body">
          <p role="alert" className="inline-error">
            {open.error}
          </p>
          {/* the document was removed or indexed again since: the text the reply's prompt held is still the reply's */}
          <p className="muted">The text the reply was given:</p>
          <mark ref={cited} className="passage-cited" aria-current="true">
            {source.text}
          </mark>
        </div>
      )}
      {open.status === 'ready' && !passage && (
        <div className="passage-body">
          <p className="muted">The whole document went into the reply's prompt:</p>
          <mark ref={cited} className="passage-cited" aria-current="true">
            {source.text}
          </mark>
        </div>
      )}
      {passage && (
        <div className="passage-body">
          {passage.before.map((t, i) => (
            <p key={`b${i}`} className="passage-context">
              {t}
            </p>
          ))}
          <p>
            <mark ref={cited} className="passage-cited" aria-current="true">
              {passage.text}
            </mark>
          </p>
          {passage.after.map((t, i) => (
            <p key={`a${i}`} className="passage-context">
              {t}
            </p>
          ))}
        </div>
      )}
    </aside>
  );
}
