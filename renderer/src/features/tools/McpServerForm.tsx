/**
 * Adding or changing an MCP server: a command Hearth starts (stdio: command, arguments one per line,
 * environment as NAME=value lines, working folder) or a Streamable HTTP URL (headers as `Name: value`
 * lines), with its result budget and time limit. The config is checked with the contract's schema
 * (McpServerConfig) before tools.servers.save. Environment and header values are secrets: a stored
 * one is never shown — editing shows its name with an empty value, which keeps it ("").
 */
import { FormEvent, useState } from 'react';
import type { McpServerStatusDTO } from '../../../../main/ipc/contract';
import { DEFAULT_RESULT_BUDGET_TOKENS, DEFAULT_TOOL_TIMEOUT_S, McpServerConfig } from '../../../../main/params';
import { useAppDispatch } from '../../app/hooks';
import { describeError } from '../../app/errors';
import { useUnsavedChanges } from '../../components/unsaved';
import { saveMcpServer } from './toolsSlice';

interface Draft {
  name: string;
  transport: 'stdio' | 'http';
  command: string;
  args: string;
  env: string;
  cwd: string;
  url: string;
  headers: string;
  budget: string;
  timeout: string;
}

/** Stored values never come back: a pair shows as its name with an empty value (kept). */
const pairLines = (pairs: Record<string, string>, sep: string) =>
  Object.keys(pairs)
    .map((k) => `${k}${sep}`)
    .join('\n');

function toDraft(s: McpServerStatusDTO | null): Draft {
  const c = s?.config;
  return {
    name: c?.name ?? '',
    transport: c?.transport ?? 'stdio',
    command: c?.transport === 'stdio' ? c.command : '',
    args: c?.transport === 'stdio' ? c.args.join('\n') : '',
    env: c?.transport === 'stdio' ? pairLines(c.env, '=') : '',
    cwd: c?.transport === 'stdio' ? c.cwd ?? '' : '',
    url: c?.transport === 'http' ? c.url : '',
    headers: c?.transport === 'http' ? pairLines(c.headers, ': ') : '',
    budget: String(c?.resultBudgetTokens ?? DEFAULT_RESULT_BUDGET_TOKENS),
    timeout: String(c?.timeoutSeconds ?? DEFAULT_TOOL_TIMEOUT_S),
  };
}

const lines = (text: string) => text.split(/\r?\n/).filter((l) => l.trim() !== '');

/** `NAME<sep>value` lines into pairs (a value left empty keeps the stored one), or the first bad line. */
export function parsePairs(text: string, sep: '=' | ':', what: string): Record<string, string> | { error: string } {
  const out: Record<string, string> = {};
  for (const l of lines(text)) {
    const at = l.indexOf(sep);
    const name = at > 0 ? l.slice(0, at).trim() : '';
    if (!name) return { error: `${what}: write each line as NAME${sep === '=' ? '=value' : ': value'} (“${l.trim()}”)` };
    out[name] = sep === ':' ? l.slice(at + 1).trim() : l.slice(at + 1);
  }
  return out;
}

/** The draft as McpServerConfig, or what is wrong with it. */
export function draftToConfig(d: Draft, enabled: boolean): { config: McpServerConfig } | { error: string } {
  const common = { name: d.name.trim(), enabled, resultBudgetTokens: Number(d.budget), timeoutSeconds: Number(d.timeout) };
  let raw: unknown;
  if (d.transport === 'stdio') {
    const env = parsePairs(d.env, '=', 'Environment');
    if ('error' in env) return { error: String(env.error) };
    raw = { transport: 'stdio', ...common, command: d.command.trim(), args: lines(d.args), env, cwd: d.cwd.trim() || null };
  } else {
    const headers = parsePairs(d.headers, ':', 'Headers');
    if ('error' in headers) return { error: String(headers.error) };
    raw = { transport: 'http', ...common, url: d.url.trim(), headers };
  }
  const parsed = McpServerConfig.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { error: `${issue?.path.join('.') || 'server'}: ${issue?.message ?? 'invalid'}` };
  }
  return { config: parsed.data };
}

