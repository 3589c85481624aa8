/**
 * Settings → Models: one model's load settings (GPU layers, context, KV cache, flash attention,
 * threads, batches, mmap/mlock, and with several GPUs the main GPU and the split), saved per model,
 * with the memory they would take per device next to them. The estimate follows the form as it
 * changes (debounced; an older request is aborted and its answer dropped). Fields whose value
 * differs from what the loaded model runs with are marked "Reload required".
 */
import { ReactNode, useEffect, useMemo, useRef } from 'react';
import { CONTEXT_STEP, contextSizeUsed, type ModelSettingsView } from '../../../../main/ipc/contract';
import { formatInt, modelLabel } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { selectModels, selectModelState } from '../models/modelsSlice';
import { selectAppInfo, selectSettings } from '../settings/settingsSlice';
import { GuardrailSettings } from './GuardrailSettings';
import {
  CACHE_TYPES,
  changedSettings,
  estimateRequest,
  FIELD_LABELS,
  LoadForm,
  maxGpuLayers,
  parseForm,
  reloadRequired,
  SettingKey,
} from './loadForm';
import { MemoryBars } from './MemoryBars';
import {
  draftChanged,
  draftReverted,
  fetchModelSettings,
  modelSettingsPathChosen,
  requestEstimate,
  resetModelSettings,
  saveAndLoad,
  saveModelSettings,
  selectModelSettings,
} from './modelSettingsSlice';

/** the choices of both KV cache type selects */
const CACHE_TYPE_OPTIONS = CACHE_TYPES.map((t) => (
  <option key={t} value={t}>
    {t}
  </option>
));

/** how long the form must stay still before an estimate is asked for */
export const ESTIMATE_DEBOUNCE_MS = 250;

function defaultText(view: ModelSettingsView, key: Exclude<SettingKey, 'tensorSplit'>): string {
  const v = view.defaults[key];
  if (key === 'gpuLayers') return 'auto';
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number') return formatInt(v);
  return String(v);
}

/** A labelled control with its hint and, when its value differs from the running model's, the reload mark. */
function Field(props: { id: string; label: string; hint?: ReactNode; reload: boolean; error?: boolean; children: ReactNode; className?: string }) {
  return (
    <div className={`field${props.reload ? ' needs-reload' : ''}${props.error ? ' invalid' : ''}${props.className ? ` ${props.className}` : ''}`}>
      <div className="field-head">
        <label htmlFor={props.id}>{props.label}</label>
        {props.reload && (
          <span className="reload-mark" id={`${props.id}-reload`}>
            Reload required
          </span>
        )}
      </div>
      {props.children}
      {props.hint && (
        <span className="hint" id={`${props.id}-hint`}>
          {props.hint}
        </span>
      )}
    </div>
  );
}

const describedBy = (id: string, reload: boolean, hint = true) => [hint ? `${id}-hint` : '', reload ? `${id}-reload` : ''].filter(Boolean).join(' ') || undefined;

/**
 * GPU layers: auto, max or a number. Auto shows what it will do: the fit's layer count from the
 * estimate, or "CPU only" on a machine without a GPU (where llama.cpp's "all" means none).
 */
