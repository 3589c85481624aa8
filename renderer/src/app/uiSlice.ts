/** Layout state: sidebar, which dialog is open, the views on screen, toasts, and focus requests from shortcuts. */
import { createSlice, PayloadAction, ThunkAction, UnknownAction } from '@reduxjs/toolkit';
import { guardDialogChange } from '../components/unsaved';

export type DialogName = 'settings' | 'help' | 'assistants';
/** The page in the main column: the chat, the Hugging Face hub, the library of models on this disk. */
export const PAGES = ['chat', 'hub', 'library'] as const;
export type PageName = (typeof PAGES)[number];
export type SettingsSection = 'appearance' | 'chat' | 'models' | 'hardware' | 'data' | 'updates' | 'api' | 'tools' | 'providers' | 'documents' | 'about';
/** where a shortcut or an action sends focus: the message box, the search box, a toast's action button (`id`: the toast) or a chat in the list (`id`: the thread), the sidebar's toggle, Settings → Models' "Model to set up" */
export type FocusTarget = 'composer' | 'search' | 'toastAction' | 'thread' | 'sidebarToggle' | 'modelSetup';
/** Views whose requests to main the listeners make while they are on screen (app/listeners.ts). */
export type ViewName = 'hardware' | 'modelSettings';
/** a dialog to open, or Settings on a section */
export type DialogRequest = DialogName | { name: 'settings'; section: SettingsSection };

export interface Toast {
  id: string;
  text: string;
  kind: 'info' | 'error';
  /** an action button; undoDelete restores the thread with that id */
  action?: { type: 'undoDelete'; threadId: string; label: string };
}

export interface UiState {
  sidebarOpen: boolean;
  page: PageName;
  /** the downloads panel (header button) is open */
  downloadsOpen: boolean;
  dialog: DialogName | null;
  settingsSection: SettingsSection;
  toasts: Toast[];
  focus: { target: FocusTarget; id?: string; seq: number } | null;
  /** how many mounted components show each view (useViewShown) */
  views: Partial<Record<ViewName, number>>;
}

/** The window width below which the sidebar lies over the chat (styles.css has the same @media query). */
export const NARROW_MEDIA = '(max-width: 760px)';
export const isNarrow = (): boolean => typeof window !== 'undefined' && typeof window.matchMedia === 'function' && window.matchMedia(NARROW_MEDIA).matches;

// narrow: the sidebar starts closed (it would cover the model picker and the message box)
const initialState: UiState = { sidebarOpen: !isNarrow(), page: 'chat', downloadsOpen: false, dialog: null, settingsSection: 'appearance', toasts: [], focus: null, views: {} };

let toastSeq = 0;

const uiSlice = createSlice({
  name: 'ui',
  initialState,
  reducers: {
    toggleSidebar(state) {
      state.sidebarOpen = !state.sidebarOpen;
    },
    setSidebar(state, a: PayloadAction<boolean>) {
      state.sidebarOpen = a.payload;
    },
    pageShown(state, a: PayloadAction<PageName>) {
      state.page = a.payload;
    },
    setDownloadsOpen(state, a: PayloadAction<boolean>) {
      state.downloadsOpen = a.payload;
    },
    dialogShown(state, a: PayloadAction<DialogRequest>) {
      if (typeof a.payload === 'string') state.dialog = a.payload;
      else {
        state.dialog = a.payload.name;
        state.settingsSection = a.payload.section;
      }
    },
    closeDialog(state) {
      state.dialog = null;
    },
    setSettingsSection(state, a: PayloadAction<SettingsSection>) {
      state.settingsSection = a.payload;
    },
    requestFocus: {
      reducer(state, a: PayloadAction<{ target: FocusTarget; id?: string }>) {
        state.focus = { ...a.payload, seq: (state.focus?.seq ?? 0) + 1 };
        if (a.payload.target === 'search') state.sidebarOpen = true;
      },
      prepare(target: FocusTarget, id?: string) {
        return { payload: id === undefined ? { target } : { target, id } };
      },
    },
    /** the request `seq` was carried out (a component mounted later must not take focus on a stale one) */
    focusHandled(state, a: PayloadAction<number>) {
      if (state.focus?.seq === a.payload) state.focus = null;
    },
    toastAdded: {
      reducer(state, a: PayloadAction<Toast>) {
        state.toasts.push(a.payload);
        if (state.toasts.length > 4) state.toasts.shift();
      },
      prepare(t: Omit<Toast, 'id'> & { id?: string }) {
        return { payload: { ...t, id: t.id ?? `toast-${++toastSeq}` } };
      },
    },
    toastRemoved(state, a: PayloadAction<string>) {
      state.toasts = state.toasts.filter((t) => t.id !== a.payload);
    },
    viewShown(state, a: PayloadAction<ViewName>) {
      state.views[a.payload] = (state.views[a.payload] ?? 0) + 1;
    },
    viewHidden(state, a: PayloadAction<ViewName>) {
      state.views[a.payload] = Math.max(0, (state.views[a.payload] ?? 0) - 1);
    },
  },
});

export const { pageShown, setDownloadsOpen, toggleSidebar, setSidebar, dialogShown, closeDialog, setSettingsSection, requestFocus, focusHandled, toastAdded, toastRemoved, viewShown, viewHidden } = uiSlice.actions;

/**
 * Opens a dialog (or Settings on a section): the one way every caller (buttons, shortcuts, the app's
 * menu) changes the open dialog, so a dialog holding unsaved edits asks "Discard changes?" first.
 * Asking for what is already open changes nothing and asks nothing.
 */
export function openDialog(req: DialogRequest): ThunkAction<void, { ui: UiState }, unknown, UnknownAction> {
  return (dispatch, getState) => {
    const { dialog, settingsSection } = getState().ui;
    const name = typeof req === 'string' ? req : req.name;
    const same = dialog === name && (typeof req === 'string' || req.section === settingsSection);
    if (same) return;
    guardDialogChange(() => dispatch(dialogShown(req)));
  };
}

/** The focus request's sequence number when it is for `target` (and `id`), else 0: a component focuses its element when this changes to non-zero. */
export const selectFocusRequest = (s: { ui: UiState }, target: FocusTarget, id?: string): number =>
  s.ui.focus && s.ui.focus.target === target && s.ui.focus.id === id ? s.ui.focus.seq : 0;

/** Closes the sidebar lying over the chat (a click beside it, Escape): focus goes back to the button that opens it. */
export function dismissSidebar(): ThunkAction<void, { ui: UiState }, unknown, UnknownAction> {
  return (dispatch, getState) => {
    if (!getState().ui.sidebarOpen) return;
    dispatch(setSidebar(false));
    dispatch(requestFocus('sidebarToggle'));
  };
}

/** Shows a page from the sidebar: on a narrow window the sidebar lying over it closes, as it does when a chat is chosen. */
export function showPage(page: PageName): ThunkAction<void, { ui: UiState }, unknown, UnknownAction> {
  return (dispatch) => {
    dispatch(pageShown(page));
    if (isNarrow()) dispatch(dismissSidebar());
  };
}

export const selectViewShown = (s: { ui: UiState }, view: ViewName): boolean => (s.ui.views[view] ?? 0) > 0;
export default uiSlice.reducer;
