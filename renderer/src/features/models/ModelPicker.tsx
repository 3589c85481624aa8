/** Header: pick a model from <data>/models/, its load progress, the open chat's context use, its settings, and its error below the header. */
import { formatBytes, formatInt, modelLabel } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { openDialog } from '../../app/uiSlice';
import { Icon } from '../../components/Icon';
import { selectContextUsed } from '../chat/chatSlice';
import { modelSettingsPathChosen } from '../modelSettings/modelSettingsSlice';
import { loadModel, modelErrorDismissed, selectModelError, selectModels, selectModelState, unloadModel } from './modelsSlice';

export function ContextMeter({ used, size }: { used: number; size: number }) {
  const pct = size > 0 ? Math.min(100, (used / size) * 100) : 0;
  return (
    <div
      className={`context-meter${pct > 90 ? ' full' : pct > 75 ? ' high' : ''}`}
      role="meter"
      aria-label="Context used"
      aria-valuemin={0}
      aria-valuemax={size}
      aria-valuenow={used}
      aria-valuetext={`${formatInt(used)} of ${formatInt(size)} tokens`}
      title={`Context: ${formatInt(used)} of ${formatInt(size)} tokens used`}
    >
      <div className="meter-bar" aria-hidden="true">
        <div className="meter-fill" style={{ width: `${pct}%` }} />
      </div>
      <span className="meter-text">
        {formatInt(used)} / {formatInt(size)}
      </span>
    </div>
  );
}

export function ModelPicker() {
  const dispatch = useAppDispatch();
  const models = useAppSelector(selectModels);
  const listStatus = useAppSelector((s) => s.models.listStatus);
  const st = useAppSelector(selectModelState);
  // the open chat's own count (0 on the new-chat screen), not whatever the engine last held
  const used = useAppSelector((s) => selectContextUsed(s, s.threads.selectedId));
  const value = st.loading?.path ?? st.loaded?.path ?? '';
  const known = models.some((m) => m.path === value);

  return (
    <div className="model-picker">
      <select
        aria-label="Model"
        value={value}
        disabled={models.length === 0 && !value}
        onChange={(e) => e.target.value && void dispatch(loadModel(e.target.value))}
      >
        <option value="" disabled>
          {listStatus === 'ready' && models.length === 0 ? 'No models found' : 'Choose a model…'}
        </option>
        {value && !known && <option value={value}>{modelLabel(value)}</option>}
        {models.map((m) => (
          <option key={m.path} value={m.path}>
            {modelLabel(m.name)} · {formatBytes(m.fileSize)}
          </option>
        ))}
      </select>
      <button
        type="button"
        className="icon-button small"
        aria-label="Model settings"
        title="Model settings: GPU layers, context, memory"
        disabled={!value && models.length === 0}
        onClick={() => {
          const target = value || models[0]?.path;
          if (target) dispatch(modelSettingsPathChosen(target));
          dispatch(openDialog({ name: 'settings', section: 'models' }));
        }}
      >
        <Icon name="sliders" size={16} />
      </button>
      {st.loading && (
        <div className="load-progress">
          <progress aria-label={`Loading ${modelLabel(st.loading.path)}`} max={1} value={st.loading.progress} />
          <span className="muted">{Math.round(st.loading.progress * 100)}%</span>
        </div>
      )}
      {st.loaded && !st.loading && <ContextMeter used={used} size={st.loaded.contextSize} />}
      {st.loaded && !st.loading && (
        <button type="button" className="icon-button small" aria-label="Unload model" title="Unload model" onClick={() => void dispatch(unloadModel())}>
          <Icon name="eject" size={15} />
        </button>
      )}
    </div>
  );
}

/**
 * The model's error (a failed load or unload, or main's: the engine dropped the model), naming the
 * model's file, under the header across the whole width: the full text wraps (nothing is cut to a
 * tooltip), in a live region, until it is dismissed or no longer applies (another load starts, a model
 * loads, the model leaves the models folder).
 */
export function ModelError() {
  const dispatch = useAppDispatch();
  const error = useAppSelector(selectModelError);
  if (!error) return null;
  return (
    <div className="model-error" role="alert">
      <p>{error}</p>
      <button type="button" className="icon-button small" aria-label="Dismiss model error" title="Dismiss" onClick={() => dispatch(modelErrorDismissed())}>
        <Icon name="close" size={14} />
      </button>
    </div>
  );
}
