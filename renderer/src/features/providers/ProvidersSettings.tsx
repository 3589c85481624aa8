/**
 * Settings → Providers: whether remote providers are allowed at all, where their keys are kept (a
 * warning when in a plain file), each provider (kind, URL, its key masked, its models, on or off)
 * with Edit, Refresh models (the provider's list, its refusal in its own words) and Remove (asked
 * first), and "Add provider" (./ProviderForm.tsx).
 */
import { useEffect, useRef, useState } from 'react';
import type { ProviderDTO } from '../../../../main/ipc/contract';
import { PROVIDER_KIND_LABELS } from '../../../../main/params';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { ProviderForm } from './ProviderForm';
import { allowRemoteProviders, deleteProvider, providerConfigOf, refreshProviderModels, saveProvider, selectProviders } from './providersSlice';

function RemoveProvider({ provider }: { provider: ProviderDTO }) {
  const dispatch = useAppDispatch();
  const busy = useAppSelector(selectProviders).busy;
  const [asking, setAsking] = useState(false);
  const keepRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) keepRef.current?.focus();
  }, [asking]);
  const { name } = provider;
  if (!asking) {
    return (
      <button type="button" className="button small danger" aria-label={`Remove ${name}`} disabled={busy} onClick={() => setAsking(true)}>
        Remove
      </button>
    );
  }
  return (
    <span className="cancel-confirm" role="group" aria-label={`Remove ${name}?`}>
      <span>Remove {name} and forget its key? Chats on its models can no longer reply.</span>
      <button type="button" className="button small" ref={keepRef} aria-label={`Keep ${name}`} onClick={() => setAsking(false)}>
        Keep
      </button>
      <button type="button" className="button small danger-fill" aria-label={`Confirm removing ${name}`} disabled={busy} onClick={() => void dispatch(deleteProvider(provider.id))}>
        Remove
      </button>
    </span>
  );
}

function ProviderItem({ provider, onEdit }: { provider: ProviderDTO; onEdit: () => void }) {
  const dispatch = useAppDispatch();
  const { busy, refreshing, refreshErrors } = useAppSelector(selectProviders);
  const { id, name, models } = provider;
  const refreshError = refreshErrors[id];
  return (
    <li className="mcp-server provider" aria-label={name}>
      <div className="mcp-server-head">
        <strong>{name}</strong>
        <span className="badge">{PROVIDER_KIND_LABELS[provider.kind]}</span>
        <code className="mcp-where" title={provider.baseUrl}>
          {provider.baseUrl}
        </code>
      </div>
      <div className="muted provider-facts">
        <span aria-label={`Key of ${name}`}>{provider.keyHint ? `Key ${provider.keyHint}` : 'No key'}</span>
        {' · '}
        {models.length === 0 ? (
          'No models'
        ) : (
          <details className="provider-model-list">
            <summary>
              {models.length} {models.length === 1 ? 'model' : 'models'}
            </summary>
            <ul aria-label={`Models of ${name}`} className="plain-list">
              {models.map((m) => (
                <li key={m.id}>
                  <code>{m.id}</code>
                  {m.contextSize !== null && <span className="muted"> — {m.contextSize.toLocaleString('en-US')} tokens</span>}
                </li>
              ))}
            </ul>
          </details>
        )}
      </div>
      {refreshError && (
        <p role="alert" className="inline-error">
          {refreshError}
        </p>
      )}
      <div className="form-actions">
        <label className="check-inline">
          <input type="checkbox" aria-label={`${name} enabled`} checked={provider.enabled} disabled={busy} onChange={(e) => void dispatch(saveProvider({ provider: { ...providerConfigOf(provider), enabled: e.target.checked } }))} /> Enabled
        </label>
        <button type="button" className="button small" aria-label={`Edit ${name}`} onClick={onEdit}>
          Edit
        </button>
        <button type="button" className="button small" aria-label={`Refresh models of ${name}`} disabled={!!refreshing[id]} onClick={() => void dispatch(refreshProviderModels(id))}>
          {refreshing[id] ? 'Refreshing…' : 'Refresh models'}
        </button>
        <RemoveProvider provider={provider} />
      </div>
    </li>
  );
}

export function ProvidersSettings() {
  const dispatch = useAppDispatch();
  const { status, loadError, busy, actionError } = useAppSelector(selectProviders);
  // the provider being edited (its id), a new one (''), or none
  const [editing, setEditing] = useState<string | null>(null);
  const edited = editing ? status?.providers.find((p) => p.id === editing) ?? null : null;
  if (!status) {
    return loadError ? (
      <p role="alert" className="inline-error">
        {loadError}
      </p>
    ) : (
      <p className="muted">Asking Hearth…</p>
    );
  }
  return (
    <div className="stack providers">
      <div className="check">
        <input
          id="providers-allow"
          type="checkbox"
          role="switch"
          aria-checked={status.allowRemote}
          checked={status.allowRemote}
          disabled={busy}
          aria-describedby="providers-allow-hint"
          onChange={() => void dispatch(allowRemoteProviders(!status.allowRemote))}
        />
        <div>
          <label htmlFor="providers-allow">Allow remote providers</label>
          <span className="hint" id="providers-allow-hint">
            A chat on a remote model sends its messages (and its documents' passages, images and tool results) to that provider. Off: nothing is sent anywhere, and the model picker lists local models only.
          </span>
        </div>
      </div>
      {status.warnings.map((w) => (
        <p key={w} role="note" className="notice warning">
          {w}
        </p>
      ))}
      {actionError && editing === null && (
        <p role="alert" className="inline-error">
          {actionError}
        </p>
      )}
      <section className="stack" aria-labelledby="providers-title">
        <h4 id="providers-title">Your providers</h4>
        {status.providers.length === 0 ? (
          <p className="muted">None yet: add OpenAI, Anthropic, OpenRouter, Groq, Mistral, or a server on your network.</p>
        ) : (
          <ul aria-label="Providers" className="plain-list mcp-servers">
            {status.providers.map((p) => (
              <ProviderItem key={p.id} provider={p} onEdit={() => setEditing(p.id)} />
            ))}
          </ul>
        )}
        {editing !== null ? (
          <ProviderForm key={editing} provider={edited} onDone={() => setEditing(null)} />
        ) : (
          <div className="form-actions">
            <button type="button" className="button" onClick={() => setEditing('')}>
              Add provider
            </button>
          </div>
        )}
      </section>
    </div>
  );
}
