/**
 * Header: pick a model from <data>/models/ or, while remote providers are allowed, a remote provider's
 * (grouped by provider, marked remote); a local model's load progress, the open chat's context use,
 * its settings, and its error below the header. A chat on a remote model shows that model: the local
 * one's meter and unload button are hidden (they are not what answers it).
 */
import { formatBytes, formatInt, modelLabel } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { openDialog } from '../../app/uiSlice';
import { Icon } from '../../components/Icon';
import { selectContextUsed } from '../chat/chatSlice';
import { modelSettingsPathChosen } from '../modelSettings/modelSettingsSlice';
import { modelPicked, remoteGroups, selectActiveRemote, selectRemoteLabel } from '../providers/providersSlice';
import { modelErrorDismissed, selectModelError, selectLoadableModels, selectModelState, unloadModel } from './modelsSlice';

/**
 * What a thread's conversation fills of the context. A reply that ran the context full ends on a token
 * it sampled but had no room to decode, so the conversation can be one token longer than the context
 * (2,049 in 2,048), and a thread written with a larger context can be longer still: the meter then
 * shows the context full ("2,048+"), and its title says by how much it is over.
 */
export function ContextMeter({ used, size }: { used: number; size: number }) {
  if (size <= 0) return null; // no context to measure against
  const held = Math.max(0, Math.min(used, size));
  const over = used > size;
  const pct = (held / size) * 100;
  return (
    <div
      className={`context-meter${pct > 90 ? ' full' : pct > 75 ? ' high' : ''}`}
      role="meter"
      aria-label="Context used"
      aria-valuemin={0}
      aria-valuemax={size}
      aria-valuenow={held}
      aria-valuetext={over ? `full: ${formatInt(used)} tokens of conversation in ${formatInt(size)}` : `${formatInt(held)} of ${formatInt(size)} tokens`}
      title={over ? `Context full: the conversation is ${formatInt(used)} tokens, the context ${formatInt(size)}` : `Context: ${formatInt(held)} of ${formatInt(size)} tokens used`}
    >
      <div className="meter-bar" aria-hidden="true">
        <div className="meter-fill" style={{ width: `${pct}%` }} />
      </div>
      <span className="meter-text">
        {formatInt(held)}
        {over ? '+' : ''} / {formatInt(size)}
      </span>
    </div>
  );
}

export function ModelPicker() {
  const dispatch = useAppDispatch();
  const models = useAppSelector(selectLoadableModels);
  const listStatus = useAppSelector((s) => s.models.listStatus);
  const st = useAppSelector(selectModelState);
  // the open chat's own count (0 on the new-chat screen), not whatever the engine last held
  const used = useAppSelector((s) => selectContextUsed(s, s.threads.selectedId));
  const threadId = useAppSelector((s) => s.threads.selectedId);
  const groups = remoteGroups(useAppSelector((s) => s.providers.status));
  const remote = useAppSelector(selectActiveRemote);
  const remoteLabel = useAppSelector((s) => (remote ? selectRemoteLabel(s, remote) : null));
  const local = st.loading?.path ?? st.loaded?.path ?? '';
  const value = remote ?? local;
  const known = remote ? groups.some((g) => g.options.some((o) => o.ref === remote)) : models.some((m) => m.path === value);

  return (
    <div className="model-picker">
      <select
        aria-label="Model"
        value={value}
        disabled={models.length === 0 && groups.length === 0 && !value}
        onChange={(e) => e.target.value && dispatch(modelPicked({ value: e.target.value, threadId }))}
      >
        <option value="" disabled>
          {listStatus === 'ready' && models.length === 0 && groups.length === 0 ? 'No models found' : 'Choose a model…'}
        </option>
        {value && !known && <option value={value}>{remoteLabel ?? modelLabel(value)}</option>}
        {models.map((m) => (
          <option key={m.path} value={m.path}>
            {modelLabel(m.name)} · {formatBytes(m.fileSize)}
          </option>
        ))}
        {groups.map((g) => (
          <optgroup key={g.provider.id} label={g.provider.name}>
            {g.options.map((o) => (
              <option key={o.ref} value={o.ref}>
                {o.label}
              </option>
            ))}
          </optgroup>
        ))}
      </select>
      {remote && (
        <span className="badge remote-badge" title={`Replies come from ${remoteLabel}: your messages are sent to the provider`}>
          Remote
        </span>
      )}
      <button
        type="button"
        className="icon-button small"
        aria-label="Model settings"
        title="Model settings: GPU layers, context, memory"
        disabled={!local && models.length === 0}
        onClick={() => {
          const target = local || models[0]?.path;
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
      {st.loaded && !st.loading && !remote && <ContextMeter used={used} size={st.loaded.contextSize} />}
      {st.loaded && !st.loading && !remote && (
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
