/**
 * The load settings form's fields, generated from their definitions in main/params
 * (LOAD_SETTINGS_META: label, help, bounds, choices, group): a new load setting appears here with no
 * code. Three need the model or the machine and have their own control: GPU layers (a slider up to
 * the model's layers), the context length (a slider up to the trained context) and the main GPU (the
 * GPUs by name); a text (the chat template) is a text box with its live preview. The "Reload required" mark is written here only (ReloadMark).
 */
import { ReactNode } from 'react';
import type { DeviceInfo } from '../../../../main/ipc/contract';
import { CONTEXT_STEP, contextSizeUsed, KeyedMeta, LOAD_GROUPS } from '../../../../main/params';
import type { ModelSettingsView } from '../../../../main/ipc/contract';
import type { z } from 'zod';
import { formatInt } from '../../app/format';
import { useAppSelector } from '../../app/hooks';
import { AdapterList } from './AdapterList';
import { AdapterRow, LoadForm, maxGpuLayers, SETTING_FIELDS, SettingKey } from './loadForm';
import { selectTemplatePreview } from './modelSettingsSlice';

type Device = z.infer<typeof DeviceInfo>;

export interface LoadFieldsProps {
  draft: LoadForm;
  view: ModelSettingsView;
  /** the fields whose value differs from the running model's */
  marks: Set<SettingKey>;
  /** the field the form's error is about, and the error in words (shown under the field) */
  invalid: { field: SettingKey; error: string } | null;
  gpus: Device[];
  /** what "auto" GPU layers came to in the last estimate */
  chosen: number | 'max' | null;
  /** a MoE model with "auto" GPU layers: what the fit chose for its experts, in words */
  moeChosen?: string | null;
  /** no GPU at all: "auto" means every layer on the CPU */
  cpuOnly: boolean;
  set: (p: Partial<LoadForm>) => void;
}

/** Marks a field whose value differs from what the loaded model runs with; `${id}-reload` describes the control. */
export function ReloadMark({ id, show }: { id: string; show: boolean }) {
  if (!show) return null;
  return (
    <span className="reload-mark" id={`${id}-reload`}>
      Reload required
    </span>
  );
}

function defaultText(view: ModelSettingsView, key: SettingKey): string {
  if (key === 'gpuLayers') return 'auto';
  const v = (view.defaults as Record<string, unknown>)[key];
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number') return formatInt(v);
  return String(v);
}

const idOf = (key: SettingKey) => (key === 'contextSize' ? 'ms-context' : key === 'gpuLayers' ? 'ms-gpu-layers' : `ms-${key}`);

const describedBy = (id: string, reload: boolean, hint = true, error = false) =>
  [error ? `${id}-error` : '', hint ? `${id}-hint` : '', reload ? `${id}-reload` : ''].filter(Boolean).join(' ') || undefined;

/**
 * A control's validity as the form sees it: set explicitly, so the browser's own constraint check (a
 * length between the step's multiples, say) never marks a value the form accepts as invalid.
 */
const ariaOf = (id: string, reload: boolean, error: string | undefined) => ({ 'aria-invalid': error !== undefined, 'aria-describedby': describedBy(id, reload, true, error !== undefined) });

/**
 * A labelled control with its hint, the form's error about it (`${id}-error`, which describes the
 * control) and, when its value differs from the running model's, the reload mark.
 */
function Field(props: { id: string; label: string; hint?: ReactNode; reload: boolean; error?: string; children: ReactNode; className?: string }) {
  return (
    <div className={`field${props.reload ? ' needs-reload' : ''}${props.error !== undefined ? ' invalid' : ''}${props.className ? ` ${props.className}` : ''}`}>
      <div className="field-head">
        <label htmlFor={props.id}>{props.label}</label>
        <ReloadMark id={props.id} show={props.reload} />
      </div>
      {props.children}
      {props.error !== undefined && (
        <span className="field-error" id={`${props.id}-error`}>
          {props.error}
        </span>
      )}
      {props.hint && (
        <span className="hint" id={`${props.id}-hint`}>
          {props.hint}
        </span>
      )}
    </div>
  );
}

/** the reason the GPU controls are disabled on a machine without a GPU device (their accessible description) */
export const NO_GPU_ID = 'ms-no-gpu';

