/**
 * Settings → Chat defaults, the threads' caches (the `threadCache` setting, ThreadCacheSettings' bounds): how
 * many chats keep their conversation live in the model's context, and the saved caches' disk budget
 * and age (main/chat/sessions.ts). Saved with the button; main's refusal shows under the form.
 */
import { useEffect, useState } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { useUnsavedChanges } from '../../components/unsaved';
import { ThreadCacheSettings } from '../../../../main/ipc/thread-cache';
import { selectSettings, updateSettings } from './settingsSlice';

const DEFAULTS = ThreadCacheSettings.parse({});
const FIELDS = [
  { key: 'liveThreads', id: 'thread-cache-live', label: 'Chats kept in the model’s cache', hint: 'Switching to one of them reads only the new message (takes effect at the next model load).' },
  { key: 'diskBudgetMiB', id: 'thread-cache-disk', label: 'Saved caches on disk (MiB)', hint: 'Other chats’ caches are saved when they leave the model and restored on their next message; the oldest go past this (0: none are saved).' },
  { key: 'maxAgeDays', id: 'thread-cache-age', label: 'Keep saved caches for (days)', hint: '' },
] as const;

export function ThreadCacheFields() {
  const dispatch = useAppDispatch();
  const saved = useAppSelector(selectSettings)?.threadCache ?? DEFAULTS;
  const saveError = useAppSelector((s) => s.settings.saveError);
  const [value, setValue] = useState<Record<string, string>>({});
  const [asked, setAsked] = useState(false);
  const shown = (k: (typeof FIELDS)[number]['key']) => value[k] ?? String(saved[k]);
  // main's values when they change (another window, a save)
  useEffect(() => setValue({}), [saved]);
  const changed = FIELDS.some((f) => shown(f.key) !== String(saved[f.key]));
  useUnsavedChanges(changed);
  return (
    <form
      aria-label="Chat caches"
      className="stack"
      onSubmit={(e) => {
        e.preventDefault();
        setAsked(true);
        void dispatch(updateSettings({ threadCache: { liveThreads: Number(shown('liveThreads')), diskBudgetMiB: Number(shown('diskBudgetMiB')), maxAgeDays: Number(shown('maxAgeDays')) } }));
      }}
    >
      <fieldset className="chat-prefs">
      <legend>Chat caches</legend>
      {FIELDS.map((f) => (
        <div className="field" key={f.key}>
          <label htmlFor={f.id}>{f.label}</label>
          <input id={f.id} type="number" inputMode="numeric" value={shown(f.key)} onChange={(e) => setValue({ ...value, [f.key]: e.target.value })} />
          {f.hint && <p className="hint">{f.hint}</p>}
        </div>
      ))}
      {asked && saveError && (
        <p role="alert" className="inline-error">
          {saveError}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="button primary" disabled={!changed}>
          Save chat caches
        </button>
      </div>
      </fieldset>
    </form>
  );
}
