/** The keyboard shortcuts, listed (the message keys as the settings have them). */
import { Dialog } from '../components/Dialog';
import { selectSendOnEnter } from '../features/settings/settingsSlice';
import { useAppDispatch, useAppSelector } from './hooks';
import { comboKeys, messageKeys, SHORTCUTS } from './shortcuts';
import { closeDialog } from './uiSlice';

export function HelpDialog() {
  const dispatch = useAppDispatch();
  const keys = messageKeys(useAppSelector(selectSendOnEnter));
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
              {keys.send.map((k) => (
                <kbd key={k}>{k}</kbd>
              ))}
              {keys.alsoSend && (
                <>
                  {' or '}
                  {keys.alsoSend.map((k) => (
                    <kbd key={k}>{k}</kbd>
                  ))}
                </>
              )}
            </td>
          </tr>
          <tr>
            <td>New line in the message</td>
            <td>
              {keys.newLine.map((k) => (
                <kbd key={k}>{k}</kbd>
              ))}
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