/**
 * GPU layers: auto, max or a number. Auto shows what it will do: the fit's layer count from the
 * estimate. Without a GPU device the controls are disabled (NO_GPU_ID says why) and show what a load
 * really does whatever is saved: every layer on the CPU ("auto (CPU only)" when the setting is auto).
 */
function GpuLayers(props: { form: LoadForm; view: ModelSettingsView; reload: boolean; chosen: number | 'max' | null; cpuOnly: boolean; onChange: (p: Partial<LoadForm>) => void }) {
  const { form, view, reload, chosen, cpuOnly, onChange } = props;
  const top = maxGpuLayers(view.layers);
  const autoLayers = chosen === null || chosen === 'max' ? top : Math.min(chosen, top);
  const shown = cpuOnly ? 0 : form.gpuMode === 'layers' ? form.gpuLayers : form.gpuMode === 'max' ? top : autoLayers;
  const autoText = chosen === null ? 'auto' : `auto · ${shown}/${top}`;
  const outputText = cpuOnly ? (form.gpuMode === 'auto' ? 'auto (CPU only)' : 'CPU only') : form.gpuMode === 'auto' ? autoText : `${shown}/${top}`;
  const valueText = cpuOnly
    ? `${form.gpuMode === 'auto' ? 'auto: ' : ''}CPU only, no layers on a GPU`
    : form.gpuMode === 'auto'
      ? chosen === null
        ? 'auto'
        : `auto: ${shown} of ${top}`
      : `${shown} of ${top}${shown >= top ? ' (all, with the output layer)' : ''}`;
  const described = [cpuOnly ? NO_GPU_ID : '', describedBy('ms-gpu-layers', reload) ?? ''].filter(Boolean).join(' ');
  const modes: { value: LoadForm['gpuMode']; label: string }[] = [
    { value: 'auto', label: 'Auto' },
    { value: 'max', label: 'Max' },
    { value: 'layers', label: 'Custom' },
  ];
  return (
    <div className={`field gpu-layers${reload ? ' needs-reload' : ''}`}>
      <div className="field-head">
        <label htmlFor="ms-gpu-layers">GPU layers</label>
        <ReloadMark id="ms-gpu-layers" show={reload} />
      </div>
      <div className="segmented" role="radiogroup" aria-label="GPU layers mode">
        {modes.map((m) => (
          <label key={m.value} className={form.gpuMode === m.value ? 'checked' : ''}>
            <input
              type="radio"
              name="ms-gpu-mode"
              value={m.value}
              checked={form.gpuMode === m.value}
              disabled={cpuOnly}
              aria-describedby={cpuOnly ? NO_GPU_ID : undefined}
              onChange={() => onChange(m.value === 'layers' ? { gpuMode: 'layers', gpuLayers: shown } : { gpuMode: m.value })}
            />
            {m.label}
          </label>
        ))}
      </div>
      <div className="slider-row">
        <input
          id="ms-gpu-layers"
          type="range"
          min={0}
          max={top}
          step={1}
          value={shown}
          className={form.gpuMode === 'auto' ? 'auto' : undefined}
          disabled={cpuOnly}
          aria-valuetext={valueText}
          aria-describedby={described}
          onChange={(e) => onChange({ gpuMode: 'layers', gpuLayers: Number(e.target.value) })}
        />
        <output htmlFor="ms-gpu-layers" className="slider-value">
          {outputText}
        </output>
      </div>
      <span className="hint" id="ms-gpu-layers-hint">
        {view.layers} layers and the output layer. Auto puts as many on the GPU as fit, keeping the fit margin free. Default: auto.
      </span>
    </div>
  );
}

/**
 * The chat template: a Jinja text box and, under it, a sample conversation rendered with it (the
 * listeners render it as the text changes; blank renders the model file's own template), or the
 * render's error. "Edit the model's template" starts from the file's own.
 */
