/** The whole window while main restarts (a backup restored, the data folder moved): nothing else can be used until the page reloads (./listeners.ts). */
import { useAppSelector } from '../../app/hooks';
import { selectRestarting } from './dataSlice';

export function RestartingOverlay() {
  const reason = useAppSelector(selectRestarting);
  if (reason === null) return null;
  return (
    <div className="overlay restarting-overlay">
      <div role="alertdialog" aria-modal="true" aria-labelledby="restarting-title" aria-describedby="restarting-reason" className="dialog restarting" tabIndex={-1} ref={(el) => el?.focus()}>
        <h2 id="restarting-title">Restarting…</h2>
        <p id="restarting-reason" className="muted">
          {reason}
        </p>
        <p className="muted">This window reloads when Hearth is back.</p>
      </div>
    </div>
  );
}
