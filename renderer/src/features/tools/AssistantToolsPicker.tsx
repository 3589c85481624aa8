/**
 * The assistants form's tools: every enabled tool (null), or a chosen set of built-ins and MCP servers
 * (all of a server's tools). Servers come from the tools' status (asked for when the dialog opens);
 * one the assistant names that is no longer configured still shows, so that it can be unticked.
 */
import { AssistantTools, BUILTIN_TOOLS } from '../../../../main/params';
import { useAppSelector } from '../../app/hooks';
import { selectToolsStatus } from './toolsSlice';

export function AssistantToolsPicker({ value, onChange }: { value: AssistantTools | null; onChange: (v: AssistantTools | null) => void }) {
  const status = useAppSelector(selectToolsStatus);
  const known = status?.servers.map((s) => s.name) ?? [];
  const servers = [...known, ...(value?.servers ?? []).filter((n) => !known.includes(n))];
  const toggle = <K extends keyof AssistantTools>(key: K, item: AssistantTools[K][number], on: boolean) => {
    if (!value) return;
    const list = value[key] as string[];
    onChange({ ...value, [key]: on ? [...list, item] : list.filter((x) => x !== item) });
  };
  return (
    <fieldset className="assistant-tools">
      <legend>Tools</legend>
      <div className="radio-row">
        <label className={`radio-card${value === null ? ' checked' : ''}`}>
          <input type="radio" name="assistant-tools" checked={value === null} onChange={() => onChange(null)} />
          All enabled tools
        </label>
        <label className={`radio-card${value !== null ? ' checked' : ''}`}>
          <input type="radio" name="assistant-tools" checked={value !== null} onChange={() => onChange({ builtins: [...BUILTIN_TOOLS], servers: known })} />
          Only the tools chosen here
        </label>
      </div>
      {value && (
        <div className="row">
          <fieldset>
            <legend>Built-in tools</legend>
            {BUILTIN_TOOLS.map((b) => (
              <label key={b} className="check-inline">
                <input type="checkbox" checked={value.builtins.includes(b)} onChange={(e) => toggle('builtins', b, e.target.checked)} /> {b}
              </label>
            ))}
          </fieldset>
          <fieldset>
            <legend>MCP servers</legend>
            {servers.length === 0 && <p className="muted">None configured (Settings → Tools).</p>}
            {servers.map((n) => (
              <label key={n} className="check-inline">
                <input type="checkbox" checked={value.servers.includes(n)} onChange={(e) => toggle('servers', n, e.target.checked)} /> {n}
                {!known.includes(n) && status && <span className="muted"> (not configured)</span>}
              </label>
            ))}
          </fieldset>
        </div>
      )}
    </fieldset>
  );
}
