/**
 * Settings → Local API server: the toggle (the `apiServer.enabled` setting, off by default; shown on
 * while a server runs, as under `hearth serve --api`), where the
 * server is (running at its URL, stopped, failed and why), its address, CORS origins, allowed host names and model
 * time-to-live saved with Save (only the fields changed), the API key (masked; Copy, New key, and
 * Remove key on loopback), a curl and a Python snippet,
 * and the last requests. All through api.update / api.status and the api.changed event
 * (../apiServer/apiServerSlice.ts); the clipboard is written by ../apiServer/listeners.ts.
 */
import { FormEvent, useEffect, useId, useState } from 'react';
import { type ApiServerSettingsInput, type ApiStatusDTO, keyNeeded } from '../../../../main/ipc/api';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { baseUrlOf, copyRequested, curlSnippet, isLoopbackName, maskKey, pythonSnippet, selectApiServer, updateApiServer } from '../apiServer/apiServerSlice';
import { selectLoadableModels } from '../models/modelsSlice';

/** The saved fields the form edits, as the text typed. */
interface Form {
  host: string;
  port: string;
  corsOrigins: string;
  allowedHosts: string;
  modelTtlMinutes: string;
}

const formOf = (s: ApiStatusDTO['settings']): Form => ({
  host: s.host,
  port: String(s.port),
  corsOrigins: s.corsOrigins.join(', '),
  allowedHosts: s.allowedHosts.join(', '),
  modelTtlMinutes: String(s.modelTtlMinutes),
});

/** A whole number typed, else the text itself (main refuses it, naming the field). */
const num = (t: string): number => (/^\s*\d+\s*$/.test(t) ? Number(t) : NaN);
/** A comma-separated list typed, as its items. */
const list = (t: string): string[] => t.split(',').map((o) => o.trim()).filter(Boolean);

/** The form's fields as settings: only those changed from `saved`, so a field left alone keeps its saved value. */
function patchOf(form: Form, saved: Form): Partial<ApiServerSettingsInput> {
  const all: Partial<ApiServerSettingsInput> = {
    host: form.host.trim(),
    port: num(form.port),
    corsOrigins: list(form.corsOrigins),
    allowedHosts: list(form.allowedHosts),
    modelTtlMinutes: num(form.modelTtlMinutes),
  };
  return Object.fromEntries(Object.entries(all).filter(([k]) => form[k as keyof Form] !== saved[k as keyof Form]));
}

function phaseText(st: ApiStatusDTO): string {
  switch (st.phase) {
    case 'running':
      return `Running at ${st.url}`;
    case 'starting':
      return 'Starting…';
    case 'failed':
      return `Failed: ${st.error ?? 'the server did not start'}`;
    default:
      return 'Stopped';
  }
}

function Snippet({ title, text, what }: { title: string; text: string; what: string }) {
  const dispatch = useAppDispatch();
  const id = useId();
  return (
    <div className="api-snippet">
      <div className="api-snippet-head">
        <span id={id}>{title}</span>
        <button type="button" className="button" onClick={() => dispatch(copyRequested({ what, text }))}>
          Copy {what}
        </button>
      </div>
      <pre aria-labelledby={id} tabIndex={0}>
        <code>{text}</code>
      </pre>
    </div>
  );
}

