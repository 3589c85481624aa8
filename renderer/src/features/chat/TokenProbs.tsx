/**
 * A reply as its tokens, each shaded by its probability; hovering (or focusing) a token shows its
 * log-probability and the likeliest alternatives the model had (the chat's nProbs).
 */
import { useId, useState } from 'react';
import type { TokenLogprobs } from '../../../../main/params';

/** A token's text as shown: whitespace made visible. */
export function showToken(text: string): string {
  return text.replace(/\n/g, '↵').replace(/\t/g, '⇥') || '∅';
}

const percent = (logprob: number) => `${(Math.exp(logprob) * 100).toFixed(logprob > -4.6 ? 1 : 3)}%`;

export function TokenProbs({ probs }: { probs: TokenLogprobs[] }) {
  const [active, setActive] = useState<number | null>(null);
  const base = useId();
  const tip = `${base}-tip`;
  const cur = active === null ? null : probs[active];
  return (
    <div className="token-probs" role="group" aria-label="Tokens with their probabilities" onMouseLeave={() => setActive(null)}>
      <p className="token-text">
        {probs.map((p, i) => (
          <button
            type="button"
            key={i}
            className={`token${active === i ? ' active' : ''}`}
            // likelier tokens are paler: what stands out is what the model was unsure of
            style={{ ['--p' as string]: String(Math.exp(p.logprob)) }}
            aria-label={`${showToken(p.text)}: log-probability ${p.logprob.toFixed(2)}`}
            aria-describedby={active === i ? tip : undefined}
            onMouseEnter={() => setActive(i)}
            onFocus={() => setActive(i)}
            onBlur={() => setActive(null)}
          >
            {p.text}
          </button>
        ))}
      </p>
      {cur && (
        <div className="token-tip" role="tooltip" id={tip}>
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
        </div>
      )}
    </div>
  );
}
