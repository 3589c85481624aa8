/** The keyboard shortcuts, listed. */
import { Dialog } from '../components/Dialog';
import { useAppDispatch } from './hooks';
import { comboKeys, SHORTCUTS } from './shortcuts';
import { closeDialog } from './uiSlice';

export function HelpDialog() {
  const dispatch = useAppDispatch();
  return (
    <Dialog title="Keyboard shortcuts" onClose={() => dispatch(closeDialog())}>
      <table className="table shortcuts" aria-label="Keyboard shortcuts">
        <thead>
          <tr>
            <th scope="col">Action</th>
            <th scope="col">Keys</th>
          </tr>
        </thead>
        <tbody>
          {SHORTCUTS.map((s) => (
            <tr key={s.id}>
              <td>{s.label}</td>
              <td>
                {comboKeys(s.combo).map((k, i) => (
                  <kbd key={i}>{k}</kbd>
                ))}
              </td>
            </tr>
          ))}
          <tr>
            <td>Send the message</td>
            <td>
              <kbd>Enter</kbd>
            </td>
          </tr>
          <tr>
            <td>New line in the message</td>
            <td>
              <kbd>Shift</kbd>
              <kbd>Enter</kbd>
            </td>
          </tr>
          <tr>
            <td>Close a dialog, clear the search</td>
            <td>
              <kbd>Esc</kbd>
            </td>
          </tr>
        </tbody>
      </table>
    </Dialog>
  );
}
