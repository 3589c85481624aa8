/**
 * The header's word about an update: "Restart to update" once one is downloaded, "Update waiting" with
 * Cancel while its install waits for a reply or a model download to finish, "Installing update…"
 * once it installs; nothing otherwise.
 */
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { waitingWords } from '../settings/Updates';
import { cancelInstall, installUpdate, selectUpdates } from './updatesSlice';

export function UpdateIndicator() {
  const dispatch = useAppDispatch();
  const { state, busy } = useAppSelector(selectUpdates);
  if (!state?.update) return null;
  const v = state.update.version;
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
