/**
 * The local API server as main tells it (api.status when Settings → Local API server opens, then every
 * api.changed event: app/events.ts), and the one thing the page asks of it: api.update (the toggle, the
 * saved fields, a new key). Copying a value goes through copyRequested (./listeners.ts writes the clipboard).
 */
import { createAction, createSlice, PayloadAction } from '@reduxjs/toolkit';
import type { ApiStatusDTO } from '../../../../main/ipc/api';
import type { RequestOf } from '../../../../main/ipc/contract';
import { call } from '../../app/bridge';
import { describeError, toErrorInfo } from '../../app/errors';
import type { RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';

export interface ApiServerState {
  /** main's last word (null until api.status answers) */
  status: ApiStatusDTO | null;
  /** api.status failed, in words */
  loadError: string | null;
  /** an api.update under way */
  saving: boolean;
  /** the last api.update's refusal, in words (a bad origin, a port out of range) */
  saveError: string | null;
}

const initialState: ApiServerState = { status: null, loadError: null, saving: false, saveError: null };

export const fetchApiStatus = createAppAsyncThunk('apiServer/status', async (_: void, { rejectWithValue }) => {
  try {
    return await call('api.status', {});
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const updateApiServer = createAppAsyncThunk('apiServer/update', async (req: RequestOf<'api.update'>, { rejectWithValue }) => {
  try {
    return await call('api.update', req);
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

/** Copy `text` to the clipboard; `what` names it in the toast ("API key", "curl command"). */
export const copyRequested = createAction<{ what: string; text: string }>('apiServer/copyRequested');

const apiServerSlice = createSlice({
  name: 'apiServer',
  initialState,
  reducers: {
    apiStatusReceived(s, a: PayloadAction<ApiStatusDTO>) {
      s.status = a.payload;
      s.loadError = null;
    },
  },
  extraReducers: (b) => {
    b.addCase(fetchApiStatus.fulfilled, (s, a) => {
      s.status = a.payload;
      s.loadError = null;
    })
      .addCase(fetchApiStatus.rejected, (s, a) => {
        s.loadError = a.payload ? describeError(a.payload) : 'Could not ask Hearth about its API server.';
      })
      .addCase(updateApiServer.pending, (s) => {
        s.saving = true;
        s.saveError = null;
      })
      .addCase(updateApiServer.fulfilled, (s, a) => {
        s.saving = false;
        s.status = a.payload;
      })
      .addCase(updateApiServer.rejected, (s, a) => {
        s.saving = false;
        s.saveError = a.payload ? describeError(a.payload) : 'The API server settings were not saved.';
      });
  },
});

export const { apiStatusReceived } = apiServerSlice.actions;
export default apiServerSlice.reducer;

export const selectApiServer = (s: RootState) => s.apiServer;

/** The base URL clients use: the running server's, else the one its settings would give. */
export function baseUrlOf(st: ApiStatusDTO): string {
  if (st.url) return st.url;
  const h = st.settings.host;
  const host = h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h.includes(':') ? `[${h}]` : h;
  return `http://${host}:${st.settings.port}${st.settings.prefix}`;
}

/**
 * True for names that reach only this machine (localhost, 127.x, ::1): the page's word for whether a
 * key is optional. The server decides with main/browser/guard.ts isLoopbackHost (node's net parser,
 * which the renderer has not); this covers the forms the Host field takes.
 */
export function isLoopbackName(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(h) || h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

/** The key as shown: its prefix and last four characters, the rest hidden. */
export function maskKey(key: string): string {
  return `${key.slice(0, 7)}${'•'.repeat(12)}${key.slice(-4)}`;
}

/** A curl command for one chat completion (the key read from $HEARTH_API_KEY, so the page never shows it). */
export function curlSnippet(st: ApiStatusDTO, model: string): string {
  const auth = st.settings.apiKey ? ` \\\n  -H "Authorization: Bearer $HEARTH_API_KEY"` : '';
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello!' }] });
  return `curl ${baseUrlOf(st)}/v1/chat/completions \\\n  -H "Content-Type: application/json"${auth} \\\n  -d '${body}'`;
}

/** The same with OpenAI's Python client (base_url ends in /v1). */
export function pythonSnippet(st: ApiStatusDTO, model: string): string {
  const key = st.settings.apiKey ? 'os.environ["HEARTH_API_KEY"]' : '"not-needed"';
  return [
    ...(st.settings.apiKey ? ['import os'] : []),
    'from openai import OpenAI',
    '',
    `client = OpenAI(base_url="${baseUrlOf(st)}/v1", api_key=${key})`,
    'reply = client.chat.completions.create(',
    `    model="${model}",`,
    '    messages=[{"role": "user", "content": "Hello!"}],',
    ')',
    'print(reply.choices[0].message.content)',
  ].join('\n');
}
