/** A highlighted code block with its language and a Copy button. */
import { memo, useEffect, useMemo, useRef, useState } from 'react';
import { highlightCode } from './render-markdown';

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** "Copy" → "Copied" for a moment after a click. */
export function useCopied(): [boolean, (text: string) => void] {
  const [copied, setCopied] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout>>();
  useEffect(() => () => clearTimeout(timer.current), []);
  const copy = (text: string) => {
    void copyText(text).then((ok) => {
      if (!ok) return;
      setCopied(true);
      clearTimeout(timer.current);
      timer.current = setTimeout(() => setCopied(false), 1500);
    });
  };
  return [copied, copy];
}

export const CodeBlock = memo(function CodeBlock({ code, lang }: { code: string; lang: string }) {
  const html = useMemo(() => highlightCode(code, lang), [code, lang]);
  const [copied, copy] = useCopied();
  return (
    <div className="code-block">
      <div className="code-head">
        <span className="code-lang">{lang || 'text'}</span>
        <button type="button" className="copy-code" aria-label="Copy code" onClick={() => copy(code)}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
      <pre>
        <code className={`hljs${lang ? ` language-${lang}` : ''}`} dangerouslySetInnerHTML={{ __html: html }} />
      </pre>
    </div>
  );
});