function GpuLayers(props: { form: LoadForm; view: ModelSettingsView; reload: boolean; chosen: number | 'max' | null; cpuOnly: boolean; onChange: (p: Partial<LoadForm>) => void }) {
  const { form, view, reload, chosen, cpuOnly, onChange } = props;
  const top = maxGpuLayers(view.layers);
  const autoLayers = cpuOnly ? 0 : chosen === null || chosen === 'max' ? top : Math.min(chosen, top);
  const shown = form.gpuMode === 'layers' ? form.gpuLayers : form.gpuMode === 'max' ? top : autoLayers;
  const autoText = cpuOnly ? 'auto (CPU only)' : chosen === null ? 'auto' : `auto · ${shown}/${top}`;
  const valueText =
    form.gpuMode === 'auto'
      ? cpuOnly
        ? 'auto: CPU only, no layers on a GPU'
        : chosen === null
          ? 'auto'
          : `auto: ${shown} of ${top}`
      : `${shown} of ${top}${shown >= top ? ' (all, with the output layer)' : ''}`;
  const modes: { value: LoadForm['gpuMode']; label: string }[] = [
    { value: 'auto', label: 'Auto' },
    { value: 'max', label: 'Max' },
    { value: 'layers', label: 'Custom' },
  ];
  return (
    <div className={`field gpu-layers${reload ? ' needs-reload' : ''}`}>
      <div className="field-head">
        <label htmlFor="ms-gpu-layers">GPU layers</label>
        {reload && (
          <span className="reload-mark" id="ms-gpu-layers-reload">
            Reload required
          </span>
        )}
      </div>
      <div className="segmented" role="radiogroup" aria-label="GPU layers mode">
        {modes.map((m) => (
          <label key={m.value} className={form.gpuMode === m.value ? 'checked' : ''}>
            <input
              type="radio"
              name="ms-gpu-mode"
              value={m.value}
              checked={form.gpuMode === m.value}
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
          aria-valuetext={valueText}
          aria-describedby={describedBy('ms-gpu-layers', reload)}
          onChange={(e) => onChange({ gpuMode: 'layers', gpuLayers: Number(e.target.value) })}
        />
        <output htmlFor="ms-gpu-layers" className="slider-value">
          {form.gpuMode === 'auto' ? autoText : `${shown}/${top}`}
        </output>
      </div>
      <span className="hint" id="ms-gpu-layers-hint">
        {view.layers} layers and the output layer. Auto puts as many on the GPU as fit, keeping the fit margin free. Default: auto.
      </span>
    </div>
  );
}

export function ModelSettingsPanel() {
  const dispatch = useAppDispatch();
  const models = useAppSelector(selectModels);
  const modelState = useAppSelector(selectModelState);
  const ms = useAppSelector(selectModelSettings);
  const info = useAppSelector(selectAppInfo);
  const settings = useAppSelector(selectSettings);
  const { path, view, draft, estimate } = ms;
  const gpus = (info?.devices ?? []).filter((d) => d.type === 'gpu' || d.type === 'igpu');

  // the model to set up: the one chosen, else the loaded (or loading) one, else the first
  const fallback = modelState.loaded?.path ?? modelState.loading?.path ?? models[0]?.path ?? null;
  useEffect(() => {
    if (!path && fallback) dispatch(modelSettingsPathChosen(fallback));
  }, [path, fallback, dispatch]);

  // its settings, fresh each time the page opens (edits not saved are dropped)
  useEffect(() => {
    if (path) void dispatch(fetchModelSettings({ path }));
  }, [path, dispatch]);

  // a load or unload changes what the model runs with (the reload marks): refresh, keeping the edits
  const loaded = modelState.loaded;
  const loadedKey = loaded ? `${loaded.path}|${loaded.contextSize}` : '';
  const firstLoadedKey = useRef(loadedKey);
  useEffect(() => {
    if (loadedKey === firstLoadedKey.current) return;
    firstLoadedKey.current = loadedKey;
    if (path) void dispatch(fetchModelSettings({ path, keepDraft: true }));
  }, [loadedKey, path, dispatch]);

  const parsed = useMemo(() => (draft ? parseForm(draft) : null), [draft]);
  const estimateKey = parsed?.ok ? JSON.stringify(estimateRequest(parsed.value)) : null;
  const margin = settings?.fitMarginMiB;

  // the estimate follows the form: debounced, and a newer request aborts the one before
  const inFlight = useRef<{ abort(): void } | null>(null);
  const viewPath = view?.path;
  useEffect(() => {
    if (!path || !estimateKey || viewPath !== path) return;
    const t = setTimeout(() => {
      inFlight.current?.abort();
      inFlight.current = dispatch(requestEstimate({ path, settings: JSON.parse(estimateKey) }));
    }, ESTIMATE_DEBOUNCE_MS);
    return () => clearTimeout(t);
  }, [path, estimateKey, margin, loadedKey, viewPath, dispatch]);
  useEffect(() => () => inFlight.current?.abort(), []);

  const modelOptions = useMemo(() => {
    const list = models.map((m) => ({ path: m.path, name: modelLabel(m.name) }));
    if (path && !list.some((m) => m.path === path)) list.unshift({ path, name: modelLabel(path) });
    return list;
  }, [models, path]);

  if (!path) {
    return <p className="muted">There are no models yet — put a .gguf file in the models folder (Settings → Data shows where).</p>;
  }

  const picker = (
    <div className="field model-choice">
      <label htmlFor="ms-model">Model to set up</label>
      <select id="ms-model" value={path} onChange={(e) => dispatch(modelSettingsPathChosen(e.target.value))}>
        {modelOptions.map((m) => (
          <option key={m.path} value={m.path}>
            {m.name}
          </option>
        ))}
      </select>
    </div>
  );

  if (!view || !draft || view.path !== path) {
    return (
      <div className="stack">
        {picker}
        {ms.status === 'error' ? (
          <p role="alert" className="inline-error">
            {ms.error}
          </p>
        ) : (
          <p role="status" className="muted">
            Reading the model…
          </p>
        )}
      </div>
    );
  }

  const isLoaded = loaded?.path === path && !!view.loadedWith;
  const marks = parsed?.ok ? reloadRequired(parsed.value, view) : new Set<SettingKey>();
  const changes = parsed?.ok ? changedSettings(parsed.value, view) : {};
  const changedCount = Object.keys(changes).length;
  const set = (p: Partial<LoadForm>) => dispatch(draftChanged(p));
  const bad = (k: SettingKey) => parsed !== null && !parsed.ok && parsed.field === k;
  const ctx = Number(draft.contextSize);
  const trained = view.trainedContext;
  const chosen = draft.gpuMode === 'auto' && estimate.data ? estimate.data.gpuLayers : null;

  const numberField = (key: 'threads' | 'batchSize' | 'ubatchSize', id: string, hint: string, max: number) => (
    <Field id={id} label={FIELD_LABELS[key]} reload={marks.has(key)} error={bad(key)} hint={`${hint} Default: ${defaultText(view, key)}.`}>
      <input
        id={id}
        type="number"
        inputMode="numeric"
        min={1}
        max={max}
        step={1}
        value={draft[key]}
        aria-invalid={bad(key) || undefined}
        aria-describedby={describedBy(id, marks.has(key))}
        onChange={(e) => set({ [key]: e.target.value })}
      />
    </Field>
  );

  const onSave = () => {
    if (parsed?.ok && changedCount > 0) void dispatch(saveModelSettings({ path, settings: changes }));
  };
  const onSaveAndLoad = () => {
    if (parsed?.ok) void dispatch(saveAndLoad({ path, settings: changes }));
  };

  return (
    <div className="model-settings">
      <div className="ms-main">
        {picker}
        <p className="muted ms-facts">
          {view.layers} layers · trained context {formatInt(trained)} tokens
          {isLoaded ? ' · loaded now' : ''}
        </p>
        <form
          aria-label="Load settings"
          className="ms-form"
          onSubmit={(e) => {
            e.preventDefault();
            onSave();
          }}
        >
          <fieldset>
            <legend>GPU offload</legend>
            <GpuLayers form={draft} view={view} reload={marks.has('gpuLayers')} chosen={chosen} cpuOnly={info !== null && gpus.length === 0} onChange={set} />
            {gpus.length === 0 && <p className="hint">No GPU device is available: every layer runs on the CPU.</p>}
          </fieldset>

          <fieldset>
            <legend>Context</legend>
            <Field
              id="ms-context"
              label={FIELD_LABELS.contextSize}
              reload={marks.has('contextSize')}
              error={bad('contextSize')}
              hint={
                <>
                  Trained maximum: {formatInt(trained)} tokens. Default: {defaultText(view, 'contextSize')}.
                  {Number.isInteger(ctx) && ctx > 0 && contextSizeUsed(ctx) !== ctx && (
                    <> Runs as {formatInt(contextSizeUsed(ctx))} tokens: llama.cpp sizes a context in whole multiples of {CONTEXT_STEP}.</>
                  )}
                  {trained > 0 && ctx > trained && <strong className="warn-text"> Longer than the model was trained for: replies may degrade.</strong>}
                </>
              }
            >
              <div className="slider-row">
                <input
                  id="ms-context"
                  type="number"
                  inputMode="numeric"
                  min={256}
                  max={10_000_000}
                  step={256}
                  className="narrow"
                  value={draft.contextSize}
                  aria-invalid={bad('contextSize') || undefined}
                  aria-describedby={describedBy('ms-context', marks.has('contextSize'))}
                  onChange={(e) => set({ contextSize: e.target.value })}
                />
                {trained > 256 && (
                  <input
                    type="range"
                    aria-label={FIELD_LABELS.contextSize}
                    min={256}
                    max={trained}
                    step={256}
                    value={Number.isFinite(ctx) ? Math.min(Math.max(ctx, 256), trained) : 256}
                    aria-valuetext={`${formatInt(Number.isFinite(ctx) ? ctx : 0)} tokens`}
                    onChange={(e) => set({ contextSize: e.target.value })}
                  />
                )}
              </div>
            </Field>
            <div className="ms-grid">
              <Field id="ms-cache-k" label={FIELD_LABELS.cacheTypeK} reload={marks.has('cacheTypeK')} hint={`Default: ${defaultText(view, 'cacheTypeK')}.`}>
                <select id="ms-cache-k" value={draft.cacheTypeK} aria-describedby={describedBy('ms-cache-k', marks.has('cacheTypeK'))} onChange={(e) => set({ cacheTypeK: e.target.value as LoadForm['cacheTypeK'] })}>
                  {CACHE_TYPE_OPTIONS}
                </select>
              </Field>
              <Field id="ms-cache-v" label={FIELD_LABELS.cacheTypeV} reload={marks.has('cacheTypeV')} error={bad('cacheTypeV')} hint={`Quantized types need flash attention. Default: ${defaultText(view, 'cacheTypeV')}.`}>
                <select
                  id="ms-cache-v"
                  value={draft.cacheTypeV}
                  aria-invalid={bad('cacheTypeV') || undefined}
                  aria-describedby={describedBy('ms-cache-v', marks.has('cacheTypeV'))}
                  onChange={(e) => set({ cacheTypeV: e.target.value as LoadForm['cacheTypeV'] })}
                >
                  {CACHE_TYPE_OPTIONS}
                </select>
              </Field>
              <Field id="ms-flash" label={FIELD_LABELS.flashAttention} reload={marks.has('flashAttention')} hint={`Default: ${defaultText(view, 'flashAttention')}.`}>
                <select id="ms-flash" value={draft.flashAttention} aria-describedby={describedBy('ms-flash', marks.has('flashAttention'))} onChange={(e) => set({ flashAttention: e.target.value as LoadForm['flashAttention'] })}>
                  <option value="auto">Auto</option>
                  <option value="on">On</option>
                  <option value="off">Off</option>
                </select>
              </Field>
            </div>
          </fieldset>

          <fieldset>
            <legend>CPU and batches</legend>
            <div className="ms-grid">
              {numberField('threads', 'ms-threads', 'Threads for generation.', 1024)}
              {numberField('batchSize', 'ms-batch', 'Prompt tokens per step.', 1_000_000)}
              {numberField('ubatchSize', 'ms-ubatch', 'Tokens per compute pass; at most the batch.', 1_000_000)}
            </div>
          </fieldset>

          <fieldset>
            <legend>Memory</legend>
            <div className="ms-checks">
              {(
                [
                  ['useMmap', 'ms-mmap', 'Use mmap', 'Map the file instead of reading it: faster loads, memory shared with the file cache.'],
                  ['useMlock', 'ms-mlock', 'Use mlock', 'Keep the model in RAM, never swapped out (needs the permission and the free RAM).'],
                ] as const
              ).map(([key, id, label, hint]) => (
                <div key={key} className={`check${marks.has(key) ? ' needs-reload' : ''}`}>
                  <input id={id} type="checkbox" checked={draft[key]} aria-describedby={describedBy(id, marks.has(key))} onChange={(e) => set({ [key]: e.target.checked })} />
                  <div>
                    <label htmlFor={id}>{label}</label>
                    {marks.has(key) && (
                      <span className="reload-mark" id={`${id}-reload`}>
                        Reload required
                      </span>
                    )}
                    <span className="hint" id={`${id}-hint`}>
                      {hint} Default: {defaultText(view, key)}.
                    </span>
                  </div>
                </div>
              ))}
            </div>
          </fieldset>

          {gpus.length >= 2 && (
            <fieldset>
              <legend>Several GPUs</legend>
              <div className="ms-grid">
                <Field id="ms-main-gpu" label={FIELD_LABELS.mainGpu} reload={marks.has('mainGpu')} hint="The GPU for the small tensors (and everything, with split mode none).">
                  <select id="ms-main-gpu" value={draft.mainGpu} aria-describedby={describedBy('ms-main-gpu', marks.has('mainGpu'))} onChange={(e) => set({ mainGpu: Number(e.target.value) })}>
                    {gpus.map((g, i) => (
                      <option key={`${g.backend}/${g.name}`} value={i}>
                        {g.name} · {g.description}
                      </option>
                    ))}
                  </select>
                </Field>
                <Field id="ms-split" label={FIELD_LABELS.splitMode} reload={marks.has('splitMode')} hint={`Default: ${defaultText(view, 'splitMode')}.`}>
                  <select id="ms-split" value={draft.splitMode} aria-describedby={describedBy('ms-split', marks.has('splitMode'))} onChange={(e) => set({ splitMode: e.target.value as LoadForm['splitMode'] })}>
                    <option value="layer">By layer</option>
                    <option value="row">By row</option>
                    <option value="none">None (main GPU only)</option>
                  </select>
                </Field>
                <Field
                  id="ms-tensor-split"
                  label={FIELD_LABELS.tensorSplit}
                  reload={marks.has('tensorSplit')}
                  error={bad('tensorSplit')}
                  hint={`Proportions in GPU order (${gpus.map((g) => g.name).join(', ')}), like 3, 1. Blank: by free memory.`}
                >
                  <input
                    id="ms-tensor-split"
                    type="text"
                    placeholder="by free memory"
                    value={draft.tensorSplit}
                    aria-invalid={bad('tensorSplit') || undefined}
                    aria-describedby={describedBy('ms-tensor-split', marks.has('tensorSplit'))}
                    onChange={(e) => set({ tensorSplit: e.target.value })}
                  />
                </Field>
              </div>
            </fieldset>
          )}

          <div className="ms-footer">
            {parsed && !parsed.ok && (
              <p role="alert" className="inline-error">
                {parsed.error}
              </p>
            )}
            {ms.actionError && (
              <p role="alert" className="inline-error">
                {ms.actionError}
              </p>
            )}
            {isLoaded && marks.size > 0 && (
              <p className="reload-note">
                {marks.size === 1 ? 'One setting differs' : `${marks.size} settings differ`} from what the loaded model runs with: they apply after a reload.
              </p>
            )}
            <div className="form-actions">
              <span className="action-note">
                <span role="status" className="muted">
                  {ms.saving ? 'Working…' : ms.note ?? (changedCount > 0 ? `${changedCount} unsaved ${changedCount === 1 ? 'change' : 'changes'}` : '')}
                </span>
                {changedCount > 0 && !ms.saving && (
                  <button type="button" className="link-button" aria-label="Undo changes" onClick={() => dispatch(draftReverted())}>
                    Undo
                  </button>
                )}
              </span>
              <button type="button" className="button ghost" disabled={ms.saving} onClick={() => void dispatch(resetModelSettings(path))}>
                Reset to defaults
              </button>
              <button type="submit" className="button" disabled={ms.saving || !parsed?.ok || changedCount === 0}>
                Save
              </button>
              <button type="button" className="button primary" disabled={ms.saving || !parsed?.ok} onClick={onSaveAndLoad}>
                {isLoaded ? 'Save and reload' : 'Save and load'}
              </button>
            </div>
          </div>
        </form>
        <GuardrailSettings />
      </div>

      <aside className="ms-memory" aria-label="Memory estimate">
        <h4>
          Memory needed
          {estimate.pending && (
            <span className="muted estimating" role="status">
              {' '}
              estimating…
            </span>
          )}
        </h4>
        {estimate.error && (
          <p role="alert" className="inline-error">
            {estimate.error}
          </p>
        )}
        {!estimate.data && !estimate.error && <p className="muted">Estimating…</p>}
        {estimate.data && (
          <>
            <MemoryBars estimate={estimate.data} marginMiB={margin} />
            <p className="muted est-summary">
              {estimate.data.devices.some((d) => d.type === 'gpu' || d.type === 'igpu')
                ? `${estimate.data.gpuLayers === 'max' ? 'All layers' : `${estimate.data.gpuLayers} of ${maxGpuLayers(estimate.data.layers)} layers`} on the GPU`
                : 'CPU only'}{' '}
              · context {formatInt(estimate.data.contextSize)} tokens
            </p>
            {estimate.data.fitReason && <p className="fit-reason">{estimate.data.fitReason}</p>}
            {!estimate.data.fits && (
              <div className="fit-problems" role="group" aria-label="Does not fit">
                <strong>Does not fit{settings ? ` (keeping ${formatInt(settings.fitMarginMiB)} MiB free on each GPU)` : ''}:</strong>
                <ul>
                  {estimate.data.problems.map((p) => (
                    <li key={p}>{p}</li>
                  ))}
                </ul>
              </div>
            )}
          </>
        )}
      </aside>
    </div>
  );
}
