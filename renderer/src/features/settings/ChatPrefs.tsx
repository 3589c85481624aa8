/**
 * How the chat behaves and looks, saved at once like the theme: the text size (Appearance), and
 * which key sends, whether reasoning shows open, and the model a new chat starts with (Chat).
 * Bounds and defaults are the contract's (SettingsFields).
 */
import { SettingsFields } from '../../../../main/ipc/contract';
import { modelLabel } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { messageKeys } from '../../app/shortcuts';
import { selectLoadableModels } from '../models/modelsSlice';
import { SETTING_DEFAULTS, selectDefaultModelSetting, selectFontSize, selectSendOnEnter, selectShowReasoning, updateSettings } from './settingsSlice';

const FONT = SettingsFields.shape.fontSize.removeDefault();
/** every text size the setting accepts, in px */
const FONT_SIZES = Array.from({ length: (FONT.maxValue ?? 24) - (FONT.minValue ?? 10) + 1 }, (_, i) => (FONT.minValue ?? 10) + i);

export function TextSize() {
  const dispatch = useAppDispatch();
  const size = useAppSelector(selectFontSize);
  return (
    <div className="field text-size">
      <label htmlFor="font-size">Chat text size</label>
      <select id="font-size" value={size} aria-describedby="font-size-hint" onChange={(e) => void dispatch(updateSettings({ fontSize: Number(e.target.value) }))}>
        {FONT_SIZES.map((n) => (
          <option key={n} value={n}>
            {n} px{n === SETTING_DEFAULTS.fontSize ? ' (default)' : ''}
          </option>
        ))}
      </select>
      <span className="hint" id="font-size-hint">
        The messages and the message box.
      </span>
    </div>
  );
}

export function ChatBehaviour() {
  const dispatch = useAppDispatch();
  const sendOnEnter = useAppSelector(selectSendOnEnter);
  const showReasoning = useAppSelector(selectShowReasoning);
  const defaultModel = useAppSelector(selectDefaultModelSetting);
  const models = useAppSelector(selectLoadableModels);
  const settingsLoaded = useAppSelector((s) => s.settings.settings !== null);
  const keys = messageKeys(sendOnEnter);
  return (
    <fieldset className="chat-prefs" disabled={!settingsLoaded}>
      <legend>Chat</legend>
      <div className="check">
        <input id="send-on-enter" type="checkbox" checked={sendOnEnter} aria-describedby="send-on-enter-hint" onChange={(e) => void dispatch(updateSettings({ sendOnEnter: e.target.checked }))} />
        <div>
          <label htmlFor="send-on-enter">Enter sends the message</label>
          <span className="hint" id="send-on-enter-hint">
            {keys.send.join('+')} sends; {keys.newLine.join('+')} adds a line.
          </span>
        </div>
      </div>
      <div className="check">
        <input id="show-reasoning" type="checkbox" checked={showReasoning} aria-describedby="show-reasoning-hint" onChange={(e) => void dispatch(updateSettings({ showReasoning: e.target.checked }))} />
        <div>
          <label htmlFor="show-reasoning">Show reasoning open</label>
          <span className="hint" id="show-reasoning-hint">
            A model’s thinking before its answer; off, it is folded under “Reasoning”.
          </span>
        </div>
      </div>
      <div className="field">
        <label htmlFor="default-model">Model for new chats</label>
        <select id="default-model" value={defaultModel ?? ''} aria-describedby="default-model-hint" onChange={(e) => void dispatch(updateSettings({ defaultModel: e.target.value || null }))}>
          <option value="">None: the loaded model, or the one picked in the header</option>
          {defaultModel && !models.some((m) => m.path === defaultModel) && <option value={defaultModel}>{modelLabel(defaultModel)} (not in the models folder)</option>}
          {models.map((m) => (
            <option key={m.path} value={m.path}>
              {modelLabel(m.name)}
            </option>
          ))}
        </select>
        <span className="hint" id="default-model-hint">
          Used when no model is loaded: it loads when you send.
        </span>
      </div>
    </fieldset>
  );
}
