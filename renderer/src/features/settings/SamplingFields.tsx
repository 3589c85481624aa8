/**
 * A chat's sampling and request settings as form fields, generated from their definitions in
 * main/params (label, help, unit, bounds, step, advanced or not): a new parameter there appears here
 * with no code. A blank field means "the default".
 */
import { useEffect, useId, useState } from 'react';
import { CHAT_SETTINGS_META, ChatSettingKey, ChatSettings, KeyedMeta } from '../../../../main/params';
import type { SamplingDTO } from '../../../../main/ipc/contract';

type Key = ChatSettingKey;
export type SamplingStrings = Partial<Record<Key, string>>;

export const SAMPLING_FIELDS: readonly KeyedMeta<Key>[] = CHAT_SETTINGS_META;

function rangeError(f: KeyedMeta<Key>): string {
  return `${f.label} must be ${f.kind === 'integer' ? 'a whole number ' : ''}between ${f.min} and ${f.max}.`;
}

/** One field's text → its value, or a sentence saying why not. */
function parseField(f: KeyedMeta<Key>, raw: string): { value: unknown } | { error: string } {
  switch (f.kind) {
    case 'number':
    case 'integer': {
      const n = Number(raw);
      if (!Number.isFinite(n) || n < f.min! || n > f.max! || (f.kind === 'integer' && !Number.isInteger(n))) return { error: rangeError(f) };
      return { value: n };
    }
    case 'choice': {
      const o = f.options!.find((x) => String(x.value) === raw);
      return o ? { value: o.value } : { error: `${f.label} must be one of ${f.options!.map((x) => x.label).join(', ')}.` };
    }
    case 'boolean':
      if (raw === 'true' || raw === 'false') return { value: raw === 'true' };
      return { error: `${f.label} must be on or off.` };
    case 'strings': {
      try {
        const v: unknown = JSON.parse(raw);
        if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return { value: v };
      } catch {
        /* below */
      }
      return { error: `${f.label} must be a JSON list of strings, like ["\\n", "###"].` };
    }
    default:
      return { error: `${f.label} cannot be set here.` };
  }
}

/** Form strings → settings (blank = unset), or the first problem as a sentence. */
export function parseSampling(values: SamplingStrings): { value: SamplingDTO } | { error: string } {
  const out: Record<string, unknown> = {};
  for (const f of SAMPLING_FIELDS) {
    const raw = values[f.key]?.trim() ?? '';
    if (raw === '') continue;
    const r = parseField(f, raw);
    if ('error' in r) return r;
    out[f.key] = r.value;
  }
  const parsed = ChatSettings.safeParse(out);
  if (parsed.success) return { value: parsed.data };
  const issue = parsed.error.issues[0];
  const label = SAMPLING_FIELDS.find((f) => f.key === issue?.path[0])?.label;
  return { error: `${label ? `${label}: ` : ''}${issue?.message ?? 'invalid value'}` };
}

export function samplingToStrings(s: SamplingDTO | undefined): SamplingStrings {
  const out: SamplingStrings = {};
  for (const f of SAMPLING_FIELDS) {
    const v = s?.[f.key];
    if (v !== undefined) out[f.key] = f.kind === 'strings' ? JSON.stringify(v) : String(v);
  }
  return out;
}

function FieldInput({ f, id, value, onChange }: { f: KeyedMeta<Key>; id: string; value: string; onChange: (v: string) => void }) {
  const common = { id, value, 'aria-describedby': `${id}-hint`, onChange: (e: { target: { value: string } }) => onChange(e.target.value) };
  if (f.kind === 'choice') {
    return (
      <select {...common}>
        <option value="">default</option>
        {f.options!.map((o) => (
          <option key={String(o.value)} value={String(o.value)}>
            {o.label}
          </option>
        ))}
      </select>
    );
  }
  if (f.kind === 'boolean') {
    return (
      <select {...common}>
        <option value="">default ({f.default ? 'on' : 'off'})</option>
        <option value="true">On</option>
        <option value="false">Off</option>
      </select>
    );
  }
  if (f.kind === 'strings') return <input {...common} type="text" spellCheck={false} placeholder={f.default !== undefined ? JSON.stringify(f.default) : 'default'} />;
  return <input {...common} type="number" inputMode="decimal" min={f.min} max={f.max} step={f.step} placeholder="default" />;
}

function Fields({ fields, values, onChange, base }: { fields: readonly KeyedMeta<Key>[]; values: SamplingStrings; onChange: (v: SamplingStrings) => void; base: string }) {
  return (
    <div className="sampling-grid">
      {fields.map((f) => (
        <div key={f.key} className="field">
          <label htmlFor={`${base}-${f.key}`}>{f.label}</label>
          <FieldInput f={f} id={`${base}-${f.key}`} value={values[f.key] ?? ''} onChange={(v) => onChange({ ...values, [f.key]: v })} />
          <span className="hint" id={`${base}-${f.key}-hint`}>
            {f.help}
            {f.unit ? ` In ${f.unit}.` : ''}
          </span>
        </div>
      ))}
    </div>
  );
}

export function SamplingFields({ values, onChange }: { values: SamplingStrings; onChange: (v: SamplingStrings) => void }) {
  const base = useId();
  const advanced = SAMPLING_FIELDS.filter((f) => f.advanced);
  // opens by itself when an advanced setting is set, so nothing set is hidden
  const anyAdvancedSet = advanced.some((f) => (values[f.key] ?? '') !== '');
  const [open, setOpen] = useState(anyAdvancedSet);
  useEffect(() => {
    if (anyAdvancedSet) setOpen(true);
  }, [anyAdvancedSet]);
  return (
    <div className="sampling-fields">
      <Fields fields={SAMPLING_FIELDS.filter((f) => !f.advanced)} values={values} onChange={onChange} base={base} />
      {/* the group is named by its summary (a <details> has no name of its own) */}
      <details className="advanced" aria-labelledby={`${base}-advanced`} open={open} onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
        <summary id={`${base}-advanced`}>Advanced sampling</summary>
        <Fields fields={advanced} values={values} onChange={onChange} base={base} />
      </details>
    </div>
  );
}
