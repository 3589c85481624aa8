/** Settings: appearance, chat defaults (sampling), models (load settings, guardrail), tools, remote providers, documents, hardware, data (import, export, backups, the data folder, erase), updates, about. */
import { KeyboardEvent, useState } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { closeDialog, setSettingsSection, SettingsSection } from '../../app/uiSlice';
import { Dialog } from '../../components/Dialog';
import { useDiscardGuard, useUnsavedChanges } from '../../components/unsaved';
import { HardwarePanel } from '../hardware/HardwarePanel';
import { ModelSettingsPanel } from '../modelSettings/ModelSettingsPanel';
import { UpdatesSection } from './Updates';
import { ApiServerSection } from './ApiServer';
import { About } from './About';
import { ToolsSettings } from '../tools/ToolsSettings';
import { ProvidersSettings } from '../providers/ProvidersSettings';
import { DocumentsSettings } from '../documents/DocumentsSettings';
import { HfTokenField, ModelsFolder } from './ModelsFolder';
import { DownloadLimitField, ProxyField } from './Downloading';
import { ThreadCacheFields } from './ThreadCache';
import { ChatBehaviour, TextSize } from './ChatPrefs';
import { parseSampling, SamplingFields, samplingToStrings } from './SamplingFields';
import { selectSettings, Theme, updateSettings } from './settingsSlice';
import { DataPage } from '../data/DataPage';

const SECTIONS: { id: SettingsSection; label: string }[] = [
  { id: 'appearance', label: 'Appearance' },
  { id: 'chat', label: 'Chat defaults' },
  { id: 'models', label: 'Models' },
  { id: 'tools', label: 'Tools' },
  { id: 'providers', label: 'Providers' },
  { id: 'documents', label: 'Documents' },
  { id: 'hardware', label: 'Hardware' },
  { id: 'data', label: 'Data' },
  { id: 'updates', label: 'Updates' },
  { id: 'api', label: 'Local API server' },
  { id: 'about', label: 'About' },
];

function Appearance() {
  const dispatch = useAppDispatch();
  const theme = useAppSelector((s) => s.settings.theme);
  const options: { value: Theme; label: string }[] = [
    { value: 'light', label: 'Light' },
    { value: 'dark', label: 'Dark' },
    { value: 'system', label: 'System (follow the OS)' },
  ];
  return (
    <div className="stack">
      <fieldset className="radio-row">
        <legend>Theme</legend>
        {options.map((o) => (
          <label key={o.value} className={`radio-card${theme === o.value ? ' checked' : ''}`}>
            <input type="radio" name="theme" value={o.value} checked={theme === o.value} onChange={() => void dispatch(updateSettings({ theme: o.value }))} />
            <span className={`swatch swatch-${o.value}`} aria-hidden="true" />
            {o.label}
          </label>
        ))}
      </fieldset>
      <TextSize />
    </div>
  );
}

function ChatDefaults() {
  const dispatch = useAppDispatch();
  const settings = useAppSelector(selectSettings);
  const saveError = useAppSelector((s) => s.settings.saveError);
  const [values, setValues] = useState(() => samplingToStrings(settings?.chatDefaults));
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  // the form follows the saved defaults when their values change, not each time the settings object is
  // fetched again (another setting saved, e.g. the model for new chats): that would drop what was typed
  // (in the same render, so that no render compares what was typed with newly saved defaults)
  const saved = JSON.stringify(settings?.chatDefaults ?? null);
  const [shown, setShown] = useState(saved);
  if (shown !== saved) {
    setShown(saved);
    setValues(samplingToStrings(settings?.chatDefaults));
  }
  useUnsavedChanges(JSON.stringify(values) !== JSON.stringify(samplingToStrings(settings?.chatDefaults)));

  const save = async () => {
    const parsed = parseSampling(values);
    if ('error' in parsed) {
      setError(parsed.error);
      return;
    }
    setError(null);
    const r = await dispatch(updateSettings({ chatDefaults: parsed.value }));
    setNote(updateSettings.fulfilled.match(r) ? 'Saved.' : null);
  };
  return (
    <form
      aria-label="Chat defaults"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <p className="muted">Used by new replies unless the assistant sets its own. Leave a field blank for the model's default.</p>
      <SamplingFields values={values} onChange={(v) => (setValues(v), setNote(null))} />
      {(error || saveError) && (
        <p role="alert" className="inline-error">
          {error ?? saveError}
        </p>
      )}
      <div className="form-actions">
        <span role="status" className="muted">
          {note}
        </span>
        <button type="submit" className="button primary">
          Save defaults
        </button>
      </div>
    </form>
  );
}

/** The tabs and the shown section; switching tab asks first when the section holds unsaved edits. */
function SettingsBody() {
  const dispatch = useAppDispatch();
  const section = useAppSelector((s) => s.ui.settingsSection);
  const guard = useDiscardGuard();
  const show = (id: SettingsSection, focus = false) => {
    if (id === section) return;
    guard(() => {
      dispatch(setSettingsSection(id));
      if (focus) document.getElementById(`settings-tab-${id}`)?.focus();
    });
  };
  const onTabKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const i = SECTIONS.findIndex((s) => s.id === section);
    let next = -1;
    if (e.key === 'ArrowDown' || e.key === 'ArrowRight') next = (i + 1) % SECTIONS.length;
    else if (e.key === 'ArrowUp' || e.key === 'ArrowLeft') next = (i - 1 + SECTIONS.length) % SECTIONS.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = SECTIONS.length - 1;
    if (next < 0) return;
    e.preventDefault();
    show(SECTIONS[next].id, true);
  };
  return (
    <div className="settings">
      <div role="tablist" aria-label="Settings sections" aria-orientation="vertical" className="tabs" onKeyDown={onTabKey}>
        {SECTIONS.map((s) => (
          <button
            key={s.id}
            type="button"
            role="tab"
            id={`settings-tab-${s.id}`}
            aria-selected={section === s.id}
            aria-controls={`settings-panel-${s.id}`}
            tabIndex={section === s.id ? 0 : -1}
            data-autofocus={section === s.id ? true : undefined}
            onClick={() => show(s.id)}
          >
            {s.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`settings-panel-${section}`} aria-labelledby={`settings-tab-${section}`} className="tabpanel">
        <h3>{SECTIONS.find((s) => s.id === section)?.label}</h3>
        {section === 'appearance' && <Appearance />}
        {section === 'chat' && (
          <div className="stack">
            <ChatBehaviour />
            <ThreadCacheFields />
            <ChatDefaults />
          </div>
        )}
        {section === 'models' && (
          <div className="stack">
            <ModelsFolder />
            <HfTokenField />
            <DownloadLimitField />
            <ProxyField />
            <ModelSettingsPanel />
          </div>
        )}
        {section === 'tools' && <ToolsSettings />}
        {section === 'providers' && <ProvidersSettings />}
        {section === 'documents' && <DocumentsSettings />}
        {section === 'hardware' && <HardwarePanel />}
        {section === 'data' && <DataPage />}
        {section === 'updates' && <UpdatesSection />}
        {section === 'api' && <ApiServerSection />}
        {section === 'about' && <About />}
      </div>
    </div>
  );
}

export function SettingsDialog() {
  const dispatch = useAppDispatch();
  const section = useAppSelector((s) => s.ui.settingsSection);
  return (
    <Dialog title="Settings" onClose={() => dispatch(closeDialog())} wide className={section === 'models' || section === 'hardware' ? 'dialog-xwide' : undefined}>
      <SettingsBody />
    </Dialog>
  );
}
