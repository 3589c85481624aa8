/**
 * Settings → Tools: the call loop's step limit, web search (SearXNG's URL, or another provider's key,
 * kept in the secret store: the page shows only whether it is set), whether tools may reach the
 * private network, the built-in tools on or off, the tools always allowed, and the MCP servers
 * (./McpServers.tsx). The `tools` setting is saved whole (settings.update takes it whole).
 */
import { useState } from 'react';
import { TOOL_SECRET_NAMES } from '../../../../main/ipc/contract';
import { BUILTIN_TOOLS, builtinKey, SEARCH_PROVIDERS, SearchProvider, ToolSettings } from '../../../../main/params';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { useUnsavedChanges } from '../../components/unsaved';
import { selectSettings, updateSettings } from '../settings/settingsSlice';
import { McpServers } from './McpServers';
import { selectTools, setToolSecret } from './toolsSlice';

const DEFAULTS = ToolSettings.parse({});
const STEPS = ToolSettings.shape.maxSteps.removeDefault();

export const PROVIDER_LABELS: Record<SearchProvider, string> = { searxng: 'SearXNG', brave: 'Brave Search', serper: 'Serper', tavily: 'Tavily' };

/** The secret holding a provider's key (none for SearXNG). */
const secretOf = (p: SearchProvider) => TOOL_SECRET_NAMES.find((n) => n === `search.${p}`) ?? null;

function useToolSettings() {
  const dispatch = useAppDispatch();
  const tools = useAppSelector(selectSettings)?.tools ?? null;
  const save = (patch: Partial<ToolSettings>) => void dispatch(updateSettings({ tools: { ...(tools ?? DEFAULTS), ...patch } }));
  return { tools, save };
}

