/**
 * A reply's sources (MessageDTO.sources: the passages its prompt was given, numbered as it cites
 * them): the reply's text with its [n] citations as buttons, the "Sources" list under it, and the
 * "What was retrieved" disclosure with how each was found (whole document, or a retrieved chunk with
 * its fused score, keyword and vector ranks, distance and rerank score). A citation or a source
 * opened shows its passage in the side panel (./PassagePanel.tsx).
 */
import { useId, useMemo, useState } from 'react';
import type { MessageDTO, SourceDTO } from '../../../../main/ipc/contract';
import { useAppDispatch } from '../../app/hooks';
import { Icon } from '../../components/Icon';
import { Markdown } from '../../components/Markdown';
import type { Citations } from '../../components/render-markdown';
import { passageOpened } from './docsSlice';

/** Where a source is in its document, in words ("p. 3 · Results"); empty when its document says nothing. */
export function whereText(s: Pick<SourceDTO, 'page' | 'heading'>): string {
  return [s.page !== null ? `p. ${s.page}` : null, s.heading].filter(Boolean).join(' · ');
}

/** A reply's text with its citations ([n] of one of its sources) as buttons opening the passage. */
export function CitedMarkdown({ message, className }: { message: MessageDTO; className?: string }) {
  const dispatch = useAppDispatch();
  const sources = message.sources;
  const citations = useMemo<Citations | undefined>(() => (sources?.length ? Object.fromEntries(sources.map((s) => [s.n, s.name])) : undefined), [sources]);
  const onCite = (n: number) => {
    const s = sources?.find((x) => x.n === n);
    if (s) dispatch(passageOpened(s));
  };
  return <Markdown text={message.content} className={className} citations={citations} onCite={citations ? onCite : undefined} />;
}

/** The "Sources" list under a reply: each source's number, document, page and heading, opening its passage. */
export function SourcesList({ message }: { message: MessageDTO }) {
  const dispatch = useAppDispatch();
  const headingId = useId();
  if (!message.sources?.length) return null;
  return (
    <section className="sources" aria-labelledby={headingId}>
      <h4 id={headingId}>Sources</h4>
      <ol>
        {message.sources.map((s) => {
          const where = whereText(s);
          return (
            <li key={s.n} value={s.n}>
              <button type="button" className="link-button source-button" onClick={() => dispatch(passageOpened(s))}>
                <span className="source-n">[{s.n}]</span> <span className="source-name">{s.name}</span>
                {where && <span className="muted"> · {where}</span>}
              </button>
            </li>
          );
        })}
      </ol>
    </section>
  );
}

const num = (v: number | null, digits: number) => (v === null ? '—' : v.toFixed(digits));
const rank = (v: number | null) => (v === null ? '—' : `#${v}`);

/** How one source was found, as terms and values. */
function SourceScores({ s }: { s: SourceDTO }) {
  const rows: [string, string][] = [['Mode', s.mode === 'whole' ? 'whole document' : 'retrieved']];
  if (s.score) {
    rows.push(
      ['Fused score', num(s.score.fused, 4)],
      ['Keyword rank', rank(s.score.keywordRank)],
      ['Vector rank', rank(s.score.vectorRank)],
      ['Distance', num(s.score.distance, 3)],
      ['Rerank', num(s.score.rerank, 3)],
    );
  }
  return (
    <dl className="source-scores">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** The "What was retrieved" disclosure: every source the reply's prompt held, how it was found, and its text. */
export function Retrieved({ message }: { message: MessageDTO }) {
  const [open, setOpen] = useState(false);
  const id = useId();
  if (!message.sources?.length) return null;
  return (
    <div className="retrieved">
      <button type="button" className="reasoning-toggle" aria-expanded={open} aria-controls={id} onClick={() => setOpen(!open)}>
        <span>What was retrieved</span>
        <span className={`chevron${open ? ' open' : ''}`}>
          <Icon name="chevron" size={14} />
        </span>
      </button>
      <div id={id} hidden={!open}>
        {open && (
          <ol className="retrieved-list" aria-label="Retrieved passages">
            {message.sources.map((s) => (
              <li key={s.n} value={s.n} aria-label={`Source ${s.n}: ${s.name}`}>
                <div className="retrieved-head">
                  <span className="source-n">[{s.n}]</span> {s.name}
                  {whereText(s) && <span className="muted"> · {whereText(s)}</span>}
                </div>
                <SourceScores s={s} />
                <blockquote className="retrieved-text">{s.text.length > 600 ? `${s.text.slice(0, 600)}…` : s.text}</blockquote>
              </li>
            ))}
          </ol>
        )}
      </div>
    </div>
  );
}
