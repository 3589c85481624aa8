/**
 * Adding or changing a remote provider: a preset to start from (when adding: it fills the name, kind
 * and URL and says where the key comes from), name, kind, base URL, API key, extra headers, its
 * models (each with an optional context size) and whether it is on. The request is checked with the
 * contract's schema (ProviderSave) before providers.save. A kept key is never shown: editing a
 * provider with one, an empty key field keeps it (no apiKey sent), "Forget key" sends null.
 */
import { FormEvent, KeyboardEvent, useState } from 'react';
import { ProviderSave, type ProviderDTO } from '../../../../main/ipc/contract';
import { PROVIDER_KIND_LABELS, PROVIDER_KINDS, PROVIDER_PRESETS, type ProviderKind, type ProviderPresetId } from '../../../../main/params';
import { describeError } from '../../app/errors';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { useUnsavedChanges } from '../../components/unsaved';
import { saveProvider } from './providersSlice';

interface Draft {
  preset: ProviderPresetId | '';
  name: string;
  kind: ProviderKind;
  baseUrl: string;
  apiKey: string;
  /** the kept key is forgotten on save */
  forgetKey: boolean;
  headers: { name: string; value: string }[];
  models: { id: string; contextSize: string }[];
  newModel: string;
  enabled: boolean;
}

function toDraft(p: ProviderDTO | null): Draft {
  return {
    preset: '',
    name: p?.name ?? '',
    kind: p?.kind ?? PROVIDER_KINDS[0],
    baseUrl: p?.baseUrl ?? '',
    apiKey: '',
    forgetKey: false,
    headers: Object.entries(p?.headers ?? {}).map(([name, value]) => ({ name, value })),
    models: (p?.models ?? []).map((m) => ({ id: m.id, contextSize: m.contextSize === null ? '' : String(m.contextSize) })),
    newModel: '',
    enabled: p?.enabled ?? true,
  };
}

/** The draft as providers.save's request, or what is wrong with it. */
export function draftToSave(d: Draft, p: ProviderDTO | null): { save: ProviderSave } | { error: string } {
  const headers: Record<string, string> = {};
  for (const [i, h] of d.headers.entries()) {
    const name = h.name.trim();
    if (!name && !h.value.trim()) continue;
    if (!name) return { error: `Header ${i + 1} has a value but no name.` };
    if (name in headers) return { error: `The header ${name} is listed twice.` };
    headers[name] = h.value.trim();
  }
  const models = d.models.map((m) => ({ id: m.id, contextSize: m.contextSize.trim() === '' ? null : Number(m.contextSize) }));
  const key = d.apiKey.trim();
  // absent: the kept key stays (or none is set); a typed one replaces it; null forgets it
  const apiKey = key ? key : d.forgetKey ? null : undefined;
  const raw = {
    provider: { ...(p ? { id: p.id } : {}), name: d.name, kind: d.kind, baseUrl: d.baseUrl, headers, models, enabled: d.enabled },
    ...(apiKey !== undefined ? { apiKey } : {}),
  };
  const parsed = ProviderSave.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.filter((x) => x !== 'provider').join('.');
    return { error: `${path ? `${path}: ` : ''}${issue?.message ?? 'invalid'}` };
  }
  return { save: parsed.data };
}

