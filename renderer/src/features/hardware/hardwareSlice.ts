/**
 * The hardware page: what main knows of the machine (CPU, RAM, backends, devices, the backend in
 * use and why) and live usage samples, polled only while the page is open (the last 60 are kept).
 */
import { createSlice } from '@reduxjs/toolkit';
import type { HardwareInfo, HardwareUsage } from '../../../../main/ipc/contract';
import { call } from '../../app/bridge';
import { describeError, toErrorInfo } from '../../app/errors';
import type { RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';

/** how many usage samples the charts show (one a second: the last minute) */
export const MAX_SAMPLES = 60;
export const POLL_MS = 1000;

export interface HardwareState {
  info: HardwareInfo | null;
  infoStatus: 'idle' | 'loading' | 'ready' | 'error';
  infoError: string | null;
  samples: HardwareUsage[];
  usageError: string | null;
}

const initialState: HardwareState = { info: null, infoStatus: 'idle', infoError: null, samples: [], usageError: null };

export const fetchHardwareInfo = createAppAsyncThunk('hardware/info', async (_: void, { rejectWithValue }) => {
  try {
    return await call('hardware.info', {});
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const fetchUsage = createAppAsyncThunk('hardware/usage', async (_: void, { rejectWithValue }) => {
  try {
    return await call('hardware.usage', {});
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

const hardwareSlice = createSlice({
  name: 'hardware',
  initialState,
  reducers: {
    /** the page opened: the charts start over */
    usageCleared(s) {
      s.samples = [];
      s.usageError = null;
    },
  },
  extraReducers: (b) => {
    b.addCase(fetchHardwareInfo.pending, (s) => {
      if (!s.info) s.infoStatus = 'loading';
    })
      .addCase(fetchHardwareInfo.fulfilled, (s, a) => {
        s.info = a.payload;
        s.infoStatus = 'ready';
        s.infoError = null;
      })
      .addCase(fetchHardwareInfo.rejected, (s, a) => {
        s.infoStatus = 'error';
        s.infoError = a.payload ? describeError(a.payload) : 'Could not read the hardware.';
      })
      .addCase(fetchUsage.fulfilled, (s, a) => {
        s.samples.push(a.payload);
        if (s.samples.length > MAX_SAMPLES) s.samples.splice(0, s.samples.length - MAX_SAMPLES);
        s.usageError = null;
      })
      .addCase(fetchUsage.rejected, (s, a) => {
        s.usageError = a.payload ? describeError(a.payload) : 'Could not read the usage.';
      });
  },
});

export const { usageCleared } = hardwareSlice.actions;
export default hardwareSlice.reducer;

export const selectHardware = (s: RootState) => s.hardware;
