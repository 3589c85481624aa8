/** Layout state: sidebar, which dialog is open, the views on screen, toasts, and focus requests from shortcuts. */
import { createSlice, PayloadAction } from '@reduxjs/toolkit';

export type DialogName = 'settings' | 'help' | 'assistants';
export type SettingsSection = 'appearance' | 'chat' | 'models' | 'hardware' | 'data' | 'about';
export type FocusTarget = 'composer' | 'search';
/** Views whose requests to main the listeners make while they are on screen (app/listeners.ts). */
export type ViewName = 'hardware' | 'modelSettings';

export interface Toast {
  id: string;
  text: string;
  kind: 'info' | 'error';
  /** an action button; undoDelete restores the thread with that id */
  action?: { type: 'undoDelete'; threadId: string; label: string };
}

export interface UiState {
  sidebarOpen: boolean;
  dialog: DialogName | null;
  settingsSection: SettingsSection;
  toasts: Toast[];
  focus: { target: FocusTarget; seq: number } | null;
  /** how many mounted components show each view (useViewShown) */
  views: Partial<Record<ViewName, number>>;
}

const initialState: UiState = { sidebarOpen: true, dialog: null, settingsSection: 'appearance', toasts: [], focus: null, views: {} };

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
    openDialog(state, a: PayloadAction<DialogName | { name: 'settings'; section: SettingsSection }>) {
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
    requestFocus(state, a: PayloadAction<FocusTarget>) {
      state.focus = { target: a.payload, seq: (state.focus?.seq ?? 0) + 1 };
      if (a.payload === 'search') state.sidebarOpen = true;
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

export const { toggleSidebar, setSidebar, openDialog, closeDialog, setSettingsSection, requestFocus, toastAdded, toastRemoved, viewShown, viewHidden } = uiSlice.actions;

export const selectViewShown = (s: { ui: UiState }, view: ViewName): boolean => (s.ui.views[view] ?? 0) > 0;
export default uiSlice.reducer;
