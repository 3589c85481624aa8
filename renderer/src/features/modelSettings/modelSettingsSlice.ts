/**
 * Per-model load settings: the model being set up, its saved settings and defaults (from main), the
 * form being edited (the draft), and the memory estimate for the draft. Estimates are asked for as
 * the user moves sliders (debounced by the view); an answer to an older request is dropped, and so
 * is main's `superseded` rejection (a newer estimate was asked for meanwhile).
 */
import { createSlice, PayloadAction } from '@reduxjs/toolkit';
import type { LoadSettingsDTO, MemoryEstimateDTO, ModelSettingsView } from '../../../../main/ipc/contract';
import { call } from '../../app/bridge';
import { describeError, toErrorInfo } from '../../app/errors';
import type { RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';
import { loadModel } from '../models/modelsSlice';
import { defaultForm, formFromView, LoadForm } from './loadForm';

export interface EstimateState {
  /** the request whose answer is wanted; answers to any other are stale */
  requestId: string | null;
  pending: boolean;
  data: MemoryEstimateDTO | null;
  error: string | null;
}

export interface ModelSettingsState {
  /** the model being set up */
  path: string | null;
  view: ModelSettingsView | null;
  status: 'idle' | 'loading' | 'ready' | 'error';
  error: string | null;
  draft: LoadForm | null;
  saving: boolean;
  /** "Saved." and the like, after an action */
  note: string | null;
  /** a failed save, reset or load, in words */
  actionError: string | null;
  estimate: EstimateState;
  preview: TemplatePreviewState;
}

/** The chat template setting's preview: a sample conversation rendered with the draft's template. */
export interface TemplatePreviewState {
  requestId: string | null;
  pending: boolean;
  /** the rendered sample and the template it came from (the file's own when the draft's is blank) */
  prompt: string | null;
  template: string | null;
  /** the render's error (a template that fails), in words */
  error: string | null;
}

const noPreview: TemplatePreviewState = { requestId: null, pending: false, prompt: null, template: null, error: null };

const noEstimate: EstimateState = { requestId: null, pending: false, data: null, error: null };

const initialState: ModelSettingsState = {
  path: null,
  view: null,
  status: 'idle',
  error: null,
  draft: null,
  saving: false,
  note: null,
  actionError: null,
  estimate: noEstimate,
  preview: noPreview,
};

/** Reads a model's settings. keepDraft: only refresh what main knows (loadedWith), keep the edits. */
export const fetchModelSettings = createAppAsyncThunk(
  'modelSettings/get',
  async (arg: { path: string; keepDraft?: boolean }, { rejectWithValue }) => {
    try {
      return await call('models.settings.get', { path: arg.path });
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  },
);

/** Saves the changed fields only. */
export const saveModelSettings = createAppAsyncThunk(
  'modelSettings/update',
  async (arg: { path: string; settings: LoadSettingsDTO }, { rejectWithValue }) => {
    try {
      return await call('models.settings.update', arg);
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  },
);

export const resetModelSettings = createAppAsyncThunk('modelSettings/reset', async (path: string, { rejectWithValue }) => {
  try {
    return await call('models.settings.reset', { path });
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

/**
 * Saves (when something changed), then loads the model: main reloads it when its settings changed.
 * The guardrail's answers (needs_confirmation, insufficient_memory) are handled by loadModel.
 */
export const saveAndLoad = createAppAsyncThunk(
  'modelSettings/saveAndLoad',
  async (arg: { path: string; settings: LoadSettingsDTO }, { dispatch, rejectWithValue }) => {
    if (Object.keys(arg.settings).length > 0) {
      const saved = await dispatch(saveModelSettings(arg));
      if (saveModelSettings.rejected.match(saved)) return rejectWithValue(saved.payload ?? { code: 'internal', message: 'could not save' });
    }
    const loaded = await dispatch(loadModel({ path: arg.path }));
    if (loadModel.rejected.match(loaded)) return rejectWithValue(loaded.payload ?? { code: 'internal', message: loaded.error.message ?? 'could not load' });
    const view = await dispatch(fetchModelSettings({ path: arg.path }));
    return fetchModelSettings.fulfilled.match(view) ? view.payload : null;
  },
);

/** One memory estimate for the draft; the view aborts the previous one when it asks again. */
export const requestEstimate = createAppAsyncThunk(
  'modelSettings/estimate',
  async (arg: { path: string; settings: LoadSettingsDTO }, { rejectWithValue }) => {
    try {
      return await call('models.estimate', arg);
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  },
);

/** The sample conversation rendered with a template (blank: the model file's own); the view drops stale answers. */
export const requestTemplatePreview = createAppAsyncThunk(
  'modelSettings/templatePreview',
  async (arg: { path: string; template: string }, { rejectWithValue }) => {
    try {
      return await call('models.template.preview', arg);
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  },
);

const modelSettingsSlice = createSlice({
  name: 'modelSettings',
  initialState,
  reducers: {
    /** Picks the model to set up (from the header's button or the model list in Settings). */
    modelSettingsPathChosen(s, a: PayloadAction<string>) {
      if (s.path === a.payload) return;
      s.path = a.payload;
      s.view = null;
      s.status = 'idle';
      s.error = null;
      s.draft = null;
      s.note = null;
      s.actionError = null;
      s.estimate = noEstimate;
      s.preview = noPreview;
    },
    draftChanged(s, a: PayloadAction<Partial<LoadForm>>) {
      if (!s.draft) return;
      s.draft = { ...s.draft, ...a.payload };
      s.note = null;
    },
    /** The form back to what is saved (drops the edits). */
    draftReverted(s) {
      if (s.view) s.draft = formFromView(s.view);
      s.note = null;
      s.actionError = null;
    },
  },
  extraReducers: (b) => {
    b.addCase(fetchModelSettings.pending, (s, a) => {
      if (a.meta.arg.path !== s.path) return;
      if (!s.view) s.status = 'loading';
    })
      .addCase(fetchModelSettings.fulfilled, (s, a) => {
        if (a.meta.arg.path !== s.path) return; // another model was picked meanwhile
        s.view = a.payload;
        s.status = 'ready';
        s.error = null;
        if (!a.meta.arg.keepDraft || !s.draft) s.draft = formFromView(a.payload);
      })
      .addCase(fetchModelSettings.rejected, (s, a) => {
        if (a.meta.arg.path !== s.path) return;
        s.status = 'error';
        s.error = a.payload ? describeError(a.payload) : 'Could not read the model’s settings.';
      })
      .addCase(saveModelSettings.pending, (s) => {
        s.saving = true;
        s.note = null;
        s.actionError = null;
      })
      .addCase(saveModelSettings.fulfilled, (s, a) => {
        s.saving = false;
        if (a.meta.arg.path !== s.path) return;
        s.view = a.payload;
        s.draft = formFromView(a.payload);
        s.note = 'Saved.';
      })
      .addCase(saveModelSettings.rejected, (s, a) => {
        s.saving = false;
        s.actionError = a.payload ? describeError(a.payload) : 'Could not save the settings.';
      })
      .addCase(resetModelSettings.pending, (s) => {
        s.saving = true;
        s.note = null;
        s.actionError = null;
      })
      .addCase(resetModelSettings.fulfilled, (s, a) => {
        s.saving = false;
        if (a.meta.arg !== s.path) return;
        s.view = a.payload;
        s.draft = defaultForm(a.payload);
        s.note = 'Back to the defaults.';
      })
      .addCase(resetModelSettings.rejected, (s, a) => {
        s.saving = false;
        s.actionError = a.payload ? describeError(a.payload) : 'Could not reset the settings.';
      })
      .addCase(saveAndLoad.pending, (s) => {
        s.saving = true;
        s.note = null;
        s.actionError = null;
      })
      .addCase(saveAndLoad.fulfilled, (s, a) => {
        s.saving = false;
        if (a.meta.arg.path === s.path) s.note = 'Saved and loaded.';
      })
      .addCase(saveAndLoad.rejected, (s, a) => {
        s.saving = false;
        // the guardrail's question is a dialog, not an error
        if (a.payload?.code === 'needs_confirmation') return;
        if (s.note === 'Saved.') s.note = 'Saved, not loaded.';
        s.actionError = a.payload ? describeError(a.payload) : 'Could not load the model.';
      })
      .addCase(loadModel.fulfilled, (s, a) => {
        // "Load anyway" from the guardrail's dialog: the load went through after all
        if (a.meta.arg && typeof a.meta.arg !== 'string' && a.meta.arg.force && a.meta.arg.path === s.path) {
          s.actionError = null;
          s.note = 'Loaded.';
        }
      })
      .addCase(requestTemplatePreview.pending, (s, a) => {
        s.preview.requestId = a.meta.requestId;
        s.preview.pending = true;
      })
      .addCase(requestTemplatePreview.fulfilled, (s, a) => {
        if (a.meta.requestId !== s.preview.requestId || a.meta.arg.path !== s.path) return; // stale
        s.preview = { requestId: s.preview.requestId, pending: false, prompt: a.payload.prompt, template: a.payload.template, error: null };
      })
      .addCase(requestTemplatePreview.rejected, (s, a) => {
        if (a.meta.requestId !== s.preview.requestId || a.meta.aborted) return; // stale, or aborted for a newer one
        s.preview.pending = false;
        s.preview.prompt = null;
        s.preview.error = a.payload ? a.payload.message : (a.error.message ?? 'Could not render the template.');
      })
      .addCase(requestEstimate.pending, (s, a) => {
        s.estimate.requestId = a.meta.requestId;
        s.estimate.pending = true;
      })
      .addCase(requestEstimate.fulfilled, (s, a) => {
        if (a.meta.requestId !== s.estimate.requestId || a.meta.arg.path !== s.path) return; // stale
        s.estimate.pending = false;
        s.estimate.data = a.payload;
        s.estimate.error = null;
      })
      .addCase(requestEstimate.rejected, (s, a) => {
        if (a.meta.requestId !== s.estimate.requestId) return; // stale, or aborted for a newer one
        if (a.meta.aborted || a.payload?.code === 'superseded') return; // a newer estimate is on its way
        s.estimate.pending = false;
        s.estimate.error = a.payload ? describeError(a.payload) : a.error.message ?? 'Could not estimate the memory.';
      });
  },
});

export const { modelSettingsPathChosen, draftChanged, draftReverted } = modelSettingsSlice.actions;
export default modelSettingsSlice.reducer;

export const selectModelSettings = (s: RootState) => s.modelSettings;
export const selectEstimate = (s: RootState) => s.modelSettings.estimate;
export const selectTemplatePreview = (s: RootState) => s.modelSettings.preview;
