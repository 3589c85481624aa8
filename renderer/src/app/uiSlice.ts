/** Layout state: sidebar, which dialog is open, toasts, and focus requests from shortcuts. */
import { createSlice, PayloadAction } from '@reduxjs/toolkit';

export type DialogName = 'settings' | 'help' | 'assistants';
export type SettingsSection = 'appearance' | 'chat' | 'models' | 'hardware' | 'data' | 'about';
export type FocusTarget = 'composer' | 'search';

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
}

const initialState: UiState = { sidebarOpen: true, dialog: null, settingsSection: 'appearance', toasts: [], focus: null };

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
  },
});

export const { toggleSidebar, setSidebar, openDialog, closeDialog, setSettingsSection, requestFocus, toastAdded, toastRemoved } = uiSlice.actions;
export default uiSlice.reducer;