function TemplateField({ f, value, reload, set }: { f: KeyedMeta<SettingKey>; value: string; reload: boolean; set: (p: Partial<LoadForm>) => void }) {
  const preview = useAppSelector(selectTemplatePreview);
  const id = idOf(f.key);
  return (
    <Field id={id} label={f.label} reload={reload} hint={f.help} className="ms-template">
      <textarea
        id={id}
        rows={10}
        spellCheck={false}
        placeholder="The model's own template"
        value={value}
        aria-describedby={describedBy(id, reload)}
        onChange={(e) => set({ [f.key]: e.target.value })}
      />
      {value.trim() === '' && preview.template && (
        <button type="button" className="secondary" onClick={() => set({ [f.key]: preview.template ?? '' })}>
          Edit the model&apos;s template
        </button>
      )}
      <section className="template-preview" aria-label="Template preview" aria-busy={preview.pending}>
        <h4>Preview: a sample conversation as the model reads it</h4>
        {preview.error !== null ? (
          <p className="field-error" role="alert">
            {preview.error}
          </p>
        ) : (
          <pre aria-label="Rendered conversation">{preview.prompt ?? (preview.pending ? 'Rendering…' : '')}</pre>
        )}
      </section>
    </Field>
  );
}

/** One field: the controls that need the model or the machine, else by its kind. */
function SettingField({ f, p }: { f: KeyedMeta<SettingKey>; p: LoadFieldsProps }) {
  const { draft, view, marks, invalid, gpus, set } = p;
  const key = f.key;
  const id = idOf(key);
  const reload = marks.has(key);
  const error = invalid?.field === key ? invalid.error : undefined;
  const value = (draft as unknown as Record<string, unknown>)[key];
  const aria = ariaOf(id, reload, error);
  if (f.kind === 'text') return <TemplateField f={f} value={String(value ?? '')} reload={reload} set={set} />;
  if (f.kind === 'gpuLayers') return <GpuLayers form={draft} view={view} reload={reload} chosen={p.chosen} cpuOnly={p.cpuOnly} onChange={set} />;
  if (key === 'contextSize') {
    // the box keeps what is typed; llama.cpp rounds it up to the field's step, which the hint says and
    // the slider (in that step) shows
    const ctx = Number(draft.contextSize);
    const used = Number.isInteger(ctx) && ctx > 0 ? contextSizeUsed(ctx) : null;
    const trained = view.trainedContext;
    return (
      <Field
        id={id}
        label={f.label}
        reload={reload}
        error={error}
        hint={
          <>
            Trained maximum: {formatInt(trained)} tokens. Default: {defaultText(view, key)}.
            {used !== null && used !== ctx && (
              <> Runs as {formatInt(used)} tokens: llama.cpp sizes a context in whole multiples of {CONTEXT_STEP}.</>
            )}
            {trained > 0 && ctx > trained && <strong className="warn-text"> Longer than the model was trained for: replies may degrade.</strong>}
          </>
        }
      >
        <div className="slider-row">
          <input id={id} type="number" inputMode="numeric" min={f.min} max={f.max} step={f.step} className="narrow" value={draft.contextSize} {...aria} onChange={(e) => set({ contextSize: e.target.value })} />
          {trained > f.min! && (
            <input
              type="range"
              aria-label={f.label}
              min={f.min}
              max={trained}
              step={f.step}
              value={used !== null ? Math.min(Math.max(used, f.min!), trained) : f.min}
              aria-valuetext={used === null ? 'not a valid length' : used !== ctx ? `${formatInt(ctx)} tokens, runs as ${formatInt(used)}` : `${formatInt(ctx)} tokens`}
              onChange={(e) => set({ contextSize: e.target.value })}
            />
          )}
        </div>
      </Field>
    );
  }
  if (key === 'mainGpu') {
    // llama.cpp reads it with split mode none only: under another split mode the choice would do nothing
    return (
      <Field id={id} label={f.label} reload={reload} hint={f.help}>
        <select id={id} value={String(value)} {...aria} disabled={draft.splitMode !== 'none'} onChange={(e) => set({ [key]: e.target.value })}>
          {gpus.map((g, i) => (
            <option key={`${g.backend}/${g.name}`} value={g.gpuIndex ?? i}>
              {g.name} · {g.description}
            </option>
          ))}
          {/* a number saved when there were more GPUs (an rpc-server since removed): shown as it is, not as GPU 0 */}
          {Number(value) >= gpus.length && <option value={String(value)}>GPU {String(value)} (not found)</option>}
        </select>
      </Field>
    );
  }
  if (f.kind === 'adapters') {
    return (
      <Field id={id} label={f.label} reload={reload} error={error} hint={f.help}>
        <AdapterList
          f={f}
          id={id}
          rows={value as AdapterRow[]}
          view={view}
          describedBy={describedBy(id, reload, true, error !== undefined)}
          invalid={error !== undefined}
          onChange={(rows) => set({ [key]: rows } as Partial<LoadForm>)}
        />
      </Field>
    );
  }
  if (f.kind === 'boolean') {
    return (
      <div className={`check${reload ? ' needs-reload' : ''}`}>
        <input id={id} type="checkbox" checked={value === true} aria-describedby={describedBy(id, reload)} onChange={(e) => set({ [key]: e.target.checked })} />
        <div>
          <label htmlFor={id}>{f.label}</label>
          <ReloadMark id={id} show={reload} />
          <span className="hint" id={`${id}-hint`}>
            {f.help} Default: {defaultText(view, key)}.
          </span>
        </div>
      </div>
    );
  }
  if (f.kind === 'strings') {
    // one entry per line: a pattern may hold commas (blk\.[0-9]{1,2}\.)
    return (
      <Field id={id} label={f.label} reload={reload} error={error} hint={f.help}>
        <textarea id={id} rows={3} spellCheck={false} placeholder="none" value={String(value)} {...aria} onChange={(e) => set({ [key]: e.target.value })} />
      </Field>
    );
  }
  const moe = key === 'nCpuMoe' && draft.gpuMode === 'auto' && p.moeChosen ? ` Auto now: the fit chose ${p.moeChosen}.` : '';
  const hint = f.kind === 'numbers' || f.kind === 'path' ? f.help : `${f.help} Default: ${defaultText(view, key)}.${moe}`;
  return (
    <Field id={id} label={f.label} reload={reload} error={error} hint={hint}>
      {f.kind === 'choice' ? (
        <select id={id} value={String(value)} {...aria} onChange={(e) => set({ [key]: e.target.value })}>
          {f.options!.map((o) => (
            <option key={String(o.value)} value={String(o.value)}>
              {o.label}
            </option>
          ))}
        </select>
      ) : f.kind === 'numbers' ? (
        <input id={id} type="text" placeholder="by free memory" value={String(value)} {...aria} onChange={(e) => set({ [key]: e.target.value })} />
      ) : f.kind === 'path' ? (
        <input id={id} type="text" spellCheck={false} placeholder={f.default === undefined ? 'automatic' : 'none'} value={String(value)} {...aria} onChange={(e) => set({ [key]: e.target.value })} />
      ) : (
        <input id={id} type="number" inputMode="numeric" min={f.min} max={f.max} step={f.step} value={String(value)} {...aria} onChange={(e) => set({ [key]: e.target.value })} />
      )}
    </Field>
  );
}

