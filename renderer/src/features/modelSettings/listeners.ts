/**
 * What Settings → Models asks main while it is on screen (useViewShown('modelSettings')): which model to set up (the chosen one, else
 * the loaded or loading one, else the first), its settings each time the page opens or another model
 * is picked, again (keeping the edits) when a load changes what the loaded model runs with, and the
 * memory estimate for the form as it changes: once the form stays still for ESTIMATE_DEBOUNCE_MS,
 * the request before is aborted and its answer dropped.
 */
import { createSelector } from '@reduxjs/toolkit';
import type { AppStartListening } from '../../app/listeners';
import type { RootState } from '../../app/store';
import { selectViewShown } from '../../app/uiSlice';
import { estimateRequest, parseForm } from './loadForm';
import { selectLoadableModels } from '../models/modelsSlice';
import { fetchModelSettings, modelSettingsPathChosen, requestEstimate, requestTemplatePreview } from './modelSettingsSlice';

/** how long the form must stay still before an estimate is asked for */
export const ESTIMATE_DEBOUNCE_MS = 250;
/** how long the chat template must stay still before its preview is rendered */
export const PREVIEW_DEBOUNCE_MS = 300;

const modelSettingsShown = (s: RootState): boolean => selectViewShown(s, 'modelSettings');

/** The model to set up when none was chosen: the loaded (or loading) one, else the first. */
const fallbackPath = (s: RootState): string | null => s.models.state.loaded?.path ?? s.models.state.loading?.path ?? selectLoadableModels(s)[0]?.path ?? null;

const baseName = (p: string): string => p.split(/[\\/]/).pop() ?? p;

/** The model chosen for the page is no longer in the library. */
const isGone = (s: RootState): boolean => {
  const { path } = s.modelSettings;
  return path !== null && !s.models.list.some((m) => m.path === path);
};

/** What the loaded model runs with changes with a load: its path and context size. */
const loadedKey = (s: RootState): string => {
  const l = s.models.state.loaded;
  return l ? `${l.path}|${l.contextSize}` : '';
};

/** The page shows this model's form (its settings came): the path, else null. */
const formPath = (s: RootState): string | null => {
  const { path, view, draft } = s.modelSettings;
  return modelSettingsShown(s) && path && view?.path === path && draft ? path : null;
};

/** Everything an estimate depends on, as one string (null: nothing to estimate). Memoized: the check runs on every action. */
export const selectEstimateKey = createSelector(
  [formPath, (s: RootState) => s.modelSettings.draft, (s: RootState) => s.settings.settings?.fitMarginMiB, loadedKey],
  (path, draft, margin, loaded) => {
    if (!path || !draft) return null;
    const parsed = parseForm(draft);
    if (!parsed.ok) return null;
    return JSON.stringify({ path, settings: estimateRequest(parsed.value), margin: margin ?? null, loaded });
  },
);

/** What the template preview depends on (null: nothing to render). */
export const selectPreviewKey = createSelector([formPath, (s: RootState) => s.modelSettings.draft?.chatTemplate], (path, template) =>
  path ? JSON.stringify({ path, template: template ?? '' }) : null,
);

export function startModelSettingsListeners(start: AppStartListening): void {
  // no model chosen yet: the fallback
  start({
    predicate: (_a, state) => modelSettingsShown(state) && !state.modelSettings.path && fallbackPath(state) !== null,
    effect: (_a, api) => {
      const path = fallbackPath(api.getState());
      if (path) api.dispatch(modelSettingsPathChosen(path));
    },
  });

  // the chosen model left the library (deleted, its folder moved): the same file where it is now (a
  // moved folder), else the fallback
  start({
    predicate: (_a, state, before) => state.models.list !== before.models.list && state.models.listStatus === 'ready' && isGone(state),
    effect: (_a, api) => {
      const s = api.getState();
      const name = baseName(s.modelSettings.path ?? '');
      const next = s.models.list.find((m) => baseName(m.path) === name)?.path ?? fallbackPath(s);
      if (next) api.dispatch(modelSettingsPathChosen(next));
    },
  });

  // its settings, fresh each time the page opens or another model is picked (edits not saved are dropped)
  const pagePath = (s: RootState) => (modelSettingsShown(s) ? s.modelSettings.path : null);
  start({
    predicate: (_a, state, before) => pagePath(state) !== null && pagePath(state) !== pagePath(before),
    effect: (_a, api) => {
      const path = pagePath(api.getState());
      if (path) void api.dispatch(fetchModelSettings({ path }));
    },
  });

  // a load or unload changes what the model runs with (the reload marks): refresh, keeping the edits
  start({
    predicate: (_a, state, before) => pagePath(state) !== null && pagePath(state) === pagePath(before) && loadedKey(state) !== loadedKey(before),
    effect: (_a, api) => {
      const path = pagePath(api.getState());
      if (path) void api.dispatch(fetchModelSettings({ path, keepDraft: true }));
    },
  });

  // the chat template's preview follows its text: debounced, and a newer request aborts the one before
  let previewing: { abort(): void } | null = null;
  start({
    predicate: (_a, state, before) => selectPreviewKey(state) !== selectPreviewKey(before),
    effect: async (_a, api) => {
      api.cancelActiveListeners();
      const key = selectPreviewKey(api.getState());
      if (key === null) return;
      await api.delay(PREVIEW_DEBOUNCE_MS);
      previewing?.abort();
      previewing = api.dispatch(requestTemplatePreview(JSON.parse(key) as { path: string; template: string }));
    },
  });

  // the estimate follows the form: debounced, and a newer request aborts the one before
  let inFlight: { abort(): void } | null = null;
  start({
    predicate: (_a, state, before) => selectEstimateKey(state) !== selectEstimateKey(before),
    effect: async (_a, api) => {
      api.cancelActiveListeners();
      const key = selectEstimateKey(api.getState());
      if (key === null) {
        // the page closed (or the form does not parse): nothing to wait for
        if (!modelSettingsShown(api.getState())) {
          inFlight?.abort();
          inFlight = null;
        }
        return;
      }
      await api.delay(ESTIMATE_DEBOUNCE_MS);
      const { path, settings } = JSON.parse(key) as { path: string; settings: ReturnType<typeof estimateRequest> };
      inFlight?.abort();
      inFlight = api.dispatch(requestEstimate({ path, settings }));
    },
  });
}
