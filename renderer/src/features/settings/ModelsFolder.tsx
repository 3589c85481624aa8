/**
 * Settings → Models: the models folder (where it is; move the models to another folder, with a
 * progress bar naming the file being moved) and the Hugging Face token for gated repositories
 * (whether one is set and where it is kept; save a new one, forget it). The token typed is sent once
 * and never shown again: main answers only "set" or "not set".
 */
import { useState } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { formatBytes } from '../../app/format';
import { moveModelsFolder, saveHfToken, selectModelsMove, selectSettings, selectTokenSave } from './settingsSlice';

const STORAGE_WORDS = {
  keychain: 'kept encrypted with the OS keychain',
  file: 'kept in a plain file in the data folder',
  environment: 'from the HF_TOKEN environment variable',
  none: 'none',
} as const;

export function ModelsFolder() {
  const dispatch = useAppDispatch();
  const folder = useAppSelector(selectSettings)?.modelsFolder ?? '';
  const move = useAppSelector(selectModelsMove);
  const [to, setTo] = useState('');
  const moving = move?.state === 'moving';
  const pct = move && move.total > 0 ? Math.floor((move.bytes / move.total) * 100) : 0;
  return (
    <form
      aria-label="Models folder"
      className="stack models-folder"
      onSubmit={(e) => {
        e.preventDefault();
        if (to.trim()) void dispatch(moveModelsFolder(to.trim()));
      }}
    >
      <div className="field">
        <label htmlFor="models-folder-current">Models folder</label>
        <input id="models-folder-current" readOnly value={folder} />
        <span className="hint">Downloads and imports go here; .gguf files put here appear in the model picker.</span>
      </div>
      <div className="field">
        <label htmlFor="models-folder-new">Move models to</label>
        <input id="models-folder-new" value={to} placeholder="/an/absolute/path" onChange={(e) => setTo(e.target.value)} disabled={moving} spellCheck={false} />
        <span className="hint">Every file of the models folder moves there (refused while downloads are kept); a loaded model from it is unloaded first.</span>
      </div>
      {moving && (
        <div className="move-progress">
          <progress max={100} value={pct} aria-label="Moving models" aria-valuetext={`${pct}%`} />
          <span role="status" className="muted">
            {formatBytes(move.bytes)} of {formatBytes(move.total)}
            {move.file ? ` — ${move.file}` : ''}
          </span>
        </div>
      )}
      {move?.state === 'failed' && (
        <p role="alert" className="inline-error">
          {move.message}
        </p>
      )}
      <div className="form-actions">
        <span role="status" className="muted">
          {move?.state === 'done' ? move.message : null}
        </span>
        <button type="submit" className="button primary" disabled={moving || !to.trim()}>
          {moving ? 'Moving…' : 'Move models'}
        </button>
      </div>
    </form>
  );
}

export function HfTokenField() {
  const dispatch = useAppDispatch();
  const settings = useAppSelector(selectSettings);
  const save = useAppSelector(selectTokenSave);
  const [token, setToken] = useState('');
  const set = settings?.hfToken === 'set';
  const storage = settings?.hfTokenStorage ?? 'none';
  const busy = save?.state === 'busy';
  return (
    <form
      aria-label="Hugging Face token"
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        if (!token.trim()) return;
        void dispatch(saveHfToken(token.trim()));
        setToken('');
      }}
    >
      <p className="muted" data-testid="hf-token-status">
        Hugging Face token: <strong>{set ? 'set' : 'not set'}</strong>
        {set ? ` (${STORAGE_WORDS[storage]})` : ''}. Gated repositories need one.
      </p>
      {(settings?.warnings ?? []).map((w) => (
        <p key={w} role="note" className="inline-warning">
          {w}
        </p>
      ))}
      <div className="field">
        <label htmlFor="hf-token">{set ? 'New token' : 'Token'}</label>
        <input id="hf-token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} disabled={busy} spellCheck={false} />
      </div>
      {save?.state === 'failed' && (
        <p role="alert" className="inline-error">
          {save.message}
        </p>
      )}
      <div className="form-actions">
        <span role="status" className="muted">
          {save?.state === 'done' ? save.message : null}
        </span>
        <button type="button" className="button" disabled={busy || storage === 'none' || storage === 'environment'} onClick={() => void dispatch(saveHfToken(null))}>
          Forget token
        </button>
        <button type="submit" className="button primary" disabled={busy || !token.trim()}>
          Save token
        </button>
      </div>
    </form>
  );
}
