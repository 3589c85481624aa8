/** createAsyncThunk bound to this store (rejecting with a serializable ErrorInfo), and the cases a settings section's status-changing thunks share. */
import { createAsyncThunk, isFulfilled, isPending, isRejected, type ActionReducerMapBuilder, type AsyncThunk } from '@reduxjs/toolkit';
import { describeError, type ErrorInfo } from './errors';
import type { AppDispatch, RootState } from './store';

export const createAppAsyncThunk = createAsyncThunk.withTypes<{ state: RootState; dispatch: AppDispatch; rejectValue: ErrorInfo }>();

/** An error's words for the page, or `fallback` when the thunk rejected without one. */
export const errorWords = (e: ErrorInfo | undefined, fallback: string): string => (e ? describeError(e) : fallback);

/** A settings section whose every change answers its whole status (the tools', the providers'). */
interface StatusSection<T> {
  status: T | null;
  busy: boolean;
  actionError: string | null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any of the section's thunks (their arguments differ)
type AnyThunk = AsyncThunk<any, any, { state: RootState; dispatch: AppDispatch; rejectValue: ErrorInfo }>;

/** The cases of a section's changes: busy while one runs, the status it answers, or its refusal in words. */
export function addStatusChanges<T, S extends StatusSection<T>>(b: ActionReducerMapBuilder<S>, thunks: readonly [AnyThunk, ...AnyThunk[]]): void {
  b.addMatcher(isPending(...thunks), (s) => {
    const d = s as StatusSection<T>;
    d.busy = true;
    d.actionError = null;
  })
    .addMatcher(isFulfilled(...thunks), (s, a) => {
      const d = s as StatusSection<T>;
      d.busy = false;
      d.status = a.payload as T;
    })
    .addMatcher(isRejected(...thunks), (s, a) => {
      const d = s as StatusSection<T>;
      d.busy = false;
      d.actionError = errorWords(a.payload as ErrorInfo | undefined, 'Hearth refused the change.');
    });
}
