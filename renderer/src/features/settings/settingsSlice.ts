/**
 * Settings from main (theme, chat defaults, guardrail, fit margin, backend pin, the chat's keys, text
 * size and reasoning, the default model), and app.info (with the data folder) with the About
 * section's two actions: open the logs folder (desktop app), copy diagnostics.
 */
import { createSlice, current, type PayloadAction } from '@reduxjs/toolkit';
import { AppInfo, EventOf, RequestOf, SettingsDTO, SettingsFields } from '../../../../main/ipc/contract';
import { call } from '../../app/bridge';
import { describeError, toErrorInfo } from '../../app/errors';
import type { RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';

export type Theme = SettingsDTO['theme'];
export type Guardrail = SettingsDTO['guardrail'];
export type BackendPin = SettingsDTO['backend'];

/** What settings.update takes: any of the settings, the rest unchanged. */
export type SettingsPatch = RequestOf<'settings.update'>;

/** Every setting's default (the contract's), what the views use until settings.get answers. */
export const SETTING_DEFAULTS = SettingsFields.parse({});

export interface SettingsState {
  settings: SettingsDTO | null;
  info: AppInfo | null;
  infoError: string | null;
  saveError: string | null;
  /** the theme to show before settings.get answers (remembered in localStorage) */
  theme: Theme;
  /** main's settings while an update applied at once is on its way (put back if it fails) */
  confirmed: SettingsDTO | null;
  /** About's actions: what the last one did (shown in a status line), or its error */
  aboutAction: { state: 'busy' | 'done' | 'failed'; message: string } | null;
  /** Settings → Models: moving the models folder (library.moveFolder and its progress events) */
  move: { state: 'moving' | 'done' | 'failed'; bytes: number; total: number; file: string | null; message: string | null } | null;
  /** Settings → Models: saving or forgetting the Hugging Face token (the token itself is never kept here) */
  token: { state: 'busy' | 'done' | 'failed'; message: string | null } | null;
}

export const THEME_KEY = 'hearth.theme';

function initialTheme(): Theme {
  try {
    const t = typeof localStorage !== 'undefined' ? localStorage.getItem(THEME_KEY) : null;
    if (t === 'light' || t === 'dark' || t === 'system') return t;
  } catch {
    // storage may be unavailable
  }
  return 'system';
}

const initialState = (): SettingsState => ({ settings: null, info: null, infoError: null, saveError: null, theme: initialTheme(), confirmed: null, aboutAction: null, move: null, token: null });

export const fetchSettings = createAppAsyncThunk('settings/get', async (_: void, { rejectWithValue }) => {
  try {
    return await call('settings.get', {});
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const updateSettings = createAppAsyncThunk(
  'settings/update',
  async (patch: SettingsPatch, { rejectWithValue }) => {
    try {
      return await call('settings.update', patch);
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  },
);

export const fetchAppInfo = createAppAsyncThunk('settings/appInfo', async (_: void, { rejectWithValue }) => {
  try {
    return await call('app.info', {});
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

/** About → Copy diagnostics: main gathers them (versions, devices, the recent log without prompt text), the clipboard gets the text. */
export const copyDiagnostics = createAppAsyncThunk('settings/copyDiagnostics', async (_: void, { rejectWithValue }) => {
  try {
    const d = await call('app.diagnostics', {});
    await navigator.clipboard.writeText(d.text);
    return d.logTail.length;
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

/** About → Open logs folder (the desktop app only: AppInfo.canOpenLogsFolder). */
export const openLogsFolder = createAppAsyncThunk('settings/openLogsFolder', async (_: void, { rejectWithValue }) => {
  try {
    await call('app.openLogsFolder', {});
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

/** Settings → Models → Move models: main moves the files (progress comes as library.moveProgress), then answers the new folder. */
export const moveModelsFolder = createAppAsyncThunk('settings/moveModelsFolder', async (to: string, { dispatch, rejectWithValue }) => {
  try {
    const r = await call('library.moveFolder', { to });
    void dispatch(fetchSettings());
    return r;
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

/** Settings → Models → Hugging Face token: saves one (a string) or forgets it (null); the answer says only whether one is set. */
export const saveHfToken = createAppAsyncThunk('settings/saveHfToken', async (token: string | null, { rejectWithValue }) => {
  try {
    return await call('settings.update', { hfToken: token });
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

const settingsSlice = createSlice({
  name: 'settings',
  initialState,
  reducers: {
    moveProgressReceived(s, a: PayloadAction<EventOf<'library.moveProgress'>>) {
      if (s.move?.state === 'moving') s.move = { ...s.move, ...a.payload };
    },
  },
  extraReducers: (b) => {
    b.addCase(fetchSettings.fulfilled, (s, a) => {
      s.settings = a.payload;
      s.theme = a.payload.theme;
    })
      .addCase(updateSettings.pending, (s, a) => {
        s.saveError = null;
        // apply at once (radios, checkboxes and selects answer the click); a failed save puts the old
        // values back. The chat defaults are a form: they change when main has them.
        const { theme, chatDefaults: _form, ...rest } = a.meta.arg;
        if (theme) s.theme = theme;
        const now = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
        if (s.settings && Object.keys(now).length > 0) {
          s.confirmed ??= current(s.settings);
          s.settings = { ...s.settings, ...now };
        }
      })
      .addCase(updateSettings.fulfilled, (s, a) => {
        s.settings = a.payload;
        s.confirmed = null;
        s.theme = a.payload.theme;
      })
      .addCase(updateSettings.rejected, (s, a) => {
        s.saveError = a.payload ? describeError(a.payload) : 'Could not save the settings.';
        if (s.confirmed) s.settings = s.confirmed;
        s.confirmed = null;
        if (s.settings) s.theme = s.settings.theme;
      })
      .addCase(fetchAppInfo.fulfilled, (s, a) => {
        s.info = a.payload;
        s.infoError = null;
      })
      .addCase(fetchAppInfo.rejected, (s, a) => {
        s.infoError = a.payload?.message ?? a.error.message ?? 'failed';
      })
      .addCase(copyDiagnostics.pending, (s) => {
        s.aboutAction = { state: 'busy', message: 'Collecting diagnostics…' };
      })
      .addCase(copyDiagnostics.fulfilled, (s, a) => {
        s.aboutAction = { state: 'done', message: `Diagnostics copied (with the last ${a.payload} log lines).` };
      })
      .addCase(copyDiagnostics.rejected, (s, a) => {
        s.aboutAction = { state: 'failed', message: `Could not copy diagnostics: ${a.payload ? describeError(a.payload) : a.error.message ?? 'failed'}` };
      })
      .addCase(moveModelsFolder.pending, (s) => {
        s.move = { state: 'moving', bytes: 0, total: 0, file: null, message: null };
      })
      .addCase(moveModelsFolder.fulfilled, (s, a) => {
        s.move = { state: 'done', bytes: a.payload.bytes, total: a.payload.bytes, file: null, message: `Moved ${a.payload.files} ${a.payload.files === 1 ? "file" : "files"} to ${a.payload.folder}.` };
        if (s.settings) s.settings.modelsFolder = a.payload.folder;
      })
      .addCase(moveModelsFolder.rejected, (s, a) => {
        s.move = { state: 'failed', bytes: s.move?.bytes ?? 0, total: s.move?.total ?? 0, file: null, message: a.payload ? describeError(a.payload) : a.error.message ?? 'failed' };
      })
      .addCase(saveHfToken.pending, (s) => {
        s.token = { state: 'busy', message: null };
      })
      .addCase(saveHfToken.fulfilled, (s, a) => {
        s.settings = a.payload;
        s.token = { state: 'done', message: a.meta.arg === null ? 'Token forgotten.' : 'Token saved.' };
      })
      .addCase(saveHfToken.rejected, (s, a) => {
        s.token = { state: 'failed', message: a.payload ? describeError(a.payload) : a.error.message ?? 'failed' };
      })
      .addCase(openLogsFolder.pending, (s) => {
        s.aboutAction = null;
      })
      .addCase(openLogsFolder.rejected, (s, a) => {
        s.aboutAction = { state: 'failed', message: `Could not open the logs folder: ${a.payload ? describeError(a.payload) : a.error.message ?? 'failed'}` };
      });
  },
});

export const { moveProgressReceived } = settingsSlice.actions;
export default settingsSlice.reducer;

export const selectTheme = (s: RootState) => s.settings.theme;
export const selectSettings = (s: RootState) => s.settings.settings;
/** How the chat behaves and looks (the defaults until settings.get answers). */
export const selectSendOnEnter = (s: RootState) => s.settings.settings?.sendOnEnter ?? SETTING_DEFAULTS.sendOnEnter;
export const selectFontSize = (s: RootState) => s.settings.settings?.fontSize ?? SETTING_DEFAULTS.fontSize;
export const selectShowReasoning = (s: RootState) => s.settings.settings?.showReasoning ?? SETTING_DEFAULTS.showReasoning;
export const selectDefaultModelSetting = (s: RootState) => s.settings.settings?.defaultModel ?? null;
export const selectAppInfo = (s: RootState) => s.settings.info;
/** The data folder (decided before the store opens: app.info says which it is). */
export const selectDataDir = (s: RootState) => s.settings.info?.dataDir ?? null;
/** Settings → Models: the folder move under way or its outcome, and the token's save. */
export const selectModelsMove = (s: RootState) => s.settings.move;
export const selectTokenSave = (s: RootState) => s.settings.token;
