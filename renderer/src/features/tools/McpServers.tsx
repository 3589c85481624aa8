/**
 * Settings → Tools → MCP servers: each configured server with its state (a failed one with the tail
 * of its stderr, as text), its tools, and its actions (enable, restart, edit, delete); the form to
 * add or change one (./McpServerForm.tsx); and the import of another app's MCP config, found on this
 * machine (one click each) or pasted.
 */
import { useState } from 'react';
import type { McpServerStatusDTO } from '../../../../main/ipc/contract';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { McpServerForm } from './McpServerForm';
import { deleteMcpServer, importMcpServers, restartMcpServer, saveMcpServer, selectTools } from './toolsSlice';

/** A stored config sent back unchanged but for a field: its secret values "" (kept as stored; main never sends them). */
function keepingSecrets(config: McpServerStatusDTO['config']): McpServerStatusDTO['config'] {
  const blank = (r: Record<string, string>) => Object.fromEntries(Object.keys(r).map((k) => [k, '']));
  return config.transport === 'stdio' ? { ...config, env: blank(config.env) } : { ...config, headers: blank(config.headers) };
}

const STATE_LABELS: Record<McpServerStatusDTO['state'], string> = { stopped: 'Stopped', starting: 'Starting…', ready: 'Ready', failed: 'Failed' };

function ServerItem({ server, onEdit }: { server: McpServerStatusDTO; onEdit: () => void }) {
  const dispatch = useAppDispatch();
  const busy = useAppSelector(selectTools).busy;
  const { name, config } = server;
  const where = config.transport === 'stdio' ? [config.command, ...config.args].join(' ') : config.url;
  return (
    <li className={`mcp-server state-${server.state}`} aria-label={name}>
      <div className="mcp-server-head">
        <strong>{name}</strong>
        <span className="badge" role="status" aria-label={`${name}: ${config.enabled ? STATE_LABELS[server.state] : 'Disabled'}`}>
          {config.enabled ? STATE_LABELS[server.state] : 'Disabled'}
        </span>
        <code className="mcp-where" title={where}>
          {where}
        </code>
      </div>
      {server.state === 'failed' && (
        <div className="mcp-failed">
          {server.error && (
            <p role="alert" className="inline-error">
              {server.error}
            </p>
          )}
          {server.stderrTail && (
            <pre className="mcp-stderr" aria-label={`Output of ${name}`} tabIndex={0}>
              {server.stderrTail}
            </pre>
          )}
        </div>
      )}
      {server.tools.length > 0 && (
        <details>
          <summary>
            {server.tools.length} {server.tools.length === 1 ? 'tool' : 'tools'}
          </summary>
          <ul aria-label={`Tools of ${name}`} className="plain-list">
            {server.tools.map((t) => (
              <li key={t.name}>
                <code>{t.name}</code>
                {t.description && <span className="muted"> — {t.description}</span>}
              </li>
            ))}
          </ul>
        </details>
      )}
      <div className="form-actions">
        <label className="check-inline">
          <input type="checkbox" aria-label={`${name} enabled`} checked={config.enabled} disabled={busy} onChange={(e) => void dispatch(saveMcpServer({ previousName: name, config: { ...keepingSecrets(config), enabled: e.target.checked } }))} /> Enabled
        </label>
        <button type="button" className="button small" aria-label={`Restart ${name}`} disabled={busy || !config.enabled} onClick={() => void dispatch(restartMcpServer(name))}>
          Restart
        </button>
        <button type="button" className="button small" aria-label={`Edit ${name}`} onClick={onEdit}>
          Edit
        </button>
        <button type="button" className="button small danger" aria-label={`Delete ${name}`} disabled={busy} onClick={() => void dispatch(deleteMcpServer(name))}>
          Delete
        </button>
      </div>
    </li>
  );
}

function McpImport() {
  const dispatch = useAppDispatch();
  const { importSources, lastImport, busy } = useAppSelector(selectTools);
  const [text, setText] = useState('');
  return (
    <fieldset className="chat-prefs mcp-import">
      <legend>Import MCP servers</legend>
      {importSources && importSources.length > 0 && (
        <ul aria-label="Import from…" className="plain-list">
          {importSources.map((src) => (
            <li key={src.path}>
              <button type="button" className="button small" disabled={busy} onClick={() => void dispatch(importMcpServers({ path: src.path }))}>
                Import from {src.app}
              </button>{' '}
              <code className="muted">{src.path}</code>
            </li>
          ))}
        </ul>
      )}
      {importSources && importSources.length === 0 && <p className="muted">No other app’s MCP config was found on this machine.</p>}
      <div className="field">
        <label htmlFor="mcp-import-text">Paste an MCP config (JSON)</label>
        <textarea id="mcp-import-text" rows={4} value={text} spellCheck={false} placeholder='{"mcpServers": {"name": {"command": "npx", "args": ["…"]}}}' onChange={(e) => setText(e.target.value)} />
      </div>
      <div className="form-actions">
        <button type="button" className="button" disabled={busy || !text.trim()} onClick={() => void dispatch(importMcpServers({ text }))}>
          Import pasted config
        </button>
      </div>
      {lastImport && (
        <div role="status" className="mcp-import-result">
          <p>{lastImport.added.length ? `Added: ${lastImport.added.join(', ')}.` : 'Added none.'}</p>
          {lastImport.notes.length > 0 && (
            <ul aria-label="Notes on the servers added" className="plain-list">
              {lastImport.notes.map((n) => (
                <li key={`${n.name}:${n.note}`}>
                  {n.name}: {n.note}
                </li>
              ))}
            </ul>
          )}
          {lastImport.skipped.length > 0 && (
            <ul aria-label="Skipped servers" className="plain-list">
              {lastImport.skipped.map((s) => (
                <li key={s.name}>
                  Skipped {s.name}: {s.reason}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </fieldset>
  );
}

export function McpServers() {
  const servers = useAppSelector(selectTools).status?.servers ?? null;
  // the server being edited (its name), a new one (''), or none
  const [editing, setEditing] = useState<string | null>(null);
  const edited = editing ? servers?.find((s) => s.name === editing) ?? null : null;
  return (
    <section className="stack" aria-labelledby="mcp-servers-title">
      <h4 id="mcp-servers-title">MCP servers</h4>
      {servers === null ? (
        <p className="muted">Asking Hearth…</p>
      ) : servers.length === 0 ? (
        <p className="muted">None yet: add one, or import them from another app.</p>
      ) : (
        <ul aria-label="MCP servers" className="plain-list mcp-servers">
          {servers.map((s) => (
            <ServerItem key={s.name} server={s} onEdit={() => setEditing(s.name)} />
          ))}
        </ul>
      )}
      {editing !== null ? (
        <McpServerForm key={editing} server={edited} onDone={() => setEditing(null)} />
      ) : (
        <div className="form-actions">
          <button type="button" className="button" onClick={() => setEditing('')}>
            Add server
          </button>
        </div>
      )}
      <McpImport />
    </section>
  );
}