function Requests({ requests }: { requests: ApiStatusDTO['requests'] }) {
  if (!requests.length) return <p className="hint">No requests yet.</p>;
  return (
    <div className="api-requests">
      <table>
        <caption>Last requests</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Method</th>
            <th scope="col">Path</th>
            <th scope="col">Status</th>
            <th scope="col">ms</th>
            <th scope="col">Model</th>
            <th scope="col">Tokens</th>
          </tr>
        </thead>
        <tbody>
          {requests.map((r, i) => (
            <tr key={`${r.at}-${i}`} className={r.status >= 400 ? 'api-request-failed' : undefined} title={r.error ?? undefined}>
              <td>{new Date(r.at).toLocaleTimeString()}</td>
              <td>{r.method}</td>
              <td>{r.path}</td>
              <td>{r.status}</td>
              <td>{Math.round(r.ms)}</td>
              <td>{r.model ?? '—'}</td>
              <td>{r.tokens ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ApiServerSection() {
  const dispatch = useAppDispatch();
  const { status, loadError, saving, saveError } = useAppSelector(selectApiServer);
  const models = useAppSelector(selectLoadableModels);
  const [form, setForm] = useState<Form | null>(null);
  const saved = status ? formOf(status.settings) : null;
  // the form follows the saved values when they change (a save, another window), not each status event
  const savedKey = JSON.stringify(saved);
  useEffect(() => {
    if (saved) setForm(saved);
  }, [savedKey]);

  if (loadError) return <p role="alert">{loadError}</p>;
  if (!status || !form) return <p role="status">Asking Hearth about its API server…</p>;

  const s = status.settings;
  const model = status.models[0]?.name ?? models[0]?.name ?? 'MODEL';
  const changed = JSON.stringify(form) !== savedKey;
  const set = (k: keyof Form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const save = (e: FormEvent) => {
    e.preventDefault();
    if (saved) void dispatch(updateApiServer({ settings: patchOf(form, saved) }));
  };
  // on while the saved setting says so, and while a server runs (`hearth serve --api` starts one with the setting off)
  const on = s.enabled || status.phase === 'running' || status.phase === 'starting';
  const loopback = isLoopbackName(s.host);
  const keyWhy = keyNeeded(s, loopback);

  return (
    <div className="stack api-server">
      <div className="check">
        <input
          id="api-enabled"
          type="checkbox"
          role="switch"
          aria-checked={on}
          checked={on}
          disabled={saving}
          aria-describedby="api-enabled-hint"
          onChange={() => void dispatch(updateApiServer({ settings: { enabled: !on } }))}
        />
        <div>
          <label htmlFor="api-enabled">Local API server</label>
          <span className="hint" id="api-enabled-hint">
            Tools written for OpenAI, Anthropic or Ollama can use your models through Hearth. Remembered: it starts with Hearth while on.
          </span>
        </div>
      </div>
      <p role="status" aria-label="API server status" className={`api-status api-status-${status.phase}`}>
        {phaseText(status)}
      </p>

      <form className="stack" aria-label="API server settings" onSubmit={save}>
        <div className="api-fields">
          <label>
            Host
            <input value={form.host} onChange={set('host')} spellCheck={false} aria-describedby="api-host-hint" />
          </label>
          <label>
            Port
            <input value={form.port} onChange={set('port')} inputMode="numeric" />
          </label>
          <label>
            Model time-to-live (minutes)
            <input value={form.modelTtlMinutes} onChange={set('modelTtlMinutes')} inputMode="numeric" aria-describedby="api-ttl-hint" />
          </label>
        </div>
        <span className="hint" id="api-host-hint">
          127.0.0.1 keeps the server on this machine, where a key is optional — but when one is set, every client must send it. Any other address always needs
          the key below (one is generated).
        </span>
        <span className="hint" id="api-ttl-hint">
          A model the API loaded is unloaded after this many minutes without requests (0: never).
        </span>
        <label>
          CORS origins (comma-separated)
          <input value={form.corsOrigins} onChange={set('corsOrigins')} placeholder="none: no web page may call the API" spellCheck={false} aria-describedby="api-cors-hint" />
        </label>
        <span className="hint" id="api-cors-hint">
          Pages of these origins (such as http://localhost:3000) may call the API. * lets any web page you open call it, so it needs the key below (one is generated).
        </span>
        <label>
          Allowed host names (comma-separated)
          <input
            value={form.allowedHosts}
            onChange={set('allowedHosts')}
            placeholder="none beyond this machine's names and addresses"
            spellCheck={false}
            aria-describedby="api-hosts-hint"
          />
        </label>
        <span className="hint" id="api-hosts-hint">
          Names clients may use in the Host header besides this machine's, such as box.local to reach it by a LAN name.
        </span>
        {saveError && <p role="alert">{saveError}</p>}
        <div className="form-actions">
          <button type="button" className="button" disabled={!changed || saving} onClick={() => setForm(saved)}>
            Revert
          </button>
          <button type="submit" className="button primary" disabled={!changed || saving}>
            Save
          </button>
        </div>
      </form>

      <div className="api-key">
        <span id="api-key-label">API key</span>
        <code aria-labelledby="api-key-label">{s.apiKey ? maskKey(s.apiKey) : 'none (not needed on this machine)'}</code>
        {s.apiKey && (
          <button type="button" className="button" onClick={() => dispatch(copyRequested({ what: 'API key', text: s.apiKey! }))}>
            Copy API key
          </button>
        )}
        <button type="button" className="button" disabled={saving} onClick={() => void dispatch(updateApiServer({ settings: {}, regenerateKey: true }))}>
          New key
        </button>
        {s.apiKey && (
          <button
            type="button"
            className="button"
            disabled={saving || keyWhy !== null}
            title={keyWhy === null ? undefined : `${keyWhy[0].toUpperCase()}${keyWhy.slice(1)} always needs a key`}
            onClick={() => void dispatch(updateApiServer({ settings: { apiKey: null } }))}
          >
            Remove key
          </button>
        )}
      </div>
      <p className="hint">
        OpenAI clients: base URL <code>{baseUrlOf(status)}/v1</code>. Anthropic clients: <code>{baseUrlOf(status)}</code>. Ollama clients: <code>{baseUrlOf(status)}</code>.
        {s.apiKey && ' The snippets read the key from HEARTH_API_KEY.'}
      </p>
      <Snippet title="curl" what="curl command" text={curlSnippet(status, model)} />
      <Snippet title="Python (openai)" what="Python code" text={pythonSnippet(status, model)} />
      <Requests requests={status.requests} />
    </div>
  );
}
