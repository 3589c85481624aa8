/** createAsyncThunk bound to this store's state and dispatch, rejecting with a serializable ErrorInfo. */
import { createAsyncThunk } from '@reduxjs/toolkit';
import type { ErrorInfo } from './errors';
import type { AppDispatch, RootState } from './store';

export const createAppAsyncThunk = createAsyncThunk.withTypes<{ state: RootState; dispatch: AppDispatch; rejectValue: ErrorInfo }>();