export function McpServerForm({ server, onDone }: { server: McpServerStatusDTO | null; onDone: () => void }) {
  const dispatch = useAppDispatch();
  const [d, setD] = useState(() => toDraft(server));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useUnsavedChanges(JSON.stringify(d) !== JSON.stringify(toDraft(server)));
  const set = (patch: Partial<Draft>) => setD({ ...d, ...patch });
  const title = server ? `Edit ${server.name}` : 'Add an MCP server';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const r = draftToConfig(d, server?.config.enabled ?? true);
    if ('error' in r) return setError(r.error);
    setError(null);
    setBusy(true);
    const done = await dispatch(saveMcpServer({ ...(server ? { previousName: server.name } : {}), config: r.config }));
    setBusy(false);
    if (saveMcpServer.fulfilled.match(done)) onDone();
    else setError(done.payload ? describeError(done.payload) : 'The server was not saved.');
  };

  return (
    <form aria-label={title} className="stack mcp-form" onSubmit={(e) => void submit(e)}>
      <h4>{title}</h4>
      <div className="field">
        <label htmlFor="mcp-name">Name</label>
        <input id="mcp-name" value={d.name} required spellCheck={false} aria-describedby="mcp-name-hint" onChange={(e) => set({ name: e.target.value })} />
        <span className="hint" id="mcp-name-hint">
          Letters, digits, - and _: it prefixes its tools’ names.
        </span>
      </div>
      <fieldset className="radio-row">
        <legend>Transport</legend>
        {(['stdio', 'http'] as const).map((t) => (
          <label key={t} className={`radio-card${d.transport === t ? ' checked' : ''}`}>
            <input type="radio" name="mcp-transport" value={t} checked={d.transport === t} onChange={() => set({ transport: t })} />
            {t === 'stdio' ? 'Command (stdio)' : 'URL (HTTP)'}
          </label>
        ))}
      </fieldset>
      {d.transport === 'stdio' ? (
        <>
          <div className="field">
            <label htmlFor="mcp-command">Command</label>
            <input id="mcp-command" value={d.command} spellCheck={false} placeholder="npx" onChange={(e) => set({ command: e.target.value })} />
          </div>
          <div className="field">
            <label htmlFor="mcp-args">Arguments (one per line)</label>
            <textarea id="mcp-args" rows={3} value={d.args} spellCheck={false} onChange={(e) => set({ args: e.target.value })} />
          </div>
          <div className="field">
            <label htmlFor="mcp-env">Environment (NAME=value lines)</label>
            <textarea id="mcp-env" rows={3} value={d.env} spellCheck={false} aria-describedby="mcp-env-hint" onChange={(e) => set({ env: e.target.value })} />
            <span className="hint" id="mcp-env-hint">
              Values are kept as secrets and never shown again: {server ? 'a NAME= line left empty keeps its stored value (kept).' : 'they are stored when you save.'}
            </span>
          </div>
          <div className="field">
            <label htmlFor="mcp-cwd">Working folder</label>
            <input id="mcp-cwd" value={d.cwd} spellCheck={false} placeholder="(Hearth's data folder)" onChange={(e) => set({ cwd: e.target.value })} />
          </div>
        </>
      ) : (
        <>
          <div className="field">
            <label htmlFor="mcp-url">URL</label>
            <input id="mcp-url" type="url" value={d.url} spellCheck={false} placeholder="http://localhost:3000/mcp" onChange={(e) => set({ url: e.target.value })} />
          </div>
          <div className="field">
            <label htmlFor="mcp-headers">Headers (Name: value lines)</label>
            <textarea id="mcp-headers" rows={3} value={d.headers} spellCheck={false} aria-describedby="mcp-headers-hint" onChange={(e) => set({ headers: e.target.value })} />
            <span className="hint" id="mcp-headers-hint">
              Values are kept as secrets and never shown again: {server ? 'a “Name:” line left empty keeps its stored value (kept).' : 'they are stored when you save.'}
            </span>
          </div>
        </>
      )}
      <div className="row">
        <div className="field">
          <label htmlFor="mcp-budget">Result budget (tokens)</label>
          <input id="mcp-budget" type="number" inputMode="numeric" value={d.budget} onChange={(e) => set({ budget: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="mcp-timeout">Time limit (seconds)</label>
          <input id="mcp-timeout" type="number" inputMode="numeric" value={d.timeout} onChange={(e) => set({ timeout: e.target.value })} />
        </div>
      </div>
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
          {server ? 'Save server' : 'Add server'}
        </button>
      </div>
    </form>
  );
}
