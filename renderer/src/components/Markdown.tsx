/**
 * Renders Markdown (already sanitized by markdown-it with html:false). Each segment keeps its HTML
 * string, so while a reply streams React only touches the segment that changed (the last one). A
 * reply's citations ([n] naming one of `citations`) are buttons whose clicks go to `onCite`.
 */
import { memo, MouseEvent, useMemo } from 'react';
import { CodeBlock, copyText } from './CodeBlock';
import { type Citations, renderSegments } from './render-markdown';

const HtmlSegment = memo(function HtmlSegment({ html }: { html: string }) {
  return <div className="md-seg" dangerouslySetInnerHTML={{ __html: html }} />;
});

/** Copy buttons of code blocks nested in lists or quotes (rendered as HTML, not as <CodeBlock>). */
function onClick(e: MouseEvent<HTMLDivElement>): void {
  const btn = (e.target as HTMLElement).closest('button[data-copy]');
  if (!btn) return;
  const code = btn.closest('.code-block')?.querySelector('code')?.textContent ?? '';
  void copyText(code).then((ok) => {
    if (!ok) return;
    btn.textContent = 'Copied';
    setTimeout(() => (btn.textContent = 'Copy'), 1500);
  });
}

export const Markdown = memo(function Markdown({ text, className, citations, onCite }: { text: string; className?: string; citations?: Citations; onCite?: (n: number) => void }) {
  const segments = useMemo(() => renderSegments(text, citations), [text, citations]);
  const click = (e: MouseEvent<HTMLDivElement>) => {
    const cite = (e.target as HTMLElement).closest('button[data-cite]');
    if (cite && onCite) onCite(Number(cite.getAttribute('data-cite')));
    else onClick(e);
  };
  return (
    <div className={`markdown${className ? ` ${className}` : ''}`} onClick={click}>
      {segments.map((s, i) =>
        s.kind === 'code' ? <CodeBlock key={i} code={s.code} lang={s.lang} /> : <HtmlSegment key={i} html={s.html} />,
      )}
    </div>
  );
});