/** The step limit and SearXNG's URL: typed, then saved with the button. */
function LoopAndSearch() {
  const { tools, save } = useToolSettings();
  const saveError = useAppSelector((s) => s.settings.saveError);
  const t = tools ?? DEFAULTS;
  const [steps, setSteps] = useState<string | null>(null);
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [asked, setAsked] = useState(false);
  const stepsShown = steps ?? String(t.maxSteps);
  const urlShown = url ?? t.searxngUrl ?? '';
  const changed = stepsShown !== String(t.maxSteps) || urlShown !== (t.searxngUrl ?? '');
  useUnsavedChanges(changed);
  const submit = () => {
    const parsed = ToolSettings.safeParse({ ...t, maxSteps: Number(stepsShown), searxngUrl: urlShown.trim() || null });
    if (!parsed.success) return setError(parsed.error.issues[0]?.message ?? 'invalid');
    setError(null);
    setAsked(true);
    save({ maxSteps: parsed.data.maxSteps, searxngUrl: parsed.data.searxngUrl });
    setSteps(null);
    setUrl(null);
  };
  return (
    <form
      aria-label="Tool calls and web search"
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <div className="field">
        <label htmlFor="tools-steps">Step limit</label>
        <input id="tools-steps" type="number" inputMode="numeric" min={STEPS.minValue ?? 1} max={STEPS.maxValue ?? undefined} value={stepsShown} aria-describedby="tools-steps-hint" onChange={(e) => setSteps(e.target.value)} disabled={!tools} />
        <span className="hint" id="tools-steps-hint">
          The most generations of one turn; the last one answers without tools.
        </span>
      </div>
      <SearchProviderFields url={urlShown} onUrl={setUrl} />
      {(error || (asked && saveError)) && (
        <p role="alert" className="inline-error">
          {error ?? saveError}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="button primary" disabled={!changed}>
          Save tool settings
        </button>
      </div>
    </form>
  );
}

/** The provider (saved at once), SearXNG's URL (part of the form), or the provider's key (saved on its own to the secret store). */
function SearchProviderFields({ url, onUrl }: { url: string; onUrl: (v: string) => void }) {
  const dispatch = useAppDispatch();
  const { tools, save } = useToolSettings();
  const status = useAppSelector(selectTools).status;
  const provider = (tools ?? DEFAULTS).searchProvider;
  const secret = secretOf(provider);
  const isSet = !!secret && !!status?.secrets.includes(secret);
  const [key, setKey] = useState('');
  return (
    <fieldset className="chat-prefs">
      <legend>Web search</legend>
      <div className="field">
        <label htmlFor="tools-provider">Search provider</label>
        <select id="tools-provider" value={provider} disabled={!tools} onChange={(e) => save({ searchProvider: e.target.value as SearchProvider })}>
          {SEARCH_PROVIDERS.map((p) => (
            <option key={p} value={p}>
              {PROVIDER_LABELS[p]}
            </option>
          ))}
        </select>
      </div>
      {secret === null ? (
        <div className="field">
          <label htmlFor="tools-searxng">SearXNG URL</label>
          <input id="tools-searxng" type="url" value={url} placeholder="http://localhost:8080" spellCheck={false} onChange={(e) => onUrl(e.target.value)} />
          <span className="hint">A SearXNG instance with the JSON format on.</span>
        </div>
      ) : (
        <div className="field">
          <label htmlFor="tools-key">{PROVIDER_LABELS[provider]} API key</label>
          <input id="tools-key" type="password" autoComplete="off" value={key} placeholder={isSet ? '(set)' : ''} aria-describedby="tools-key-state" onChange={(e) => setKey(e.target.value)} />
          <span className="hint" id="tools-key-state">
            {isSet ? 'A key is set.' : 'No key set.'}
          </span>
          <div className="form-actions">
            {isSet && (
              <button type="button" className="button" onClick={() => void dispatch(setToolSecret({ name: secret, value: null }))}>
                Forget key
              </button>
            )}
            <button
              type="button"
              className="button"
              disabled={!key.trim()}
              onClick={() => {
                void dispatch(setToolSecret({ name: secret, value: key.trim() }));
                setKey('');
              }}
            >
              Save key
            </button>
          </div>
        </div>
      )}
    </fieldset>
  );
}

/** Private network, the built-ins, and the tools always allowed: each saved at once. */
function ToolSwitches() {
  const { tools, save } = useToolSettings();
  const status = useAppSelector(selectTools).status;
  const t = tools ?? DEFAULTS;
  const info = (key: string) => status?.tools.find((x) => x.key === key);
  return (
    <>
      <fieldset className="chat-prefs" disabled={!tools}>
        <legend>Built-in tools</legend>
        {BUILTIN_TOOLS.map((b) => (
          <div className="check" key={b}>
            <input id={`tools-builtin-${b}`} type="checkbox" checked={!t.disabledBuiltins.includes(b)} onChange={(e) => save({ disabledBuiltins: e.target.checked ? t.disabledBuiltins.filter((x) => x !== b) : [...t.disabledBuiltins, b] })} />
            <div>
              <label htmlFor={`tools-builtin-${b}`}>{b}</label>
              {info(builtinKey(b))?.description && <span className="hint">{info(builtinKey(b))?.description}</span>}
            </div>
          </div>
        ))}
        <div className="check">
          <input id="tools-private" type="checkbox" checked={t.allowPrivateNetwork} aria-describedby="tools-private-hint" onChange={(e) => save({ allowPrivateNetwork: e.target.checked })} />
          <div>
            <label htmlFor="tools-private">Allow private network addresses</label>
            <span className="hint" id="tools-private-hint">
              fetch_url and web search may reach this machine and the local network (off: public addresses only).
            </span>
          </div>
        </div>
      </fieldset>
      <fieldset className="chat-prefs" disabled={!tools}>
        <legend>Always allowed</legend>
        {t.alwaysAllowed.length === 0 ? (
          <p className="muted">No tool runs without asking. “Always allow this tool” on a call adds it here.</p>
        ) : (
          <ul aria-label="Tools always allowed" className="plain-list">
            {t.alwaysAllowed.map((key) => {
              const label = info(key)?.name ?? key;
              return (
                <li key={key}>
                  <span>{label}</span>{' '}
                  <button type="button" className="button small" aria-label={`Remove ${label} from always allowed`} onClick={() => save({ alwaysAllowed: t.alwaysAllowed.filter((k) => k !== key) })}>
                    Remove
                  </button>
                </li>
              );
            })}
          </ul>
        )}
      </fieldset>
    </>
  );
}

export function ToolsSettings() {
  const { loadError, actionError, status } = useAppSelector(selectTools);
  return (
    <div className="stack tools-settings">
      {status?.secretStore === 'file' && (
        <p role="note" className="notice warning">
          Keys and MCP servers’ secret values are kept in a file readable by your user only, not encrypted: there is no OS keychain here (browser mode, or a desktop without one).
        </p>
      )}
      {loadError && (
        <p role="alert" className="inline-error">
          {loadError}
        </p>
      )}
      <LoopAndSearch />
      <ToolSwitches />
      <McpServers />
      {actionError && (
        <p role="alert" className="inline-error">
          {actionError}
        </p>
      )}
    </div>
  );
}
