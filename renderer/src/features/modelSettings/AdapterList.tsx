/**
 * A list of adapter files with their scales (the load settings of kind "adapters": LoRA adapters,
 * control vectors). Each row is a file (typed, or one of those found for the model: view.adapters)
 * and a scale, with a Remove button; "Add" adds a row (with a found file not listed yet). A file is
 * listed once: the found ones already listed are not offered again, and a repeat typed in is the
 * form's error (loadForm.ts parseAdapters, from the field's schema). Every control is named for its row.
 */
import type { KeyedMeta } from '../../../../main/params';
import type { ModelSettingsView } from '../../../../main/ipc/contract';
import { AdapterRow, SettingKey } from './loadForm';

export interface AdapterListProps {
  f: KeyedMeta<SettingKey>;
  id: string;
  rows: AdapterRow[];
  view: ModelSettingsView;
  /** the reload mark and the form's error about this list, rendered by the caller's field frame */
  describedBy: string | undefined;
  invalid: boolean;
  onChange: (rows: AdapterRow[]) => void;
}

export function AdapterList({ f, id, rows, view, describedBy, invalid, onChange }: AdapterListProps) {
  const kind = f.key === 'controlVectors' ? 'controlVector' : 'lora';
  const found = (view.adapters ?? []).filter((a) => a.kind === kind).map((a) => a.path);
  const scaleWord = kind === 'lora' ? 'Scale' : 'Strength';
  const noun = kind === 'lora' ? 'adapter' : 'control vector';
  const listId = `${id}-found`;
  const update = (i: number, p: Partial<AdapterRow>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...p } : r)));
  const full = rows.length >= (f.maxItems ?? Infinity);
  // each file once (the field's schema refuses a repeat, and the form says so): only files not yet listed are offered
  const unlisted = found.filter((p) => !rows.some((r) => r.path.trim() === p));
  return (
    <div className="adapter-list" role="group" id={id} aria-label={f.label} aria-describedby={describedBy} aria-invalid={invalid}>
      {found.length > 0 && (
        <datalist id={listId}>
          {unlisted.map((p) => (
            <option key={p} value={p} />
          ))}
        </datalist>
      )}
      {rows.length === 0 && <p className="hint">None.</p>}
      {rows.map((r, i) => (
        <div className="adapter-row" key={i}>
          <input
            type="text"
            aria-label={`${f.label} ${i + 1}: file`}
            placeholder={found[0] ?? `/path/to/${kind === 'lora' ? 'lora' : 'control-vector'}.gguf`}
            list={found.length > 0 ? listId : undefined}
            value={r.path}
            onChange={(e) => update(i, { path: e.target.value })}
          />
          <input
            type="number"
            className="narrow"
            aria-label={`${f.label} ${i + 1}: ${scaleWord.toLowerCase()}`}
            min={f.min}
            max={f.max}
            step={f.step}
            value={r.scale}
            onChange={(e) => update(i, { scale: e.target.value })}
          />
          <button type="button" aria-label={`Remove ${noun} ${i + 1}`} onClick={() => onChange(rows.filter((_, j) => j !== i))}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" disabled={full} onClick={() => onChange([...rows, { path: unlisted[0] ?? '', scale: '1' }])}>
        Add {noun}
      </button>
      {found.length > 0 && (
        <span className="hint">
          Found for this model: {found.map((p) => p.split(/[\\/]/).pop()).join(', ')}
        </span>
      )}
    </div>
  );
}