export function ProviderForm({ provider, onDone }: { provider: ProviderDTO | null; onDone: () => void }) {
  const dispatch = useAppDispatch();
  const [d, setD] = useState(() => toDraft(provider));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useUnsavedChanges(JSON.stringify(d) !== JSON.stringify(toDraft(provider)));
  const set = (patch: Partial<Draft>) => setD({ ...d, ...patch });
  const title = provider ? `Edit ${provider.name}` : 'Add a provider';
  const preset = PROVIDER_PRESETS.find((p) => p.id === d.preset);
  const keyKept = provider?.key === 'set' && !d.forgetKey;
  const keyStorage = useAppSelector((s) => s.providers.status?.keyStorage);

  const pickPreset = (id: string) => {
    const p = PROVIDER_PRESETS.find((x) => x.id === id);
    setD(p ? { ...d, preset: p.id, name: p.name, kind: p.kind, baseUrl: p.baseUrl } : { ...d, preset: '' });
  };
  const addModel = () => {
    const id = d.newModel.trim();
    if (!id) return;
    if (d.models.some((m) => m.id === id)) return setError(`${id} is listed already.`);
    setError(null);
    set({ models: [...d.models, { id, contextSize: '' }], newModel: '' });
  };
  const onNewModelKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    addModel();
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = draftToSave(d, provider);
    if ('error' in r) return setError(r.error);
    setError(null);
    setBusy(true);
    const done = await dispatch(saveProvider(r.save));
    setBusy(false);
    if (saveProvider.fulfilled.match(done)) onDone();
    else setError(done.payload ? describeError(done.payload) : 'The provider was not saved.');
  };

  return (
    <form aria-label={title} className="stack provider-form" noValidate onSubmit={(e) => void submit(e)}>
      <h4>{title}</h4>
      {!provider && (
        <div className="field">
          <label htmlFor="provider-preset">Preset</label>
          <select id="provider-preset" value={d.preset} aria-describedby={preset ? 'provider-preset-help' : undefined} onChange={(e) => pickPreset(e.target.value)}>
            <option value="">Custom</option>
            {PROVIDER_PRESETS.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
          {preset && (
            <span className="hint" id="provider-preset-help">
              {preset.help}
              {preset.needsKey ? ' It needs an API key.' : ''}
            </span>
          )}
        </div>
      )}
      <div className="row">
        <div className="field">
          <label htmlFor="provider-name">Name</label>
          <input id="provider-name" value={d.name} spellCheck={false} onChange={(e) => set({ name: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="provider-kind">Kind</label>
          <select id="provider-kind" value={d.kind} onChange={(e) => set({ kind: e.target.value as ProviderKind })}>
            {PROVIDER_KINDS.map((k) => (
              <option key={k} value={k}>
                {PROVIDER_KIND_LABELS[k]}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="field">
        <label htmlFor="provider-url">Base URL</label>
        <input id="provider-url" type="url" value={d.baseUrl} spellCheck={false} placeholder="https://api.example.com/v1" onChange={(e) => set({ baseUrl: e.target.value })} />
      </div>
      <div className="field">
        <label htmlFor="provider-key">API key</label>
        <input id="provider-key" type="password" autoComplete="off" value={d.apiKey} spellCheck={false} aria-describedby="provider-key-hint" onChange={(e) => set({ apiKey: e.target.value })} />
        <span className="hint" id="provider-key-hint">
          {keyKept
            ? `A key is kept (${provider?.keyHint ?? 'set'}): leave this empty to keep it, or type a new one. Moved to another address or kind, it is forgotten unless you type it again.`
            : d.forgetKey
              ? 'The kept key is forgotten when you save.'
              : `Kept ${keyStorage === 'file' ? 'in a file only you can read' : 'in the OS keychain'}, never shown again.`}
        </span>
        {provider?.key === 'set' && (
          <div className="form-actions">
            <button type="button" className="button small" aria-pressed={d.forgetKey} onClick={() => set({ forgetKey: !d.forgetKey, apiKey: '' })}>
              {d.forgetKey ? 'Keep key' : 'Forget key'}
            </button>
          </div>
        )}
      </div>
      <fieldset className="chat-prefs">
        <legend>Extra headers</legend>
        {d.headers.length === 0 ? (
          <p className="muted">None. The API key's header is set by Hearth.</p>
        ) : (
          <p className="muted">Their values are kept like the key and never shown again: leave a kept one empty to keep it.</p>
        )}
        {d.headers.map((h, i) => (
          <div className="row header-row" key={i}>
            <input aria-label={`Header ${i + 1} name`} value={h.name} spellCheck={false} placeholder="Name" onChange={(e) => set({ headers: d.headers.map((x, j) => (j === i ? { ...x, name: e.target.value } : x)) })} />
            <input aria-label={`Header ${i + 1} value`} value={h.value} spellCheck={false} placeholder={provider && h.name in provider.headers ? 'Kept: type to replace' : 'Value'} onChange={(e) => set({ headers: d.headers.map((x, j) => (j === i ? { ...x, value: e.target.value } : x)) })} />
            <button type="button" className="button small" aria-label={`Remove header ${i + 1}`} onClick={() => set({ headers: d.headers.filter((_, j) => j !== i) })}>
              Remove
            </button>
          </div>
        ))}
        <div className="form-actions">
          <button type="button" className="button small" onClick={() => set({ headers: [...d.headers, { name: '', value: '' }] })}>
            Add header
          </button>
        </div>
      </fieldset>
      <fieldset className="chat-prefs">
        <legend>Models</legend>
        {d.models.length === 0 ? (
          <p className="muted">None listed: add them here, or use Refresh models once the provider is saved{provider ? '' : ' (Hearth asks it when it is added)'}.</p>
        ) : (
          <ul aria-label="Models" className="plain-list provider-models">
            {d.models.map((m) => (
              <li key={m.id} aria-label={m.id} className="row">
                <code className="provider-model-id">{m.id}</code>
                <input
                  className="narrow"
                  type="number"
                  inputMode="numeric"
                  aria-label={`Context size of ${m.id}`}
                  placeholder="context"
                  title="Its context in tokens (empty: 32,768)"
                  value={m.contextSize}
                  onChange={(e) => set({ models: d.models.map((x) => (x.id === m.id ? { ...x, contextSize: e.target.value } : x)) })}
                />
                <button type="button" className="button small" aria-label={`Remove model ${m.id}`} onClick={() => set({ models: d.models.filter((x) => x.id !== m.id) })}>
                  Remove
                </button>
              </li>
            ))}
          </ul>
        )}
        <div className="row">
          <input aria-label="Model to add" value={d.newModel} spellCheck={false} placeholder="e.g. gpt-4o" onKeyDown={onNewModelKey} onChange={(e) => set({ newModel: e.target.value })} />
          <button type="button" className="button small" disabled={!d.newModel.trim()} onClick={addModel}>
            Add model
          </button>
        </div>
      </fieldset>
      <label className="check-inline">
        <input type="checkbox" checked={d.enabled} onChange={(e) => set({ enabled: e.target.checked })} /> Enabled
      </label>
      {error && (
        <p role="alert" className="inline-error">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button type="button" className="button" onClick={onDone}>
          Cancel
        </button>
        <button type="submit" className="button primary" disabled={busy}>
          {provider ? 'Save provider' : 'Add provider'}
        </button>
      </div>
    </form>
  );
}
