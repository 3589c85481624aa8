/** Typed react-redux hooks, and the one hook that tells the listeners a view is on screen. */
import { useEffect } from 'react';
import { useDispatch, useSelector, useStore } from 'react-redux';
import type { AppDispatch, AppStore, RootState } from './store';
import { ViewName, viewHidden, viewShown } from './uiSlice';

export const useAppDispatch = useDispatch.withTypes<AppDispatch>();
export const useAppSelector = useSelector.withTypes<RootState>();
export const useAppStore = useStore.withTypes<AppStore>();

/**
 * Marks `view` as on screen while the calling component is mounted: the listeners (app/listeners.ts)
 * ask main for what it shows only then, and stop (polling, estimates in flight) once it is gone.
 */
export function useViewShown(view: ViewName): void {
  const dispatch = useAppDispatch();
  useEffect(() => {
    dispatch(viewShown(view));
    return () => void dispatch(viewHidden(view));
  }, [dispatch, view]);
}
