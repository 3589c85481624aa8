/**
 * Settings → Models, how models are downloaded: how many at once (the `downloadConcurrency` setting,
 * DOWNLOAD_CONCURRENCY's bounds), and the proxy the hub and downloads go through (the `proxy`
 * setting; empty: the HTTPS_PROXY / HTTP_PROXY variables, NO_PROXY applying either way). Main checks
 * what is saved; its refusal shows under the field and the setting stays as it was.
 */
import { useEffect, useState } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { useUnsavedChanges } from '../../components/unsaved';
import { DOWNLOAD_CONCURRENCY, shownProxy } from '../../../../main/ipc/models';
import { selectSettings, updateSettings } from './settingsSlice';

export function ProxyField() {
  const dispatch = useAppDispatch();
  const saved = useAppSelector(selectSettings)?.proxy ?? null;
  const saveError = useAppSelector((s) => s.settings.saveError);
  const [value, setValue] = useState(saved ?? '');
  const [asked, setAsked] = useState(false);
  // main's value when it changes (another window, a save)
  useEffect(() => setValue(saved ?? ''), [saved]);
  const typed = value.trim();
  const changed = typed !== (saved ?? '');
  useUnsavedChanges(changed);
  return (
    <form
      aria-label="Proxy"
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        setAsked(true);
        void dispatch(updateSettings({ proxy: typed === '' ? null : typed }));
      }}
    >
      <div className="field">
        <label htmlFor="proxy-url">Proxy for Hugging Face and downloads</label>
        <input id="proxy-url" type="url" inputMode="url" placeholder="http://proxy.example:3128 (empty: HTTPS_PROXY / HTTP_PROXY)" value={value} spellCheck={false} onChange={(e) => setValue(e.target.value)} />
      </div>
      {asked && saveError && (
        <p role="alert" className="inline-error">
          {saveError}
        </p>
      )}
      <div className="form-actions">
        <span role="status" className="muted">
          {saved ? `Using ${shownProxy(saved)}` : 'No proxy set: the environment’s proxy variables apply, if any.'}
        </span>
        <button type="submit" className="button primary" disabled={!changed}>
          Save proxy
        </button>
      </div>
    </form>
  );
}

/** Downloads at once: a number within DOWNLOAD_CONCURRENCY's bounds, saved as it changes (the rest wait in order). */
export function DownloadLimitField() {
  const dispatch = useAppDispatch();
  const saved = useAppSelector(selectSettings)?.downloadConcurrency ?? DOWNLOAD_CONCURRENCY.default;
  return (
    <div className="field">
      <label htmlFor="download-limit">Downloads at once</label>
      <select id="download-limit" value={saved} onChange={(e) => void dispatch(updateSettings({ downloadConcurrency: Number(e.target.value) }))}>
        {Array.from({ length: DOWNLOAD_CONCURRENCY.max - DOWNLOAD_CONCURRENCY.min + 1 }, (_, i) => DOWNLOAD_CONCURRENCY.min + i).map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
      <p className="hint">More downloads wait in order and start as one finishes.</p>
    </div>
  );
}
