/**
 * Settings → Models: one model's load settings (GPU layers, context, KV cache, flash attention,
 * threads, batches, mmap/mlock, and with several GPUs the main GPU and the split), saved per model,
 * with the memory they would take per device next to them. What the page asks main (the model's
 * settings, the estimate following the form) is in ./listeners.ts. Fields whose value differs from
 * what the loaded model runs with are marked "Reload required".
 */
import { useEffect, useMemo, useRef } from 'react';
import { gpuOrder } from '../../../../main/params';
import { focusHandled, selectFocusRequest } from '../../app/uiSlice';
import { formatInt, modelLabel } from '../../app/format';
import { useDiscardGuard, useUnsavedChanges } from '../../components/unsaved';
import { useAppDispatch, useAppSelector, useViewShown } from '../../app/hooks';
import { selectLoadableModels, selectModelState } from '../models/modelsSlice';
import { selectAppInfo, selectSettings } from '../settings/settingsSlice';
import { GuardrailSettings } from './GuardrailSettings';
import { LoadFields } from './LoadFields';
import { changedSettings, formFromView, LoadForm, maxGpuLayers, parseForm, reloadRequired, SettingKey } from './loadForm';
import { MemoryBars } from './MemoryBars';
import {
  draftChanged,
  draftReverted,
  modelSettingsPathChosen,
  resetModelSettings,
  saveAndLoad,
  saveModelSettings,
  selectModelSettings,
} from './modelSettingsSlice';

export function ModelSettingsPanel() {
  useViewShown('modelSettings');
  const dispatch = useAppDispatch();
  const models = useAppSelector(selectLoadableModels);
  const modelState = useAppSelector(selectModelState);
  const ms = useAppSelector(selectModelSettings);
  const info = useAppSelector(selectAppInfo);
  const settings = useAppSelector(selectSettings);
  const { path, view, draft, estimate } = ms;
  // numbered as llama.cpp numbers them: Main GPU's value is an index into this list
  const gpus = gpuOrder(info?.devices ?? []);
  /** no GPU device (as the engine reports): the GPU-only controls are disabled, saying why */
  const cpuOnly = info !== null && !info.engineError && !(info.devices ?? []).some((d) => d.type === 'gpu' || d.type === 'igpu');
  // "Load settings" (My models) asks for the model's settings: the picker scrolled into view and focused
  const focusRequest = useAppSelector((s) => selectFocusRequest(s, 'modelSetup'));
  const pickerRef = useRef<HTMLSelectElement>(null);
  // once the model's settings are read (the picker moves into the full form then); a tick later, so
  // the dialog opening around this panel focuses its tab first and this focus wins
  const ready = !!view && !!draft && view.path === path;
  useEffect(() => {
    if (!focusRequest || !ready) return;
    const t = setTimeout(() => {
      (pickerRef.current?.closest('.field') ?? pickerRef.current)?.scrollIntoView?.({ block: 'start' });
      pickerRef.current?.focus();
      dispatch(focusHandled(focusRequest));
    }, 0);
    return () => clearTimeout(t);
  }, [focusRequest, ready, dispatch]);

  const loaded = modelState.loaded;

  const parsed = useMemo(() => (draft ? parseForm(draft) : null), [draft]);
  const margin = settings?.fitMarginMiB;

  // edits: the draft differs from the saved settings' form (Undo, and Discard, bring it back)
  const edited = useMemo(() => !!view && !!draft && view.path === path && JSON.stringify(draft) !== JSON.stringify(formFromView(view)), [view, draft, path]);
  useUnsavedChanges(edited, () => dispatch(draftReverted()));
  const guard = useDiscardGuard();

  const modelOptions = useMemo(() => {
    const list = models.map((m) => ({ path: m.path, name: modelLabel(m.name) }));
    if (path && !list.some((m) => m.path === path)) list.unshift({ path, name: modelLabel(path) });
    return list;
  }, [models, path]);

  if (!path) {
    return <p className="muted">There are no models yet — download one with Find models (in the sidebar), or put a .gguf file in the models folder (Settings → Models shows where).</p>;
  }

  const picker = (
    <div className="field model-choice">
      <label htmlFor="ms-model">Model to set up</label>
      <select id="ms-model" ref={pickerRef} value={path} onChange={(e) => {
          const next = e.target.value;
          guard(() => dispatch(modelSettingsPathChosen(next)));
        }}>
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
  const trained = view.trainedContext;
  const chosen = draft.gpuMode === 'auto' && estimate.data ? estimate.data.gpuLayers : null;
  const moeChosen = draft.gpuMode === 'auto' && estimate.data ? estimate.data.moeChoice : null;

  // the actions are off with aria-disabled, not disabled: a button that is pressed and then turns
  // off keeps the focus (a disabled one drops it to the page)
  const canReset = !ms.saving;
  const canSave = !ms.saving && !!parsed?.ok && changedCount > 0;
  // a loaded model reloads only for something: an unsaved change, or saved settings it does not run with yet
  const canLoad = !ms.saving && !!parsed?.ok && (!isLoaded || changedCount > 0 || marks.size > 0);
  const onSave = () => {
    if (canSave) void dispatch(saveModelSettings({ path, settings: changes }));
  };
  const onReset = () => {
    if (canReset) void dispatch(resetModelSettings(path));
  };
  const onSaveAndLoad = () => {
    if (canLoad) void dispatch(saveAndLoad({ path, settings: changes }));
  };

  return (
    <div className="model-settings">
      <div className="ms-main">
        {picker}
        <p className="muted ms-facts">
          {view.layers} layers · trained context {formatInt(trained)} tokens
          {isLoaded ? ' · loaded now' : ''}
        </p>
        {/* noValidate: the form checks its fields itself, with a message at the field (the browser's own check would refuse a length the engine takes) */}
        <form
          aria-label="Load settings"
          className="ms-form"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            onSave();
          }}
        >
          <LoadFields draft={draft} view={view} marks={marks} invalid={parsed && !parsed.ok ? { field: parsed.field, error: parsed.error } : null} gpus={gpus} chosen={chosen} moeChosen={moeChosen} cpuOnly={cpuOnly} set={set} />

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
              <button type="button" className="button ghost" aria-disabled={!canReset} onClick={onReset}>
                Reset to defaults
              </button>
              <button type="submit" className="button" aria-disabled={!canSave}>
                Save
              </button>
              <button type="button" className="button primary" aria-disabled={!canLoad} onClick={onSaveAndLoad}>
                {isLoaded ? 'Save and reload' : 'Save and load'}
              </button>
            </div>
          </div>
        </form>
        <GuardrailSettings cpuOnly={cpuOnly} />
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
        {!estimate.data && !estimate.error && <p className="muted">{parsed && !parsed.ok ? 'The estimate follows once the settings are valid.' : 'Estimating…'}</p>}
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
