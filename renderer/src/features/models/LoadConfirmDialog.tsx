/**
 * The guardrail on "warn": main answered a load with needs_confirmation (the model may not fit).
 * Asks once, with main's numbers; "Load anyway" loads with force, "Cancel" leaves things as they are.
 */
import { describeError } from '../../app/errors';
import { modelLabel } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { Dialog } from '../../components/Dialog';
import { loadConfirmDismissed, loadModel } from './modelsSlice';

export function LoadConfirmDialog() {
  const dispatch = useAppDispatch();
  const confirm = useAppSelector((s) => s.models.confirm);
  if (!confirm) return null;
  const cancel = () => dispatch(loadConfirmDismissed());
  return (
    <Dialog title="This model may not fit" onClose={cancel} className="confirm-dialog">
      <p>
        <strong>{modelLabel(confirm.path)}</strong>
      </p>
      <p className="confirm-message">{describeError({ code: 'needs_confirmation', message: confirm.message })}</p>
      <p className="muted">Loading it anyway may fail, or slow the whole computer down while memory is short.</p>
      <div className="form-actions">
        <button type="button" className="button" data-autofocus onClick={cancel}>
          Cancel
        </button>
        <button type="button" className="button primary" onClick={() => void dispatch(loadModel({ path: confirm.path, force: true }))}>
          Load anyway
        </button>
      </div>
    </Dialog>
  );
}
