/** Sampling parameters as labelled number fields; a blank field means "the model's default". */
import { useId } from 'react';
import { SamplingDTO } from '../../../../main/ipc/contract';

type Key = keyof SamplingDTO;

export const SAMPLING_FIELDS: { key: Key; label: string; min: number; max: number; step: number; int?: boolean; hint: string }[] = [
  { key: 'temperature', label: 'Temperature', min: 0, max: 5, step: 0.05, hint: 'Higher is more varied; 0 always picks the likeliest token.' },
  { key: 'topK', label: 'Top K', min: 0, max: 1000, step: 1, int: true, hint: 'Sample from this many likeliest tokens (0 = all).' },
  { key: 'topP', label: 'Top P', min: 0, max: 1, step: 0.01, hint: 'Sample from the likeliest tokens adding up to this probability.' },
  { key: 'minP', label: 'Min P', min: 0, max: 1, step: 0.01, hint: 'Drop tokens less likely than this fraction of the top one.' },
  { key: 'repeatPenalty', label: 'Repeat penalty', min: 0, max: 10, step: 0.05, hint: 'Above 1 discourages repeating recent tokens.' },
  { key: 'maxTokens', label: 'Max tokens', min: -1, max: 1 << 20, step: 1, int: true, hint: 'Longest reply; -1 = until the context is full.' },
  { key: 'seed', label: 'Seed', min: 0, max: 0xffffffff, step: 1, int: true, hint: 'Same seed, same reply; blank = random.' },
];

/** Form strings → SamplingDTO (blank = unset); null with a message when a value is out of range. */
export function parseSampling(values: Partial<Record<Key, string>>): { value: SamplingDTO } | { error: string } {
  const out: Record<string, number> = {};
  for (const f of SAMPLING_FIELDS) {
    const raw = values[f.key]?.trim() ?? '';
    if (raw === '') continue;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < f.min || n > f.max || (f.int && !Number.isInteger(n))) {
      return { error: `${f.label} must be ${f.int ? 'a whole number ' : ''}between ${f.min} and ${f.max}.` };
    }
    out[f.key] = n;
  }
  const parsed = SamplingDTO.safeParse(out);
  return parsed.success ? { value: parsed.data } : { error: parsed.error.issues[0]?.message ?? 'invalid value' };
}

export function samplingToStrings(s: SamplingDTO | undefined): Partial<Record<Key, string>> {
  const out: Partial<Record<Key, string>> = {};
  for (const f of SAMPLING_FIELDS) if (s?.[f.key] !== undefined) out[f.key] = String(s[f.key]);
  return out;
}

export function SamplingFields({ values, onChange }: { values: Partial<Record<Key, string>>; onChange: (v: Partial<Record<Key, string>>) => void }) {
  const base = useId();
  return (
    <div className="sampling-grid">
      {SAMPLING_FIELDS.map((f) => (
        <div key={f.key} className="field">
          <label htmlFor={`${base}-${f.key}`}>{f.label}</label>
          <input
            id={`${base}-${f.key}`}
            type="number"
            inputMode="decimal"
            min={f.min}
            max={f.max}
            step={f.step}
            placeholder="default"
            value={values[f.key] ?? ''}
            aria-describedby={`${base}-${f.key}-hint`}
            onChange={(e) => onChange({ ...values, [f.key]: e.target.value })}
          />
          <span className="hint" id={`${base}-${f.key}-hint`}>
            {f.hint}
          </span>
        </div>
      ))}
    </div>
  );
}
