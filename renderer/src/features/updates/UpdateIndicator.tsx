/**
 * The header's word about an update: "Update to X available" once a check finds one that waits for
 * the user (mode "check only", or an older build after a move to a more stable channel: "Older X
 * offered"), opening Settings → Updates where it downloads; "Restart to update" once one is downloaded, "Update waiting" with
 * Cancel while its install waits for a reply or a model download to finish, "Installing update…"
 * once it installs; nothing otherwise (a failed check says so in Settings → Updates only).
 */
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { openDialog } from '../../app/uiSlice';
import { waitingWords } from '../settings/Updates';
import { cancelInstall, installUpdate, selectUpdates } from './updatesSlice';

export function UpdateIndicator() {
  const dispatch = useAppDispatch();
  const { state, busy } = useAppSelector(selectUpdates);
  if (!state?.update) return null;
  const v = state.update.version;
  if (state.phase === 'available') {
    const downgrade = state.update.downgrade;
    return (
      <button
        type="button"
        className="button small update-indicator"
        title={downgrade ? `Version ${v} is older than the ${state.current} you run: see Settings → Updates` : `See version ${v} in Settings → Updates`}
        onClick={() => dispatch(openDialog({ name: 'settings', section: 'updates' }))}
      >
        {downgrade ? `Older version ${v} offered (downgrade)` : `Update to ${v} available`}
      </button>
    );
  }
  if (state.phase === 'downloaded') {
    return (
      <button type="button" className="button small primary update-indicator" aria-label={`Restart to update to ${v}`} title={`Version ${v} is ready`} disabled={busy !== null} onClick={() => void dispatch(installUpdate())}>
        Restart to update
      </button>
    );
  }
  if (state.phase === 'waiting') {
    return (
      <span className="update-indicator waiting" role="status">
        <span title={`Version ${v} installs once ${waitingWords(state.waitingFor)}`}>Update waiting…</span>
        <button type="button" className="button small" aria-label="Cancel the waiting update" disabled={busy !== null} onClick={() => void dispatch(cancelInstall())}>
          Cancel
        </button>
      </span>
    );
  }
  if (state.phase === 'installing') return <span className="update-indicator" role="status">Installing update…</span>;
  return null;
}
