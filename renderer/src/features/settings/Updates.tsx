/**
 * Settings → Updates: the running version and its build's own channel, the channel followed (the `updateChannel`
 * setting; a move to a more stable one asks first: its next check may offer an older build), what the
 * app does about updates (the `updateMode` setting), "Check now", and where the updater is in words
 * (main's UpdateStateDTO: ../updates/updatesSlice.ts). Release notes show as text, never as HTML. Where
 * updates are unsupported (browser mode, a development run) the reason shows and only the two
 * settings stay usable.
 */
import { useEffect, useId, useRef } from 'react';
import { UPDATE_CHANNELS, UPDATE_MODES, type UpdateChannel, type UpdateMode, type UpdateStateDTO } from '../../../../main/ipc/updates';
import { formatBytes } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import {
  CHANNEL_NAMES,
  cancelInstall,
  channelMoveDismissed,
  channelSees,
  checkForUpdates,
  chooseUpdateChannel,
  confirmChannelMove,
  downloadUpdate,
  installUpdate,
  selectFollowedChannel,
  selectRunningBuildChannel,
  selectUnsupportedReason,
  selectUpdates,
} from '../updates/updatesSlice';
import { selectAppInfo, selectSettings, SETTING_DEFAULTS, updateSettings } from './settingsSlice';

const MODE_LABELS: Record<UpdateMode, string> = {
  auto: 'Download updates automatically',
  check: 'Check only, ask before downloading',
  off: 'Off',
};

/** What the mode chosen does, under the select. */
const MODE_HINTS: Record<UpdateMode, string> = {
  auto: 'Hearth checks at start and every few hours, downloads an update in the background and offers “Restart to update”.',
  check: 'Hearth checks at start and every few hours and says so in the header; it downloads only when you ask.',
  off: 'Hearth never checks by itself; “Check now” still works.',
};

/** What an install waits for, in words ("the reply to finish and the model download to finish"). */
export function waitingWords(waitingFor: UpdateStateDTO['waitingFor']): string {
  const words = waitingFor.map((w) => (w === 'generation' ? 'the reply to finish' : 'the model download to finish'));
  return words.length ? words.join(' and ') : 'the app to be free';
}

function ChannelConfirm({ channel }: { channel: UpdateChannel }) {
  const dispatch = useAppDispatch();
  const id = useId();
  const keepRef = useRef<HTMLButtonElement>(null);
  useEffect(() => keepRef.current?.focus(), []);
  const name = CHANNEL_NAMES[channel];
  return (
    <div role="alertdialog" aria-labelledby={`${id}-t`} aria-describedby={`${id}-d`} className="update-confirm">
      <p id={`${id}-t`} className="update-confirm-title">
        Switch to the {name} channel?
      </p>
      <p id={`${id}-d`}>The next check may offer an older build than the one you run: installing it would be a downgrade, and Hearth asks before downloading it.</p>
      <div className="form-actions">
        <button type="button" className="button" ref={keepRef} onClick={() => dispatch(channelMoveDismissed())}>
          Keep the current channel
        </button>
        <button type="button" className="button primary" onClick={() => dispatch(confirmChannelMove())}>
          Switch to {name}
        </button>
      </div>
    </div>
  );
}

/** The update found, its release notes as text in a scrollable region, and the downgrade warning with its own button. */
function UpdateFound({ state, disabled }: { state: UpdateStateDTO; disabled: boolean }) {
  const dispatch = useAppDispatch();
  const u = state.update;
  if (!u) return null;
  return (
    <div className="stack">
      {state.phase === 'available' && u.downgrade && (
        <div className="update-downgrade" role="note">
          <p>
            {u.version} is older than the version you run ({state.current}): installing it is a downgrade.
          </p>
          {u.blocked ? (
            // it could not open the data this version wrote: no button, the reason instead
            <p data-testid="update-blocked">{u.blocked}</p>
          ) : (
            <button type="button" className="button danger-fill" disabled={disabled} onClick={() => void dispatch(downloadUpdate({ confirmDowngrade: true }))}>
              Download {u.version} (downgrade)
            </button>
          )}
        </div>
      )}
      {state.phase === 'available' && !u.downgrade && (
        <div className="form-actions">
          <button type="button" className="button primary" disabled={disabled} onClick={() => void dispatch(downloadUpdate({ confirmDowngrade: false }))}>
            Download {u.version}
          </button>
        </div>
      )}
      {u.releaseNotes && (
        // text, never markup: whatever the feed says shows as it is written
        <div className="release-notes" role="region" aria-label={`Release notes for ${u.version}`} tabIndex={0}>
          {u.releaseNotes}
        </div>
      )}
    </div>
  );
}

