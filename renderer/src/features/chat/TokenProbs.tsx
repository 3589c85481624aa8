/**
 * A reply as its tokens, each shaded by its probability; hovering (or focusing) a token shows its
 * log-probability and the likeliest alternatives the model had (the chat's nProbs). The tip is laid
 * over the page (a portal on <body>) next to its token, flipped and shifted to stay inside the window.
 */
import { CSSProperties, useId, useLayoutEffect, useRef, useState } from 'react';
import { createPortal } from 'react-dom';
import type { TokenLogprobs } from '../../../../main/params';

/** space kept between the tip and the window's edges, and between the tip and its token, in px */
const EDGE = 8;
const GAP = 6;

type Box = Pick<DOMRect, 'left' | 'top' | 'right' | 'bottom'>;

/**
 * Where the tip goes (its top-left, in window px): below the token, or above it when it fits there
 * and not below; shifted left and up so that it stays inside the window.
 */
export function placeTip(token: Box, tip: { width: number; height: number }, win: { width: number; height: number }): { left: number; top: number } {
  const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(v, Math.max(lo, hi)));
  const below = token.bottom + GAP;
  const above = token.top - GAP - tip.height;
  const fitsBelow = below + tip.height <= win.height - EDGE;
  const top = fitsBelow || above < EDGE ? clamp(below, EDGE, win.height - EDGE - tip.height) : above;
  return { left: clamp(token.left, EDGE, win.width - EDGE - tip.width), top };
}

/** A token's text as shown: whitespace made visible. */
export function showToken(text: string): string {
  return text.replace(/\n/g, '↵').replace(/\t/g, '⇥') || '∅';
}

/**
 * A token's text in the reply's run of tokens: as written, each line break after a visible ↵ (a token
 * of line breaks alone, or of nothing, would be a button of no width, which no pointer can reach).
 */
export function tokenFace(text: string): string {
  return text === '' ? '∅' : text.replace(/\n/g, '↵\n');
}

const percent = (logprob: number) => `${(Math.exp(logprob) * 100).toFixed(logprob > -4.6 ? 1 : 3)}%`;

export function TokenProbs({ probs }: { probs: TokenLogprobs[] }) {
  const [active, setActive] = useState<number | null>(null);
  const base = useId();
  const tip = `${base}-tip`;
  const cur = active === null ? null : probs[active];
  const group = useRef<HTMLDivElement>(null);
  const tipEl = useRef<HTMLDivElement>(null);
  const [pos, setPos] = useState<{ left: number; top: number } | null>(null);
  // measured before paint, and again as the page scrolls or the window changes size
  useLayoutEffect(() => {
    if (active === null) return setPos(null);
    const place = () => {
      const token = group.current?.querySelector(`[data-token="${active}"]`);
      const tip = tipEl.current;
      if (!token || !tip) return;
      setPos(placeTip(token.getBoundingClientRect(), { width: tip.offsetWidth, height: tip.offsetHeight }, { width: window.innerWidth, height: window.innerHeight }));
    };
    place();
    window.addEventListener('scroll', place, true);
    window.addEventListener('resize', place);
    return () => {
      window.removeEventListener('scroll', place, true);
      window.removeEventListener('resize', place);
    };
  }, [active]);
  const tipStyle: CSSProperties = pos ? { left: pos.left, top: pos.top } : { left: 0, top: 0, visibility: 'hidden' };
  return (
    <div ref={group} className="token-probs" role="group" aria-label="Tokens with their probabilities" onMouseLeave={() => setActive(null)}>
      <p className="token-text">
        {probs.map((p, i) => (
          <button
            type="button"
            key={i}
            data-token={i}
            className={`token${active === i ? ' active' : ''}`}
            // likelier tokens are paler: what stands out is what the model was unsure of
            style={{ ['--p' as string]: String(Math.exp(p.logprob)) }}
            aria-label={`${showToken(p.text)}: log-probability ${p.logprob.toFixed(2)}`}
            aria-describedby={active === i ? tip : undefined}
            onMouseEnter={() => setActive(i)}
            onFocus={() => setActive(i)}
            onBlur={() => setActive(null)}
          >
            {tokenFace(p.text)}
          </button>
        ))}
      </p>
      {cur &&
        createPortal(
        <div ref={tipEl} className="token-tip" role="tooltip" id={tip} style={tipStyle}>
          <div className="token-tip-head">
            <code>{showToken(cur.text)}</code> log-probability {cur.logprob.toFixed(3)} ({percent(cur.logprob)})
          </div>
          <table aria-label="Likeliest tokens">
            <thead>
              <tr>
                <th scope="col">Token</th>
                <th scope="col">Log-probability</th>
                <th scope="col">Probability</th>
              </tr>
            </thead>
            <tbody>
              {cur.top.map((t) => (
                <tr key={t.id} className={t.id === cur.id ? 'chosen' : undefined}>
                  <td>
                    <code>{showToken(t.text)}</code>
                  </td>
                  <td>{t.logprob.toFixed(3)}</td>
                  <td>{percent(t.logprob)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>,
          document.body,
        )}
    </div>
  );
}
