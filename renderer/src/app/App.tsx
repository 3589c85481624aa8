/** The layout: sidebar, header with the model picker and downloads, the page (chat, hub, library), dialogs and toasts. */
import { useEffect, useLayoutEffect, useRef } from 'react';
import { fetchAssistants } from '../features/assistants/assistantsSlice';
import { AssistantsDialog } from '../features/assistants/AssistantsDialog';
import { ChatView } from '../features/chat/ChatView';
import { DownloadsButton } from '../features/downloads/DownloadsPanel';
import { fetchDownloads } from '../features/downloads/downloadsSlice';
import { HubPage } from '../features/hub/HubPage';
import { LibraryPage } from '../features/library/LibraryPage';
import { fetchModels, fetchModelState } from '../features/models/modelsSlice';
import { fetchProvidersStatus } from '../features/providers/providersSlice';
import { RemoteSentBadge } from '../features/providers/RemoteSent';
import { LoadConfirmDialog } from '../features/models/LoadConfirmDialog';
import { ModelError, ModelPicker } from '../features/models/ModelPicker';
import { SettingsDialog } from '../features/settings/SettingsDialog';
import { fetchAppInfo, fetchSettings, selectTheme, THEME_KEY } from '../features/settings/settingsSlice';
import { Sidebar } from '../features/threads/Sidebar';
import { UpdateIndicator } from '../features/updates/UpdateIndicator';
import { fetchUpdateState } from '../features/updates/updatesSlice';
import { fetchThreads, selectSelectedThread, titleOf } from '../features/threads/threadsSlice';
import { Icon } from '../components/Icon';
import { RestartingOverlay } from '../features/data/RestartingOverlay';
import { startWindowDrop } from '../features/data/windowDrop';
import { HelpDialog } from './HelpDialog';
import { useAppDispatch, useAppSelector } from './hooks';
import { shortcutLabel, useShortcuts } from './shortcuts';
import { Toasts } from './Toasts';
import { dismissSidebar, focusHandled, openDialog, selectFocusRequest, toggleSidebar } from './uiSlice';

/** Applies the theme as <html data-theme> (CSS variables; 'system' follows prefers-color-scheme in CSS). */
function useTheme(): void {
  const theme = useAppSelector(selectTheme);
  useLayoutEffect(() => {
    document.documentElement.dataset.theme = theme;
    try {
      localStorage.setItem(THEME_KEY, theme);
    } catch {
      // storage may be unavailable
    }
  }, [theme]);
}

function useStartup(): void {
  const dispatch = useAppDispatch();
  useEffect(() => {
    void dispatch(fetchSettings());
    void dispatch(fetchAppInfo());
    void dispatch(fetchThreads());
    void dispatch(fetchModels());
    void dispatch(fetchModelState());
    void dispatch(fetchAssistants());
    void dispatch(fetchDownloads());
    void dispatch(fetchUpdateState());
    // the remote providers: the model picker lists their models
    void dispatch(fetchProvidersStatus());
    // a chat export dropped on the window (outside the message boxes) goes to Settings → Data's import
    const stopDrop = startWindowDrop(dispatch);
    if (window.location.hash === '#settings' || window.location.hash === '#about') {
      dispatch(openDialog(window.location.hash === '#about' ? { name: 'settings', section: 'about' } : 'settings'));
    }
    return stopDrop;
  }, [dispatch]);
}

function Header() {
  const dispatch = useAppDispatch();
  const open = useAppSelector((s) => s.ui.sidebarOpen);
  const thread = useAppSelector(selectSelectedThread);
  const page = useAppSelector((s) => s.ui.page);
  // the page's name on the hub and library pages; the chat's title on the chat page
  const title = page === 'hub' ? 'Find models' : page === 'library' ? 'My models' : thread ? titleOf(thread) : 'New chat';
  const toggleRef = useRef<HTMLButtonElement>(null);
  const focusRequest = useAppSelector((s) => selectFocusRequest(s, 'sidebarToggle'));
  useEffect(() => {
    if (!focusRequest) return;
    toggleRef.current?.focus();
    dispatch(focusHandled(focusRequest));
  }, [focusRequest, dispatch]);
  return (
    <header className="topbar">
      <button ref={toggleRef} type="button" className="icon-button sidebar-toggle" aria-label={open ? 'Hide sidebar' : 'Show sidebar'} aria-expanded={open} aria-controls="sidebar" title={`Sidebar (${shortcutLabel('toggleSidebar')})`} onClick={() => dispatch(toggleSidebar())}>
        <Icon name="menu" />
      </button>
      <span className="topbar-title" title={title}>
        {title}
      </span>
      {page === 'chat' && <RemoteSentBadge thread={thread} />}
      <ModelPicker />
      <div className="topbar-actions">
        <UpdateIndicator />
        <DownloadsButton />
        <button type="button" className="icon-button" aria-label="Keyboard shortcuts" title={`Keyboard shortcuts (${shortcutLabel('help')})`} onClick={() => dispatch(openDialog('help'))}>
          <Icon name="help" />
        </button>
        <button type="button" className="icon-button" aria-label="Settings" title={`Settings (${shortcutLabel('settings')})`} onClick={() => dispatch(openDialog('settings'))}>
          <Icon name="settings" />
        </button>
      </div>
    </header>
  );
}

export function App() {
  useStartup();
  useTheme();
  useShortcuts();
  const dispatch = useAppDispatch();
  const sidebarOpen = useAppSelector((s) => s.ui.sidebarOpen);
  const dialog = useAppSelector((s) => s.ui.dialog);
  const page = useAppSelector((s) => s.ui.page);
  return (
    <div className={`app${sidebarOpen ? '' : ' sidebar-closed'}`}>
      {sidebarOpen && <Sidebar />}
      {/* narrow windows only (styles.css): the sidebar lies over the chat; a click beside it closes it */}
      {sidebarOpen && <div className="sidebar-backdrop" aria-hidden="true" onClick={() => dispatch(dismissSidebar())} />}
      <div className="main-col">
        <Header />
        <ModelError />
        {page === 'chat' && <ChatView />}
        {page === 'hub' && <HubPage />}
        {page === 'library' && <LibraryPage />}
      </div>
      {dialog === 'settings' && <SettingsDialog />}
      {dialog === 'help' && <HelpDialog />}
      {dialog === 'assistants' && <AssistantsDialog />}
      <LoadConfirmDialog />
      <Toasts />
      <RestartingOverlay />
    </div>
  );
}