/** Where the updater is, in words, with the control that phase offers. */
function Phase({ state, disabled }: { state: UpdateStateDTO; disabled: boolean }) {
  const dispatch = useAppDispatch();
  const v = state.update?.version ?? '';
  switch (state.phase) {
    case 'unsupported':
      return null;
    case 'idle':
      return <p role="status">{state.mode === 'off' ? 'Automatic checks are off.' : 'Not checked yet.'}</p>;
    case 'checking':
      return <p role="status">Checking for updates…</p>;
    case 'none':
      return <p role="status">Hearth is up to date.</p>;
    case 'available':
      return <p role="status">Version {v} is available.</p>;
    case 'downloading': {
      const p = state.progress;
      const pct = p && p.total > 0 ? Math.min(100, Math.round((p.transferred / p.total) * 100)) : 0;
      return (
        <div className="stack">
          <p role="status">Downloading version {v}…</p>
          <div className="update-progress">
            <progress aria-label={`Downloading version ${v}`} max={100} value={pct} />
            <span className="muted">{p ? `${pct}% · ${formatBytes(p.transferred)} of ${formatBytes(p.total)} · ${formatBytes(p.bytesPerSecond)}/s` : 'starting…'}</span>
          </div>
        </div>
      );
    }
    case 'downloaded':
      return (
        <div className="form-actions update-phase">
          <p role="status">Version {v} is ready.</p>
          <button type="button" className="button primary" disabled={disabled} onClick={() => void dispatch(installUpdate())}>
            Restart to update
          </button>
        </div>
      );
    case 'waiting':
      return (
        <div className="form-actions update-phase">
          <p role="status">
            Version {v} installs once {waitingFor(state)}; Hearth then restarts.
          </p>
          <button type="button" className="button" disabled={disabled} aria-label="Cancel the waiting update" onClick={() => void dispatch(cancelInstall())}>
            Cancel
          </button>
        </div>
      );
    case 'installing':
      return <p role="status">Installing version {v}: Hearth restarts…</p>;
    case 'error':
      return (
        <p role="alert" className="inline-error">
          Update failed: {state.error?.message ?? 'unknown error'}
        </p>
      );
  }
}

const waitingFor = (state: UpdateStateDTO) => waitingWords(state.waitingFor);

export function UpdatesSection() {
  const dispatch = useAppDispatch();
  const { state, busy, actionError, loadError, confirmChannel } = useAppSelector(selectUpdates);
  const unsupported = useAppSelector(selectUnsupportedReason);
  const channel = useAppSelector(selectFollowedChannel);
  const mode = useAppSelector(selectSettings)?.updateMode ?? state?.mode ?? SETTING_DEFAULTS.updateMode;
  const appVersion = useAppSelector(selectAppInfo)?.appVersion;
  const version = state?.current ?? appVersion ?? null;
  const buildChannel = useAppSelector(selectRunningBuildChannel);
  const controlsOff = unsupported !== null || !state || busy !== null;
  const running = state?.phase === 'checking' || state?.phase === 'downloading' || state?.phase === 'installing';
  return (
    <div className="stack updates">
      {version && (
        <p data-testid="update-running">
          You run Hearth <strong>{version}</strong>
          {buildChannel ? `, a ${buildChannel} build` : ', a development build'}. Following: <strong>{CHANNEL_NAMES[channel]}</strong>.
        </p>
      )}
      {unsupported && (
        <p role="note" className="update-unsupported">
          {unsupported}
        </p>
      )}
      <div className="field">
        <label htmlFor="update-channel">Channel</label>
        <select id="update-channel" value={channel} disabled={confirmChannel !== null} onChange={(e) => dispatch(chooseUpdateChannel(e.target.value as UpdateChannel))}>
          {UPDATE_CHANNELS.map((c) => (
            <option key={c} value={c}>
              {CHANNEL_NAMES[c]}
            </option>
          ))}
        </select>
        <ul className="hint update-channels" aria-label="What each channel gets">
          {UPDATE_CHANNELS.map((c) => (
            <li key={c}>
              {CHANNEL_NAMES[c]}: {channelSees(c)}
            </li>
          ))}
        </ul>
      </div>
      {confirmChannel && <ChannelConfirm channel={confirmChannel} />}
      <div className="field">
        <label htmlFor="update-mode">When an update is found</label>
        <select id="update-mode" value={mode} aria-describedby="update-mode-hint" onChange={(e) => void dispatch(updateSettings({ updateMode: e.target.value as UpdateMode }))}>
          {UPDATE_MODES.map((m) => (
            <option key={m} value={m}>
              {MODE_LABELS[m]}
            </option>
          ))}
        </select>
        <span id="update-mode-hint" className="hint">
          {MODE_HINTS[mode]}
        </span>
      </div>
      <div className="form-actions update-check">
        <span className="muted" data-testid="update-last-checked">
          Last checked: {state?.lastCheckedAt ? new Date(state.lastCheckedAt).toLocaleString() : 'never'}
        </span>
        <button type="button" className="button" disabled={controlsOff || running} onClick={() => void dispatch(checkForUpdates())}>
          Check now
        </button>
      </div>
      {state && !unsupported && <Phase state={state} disabled={controlsOff} />}
      {state && !unsupported && <UpdateFound state={state} disabled={controlsOff} />}
      {(actionError || loadError) && (
        <p role="alert" className="inline-error">
          {actionError ?? loadError}
        </p>
      )}
    </div>
  );
}