/**
 * Every group of settings (LOAD_GROUPS order); "Several GPUs" with two GPUs or more, or while a value set
 * there would still change a load (saved when there were more GPUs: an rpc-server since removed).
 */
export function LoadFields(p: LoadFieldsProps) {
  const { splitMode, mainGpu, tensorSplit } = p.draft;
  const { defaults } = p.view;
  const severalSet = splitMode !== defaults.splitMode || String(mainGpu) !== String(defaults.mainGpu) || String(tensorSplit ?? '').trim() !== '';
  return (
    <>
      {LOAD_GROUPS.map((group) => {
        if (group === 'Several GPUs' && p.gpus.length < 2 && !severalSet) return null;
        const fields = SETTING_FIELDS.filter((f) => f.group === group);
        const wide = fields.filter((f) => f.kind === 'gpuLayers' || f.kind === 'adapters' || f.key === 'contextSize' || f.kind === 'text' || f.kind === 'strings');
        const checks = fields.filter((f) => f.kind === 'boolean');
        const grid = fields.filter((f) => !wide.includes(f) && !checks.includes(f));
        return (
          <fieldset key={group}>
            <legend>{group}</legend>
            {wide.map((f) => (
              <SettingField key={f.key} f={f} p={p} />
            ))}
            {group === 'GPU offload' && p.cpuOnly && (
              <p className="hint" id={NO_GPU_ID}>
                No GPU device is available: every layer runs on the CPU.
              </p>
            )}
            {grid.length > 0 && (
              <div className="ms-grid">
                {grid.map((f) => (
                  <SettingField key={f.key} f={f} p={p} />
                ))}
              </div>
            )}
            {checks.length > 0 && (
              <div className="ms-checks">
                {checks.map((f) => (
                  <SettingField key={f.key} f={f} p={p} />
                ))}
              </div>
            )}
          </fieldset>
        );
      })}
    </>
  );
}
