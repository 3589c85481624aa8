/**
 * Remote providers as main tells them: their status (providers.status at startup and when Settings →
 * Providers opens, then every providers.changed event), what the user asks of them (a provider saved,
 * removed, its models refreshed, remote providers allowed or forbidden), and the remote model the
 * header's picker chose for the next new chat (an open chat keeps its model on the thread itself).
 */
import { createAction, createSlice, PayloadAction } from '@reduxjs/toolkit';
import type { ProviderDTO, ProviderSave, ProvidersStatusDTO, RequestOf } from '../../../../main/ipc/contract';
import { parseRemoteModelRef, remoteModelRef } from '../../../../main/params';
import { call } from '../../app/bridge';
import { toErrorInfo } from '../../app/errors';
import type { RootState } from '../../app/store';
import { addStatusChanges, createAppAsyncThunk, errorWords as words } from '../../app/thunk';
import { selectSelectedThread } from '../threads/threadsSlice';

export interface ProvidersState {
  /** main's last word (null until providers.status answers) */
  status: ProvidersStatusDTO | null;
  loadError: string | null;
  /** a save, removal or the allow switch under way, and the last one's refusal (in words) */
  busy: boolean;
  actionError: string | null;
  /** per provider id: its models being refreshed, and the last refresh's refusal (the provider's words) */
  refreshing: Record<string, boolean>;
  refreshErrors: Record<string, string>;
  /** the remote model (`remote:<provider>/<model>`) the picker chose on the new-chat screen; null: a local model */
  newChatModel: string | null;
}

const initialState: ProvidersState = { status: null, loadError: null, busy: false, actionError: null, refreshing: {}, refreshErrors: {}, newChatModel: null };

/**
 * The header's model picker chose `value`: a local model's path or a remote model's ref, with the chat
 * open at the time (null: the new-chat screen). The listener (./listeners.ts) loads or switches.
 */
export const modelPicked = createAction<{ value: string; threadId: string | null }>('providers/modelPicked');

function ask<C extends Parameters<typeof call>[0], A = RequestOf<C>>(type: string, channel: C, toRequest: (arg: A) => RequestOf<C> = (a) => a as unknown as RequestOf<C>) {
  return createAppAsyncThunk(type, async (arg: A, { rejectWithValue }) => {
    try {
      return await call(channel, toRequest(arg));
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  });
}

export const fetchProvidersStatus = ask<'providers.status', void>('providers/status', 'providers.status', () => ({}));
export const saveProvider = ask<'providers.save', ProviderSave>('providers/save', 'providers.save');
export const deleteProvider = ask<'providers.delete', string>('providers/delete', 'providers.delete', (id) => ({ id }));
export const refreshProviderModels = ask<'providers.refreshModels', string>('providers/refreshModels', 'providers.refreshModels', (id) => ({ id }));
export const allowRemoteProviders = ask<'providers.allow', boolean>('providers/allow', 'providers.allow', (allowRemote) => ({ allowRemote }));

const STATUS_ACTIONS = [saveProvider, deleteProvider, allowRemoteProviders] as const;


const providersSlice = createSlice({
  name: 'providers',
  initialState,
  reducers: {
    providersStatusReceived(s, a: PayloadAction<ProvidersStatusDTO>) {
      s.status = a.payload;
      s.loadError = null;
    },
    actionErrorCleared(s) {
      s.actionError = null;
    },
  },
  extraReducers: (b) => {
    b.addCase(modelPicked, (s, a) => {
      if (!parseRemoteModelRef(a.payload.value)) s.newChatModel = null;
      else if (a.payload.threadId === null) s.newChatModel = a.payload.value;
    })
      .addCase(fetchProvidersStatus.fulfilled, (s, a) => {
        s.status = a.payload;
        s.loadError = null;
      })
      .addCase(fetchProvidersStatus.rejected, (s, a) => {
        s.loadError = words(a.payload, 'Could not ask Hearth about its providers.');
      })
      .addCase(refreshProviderModels.pending, (s, a) => {
        s.refreshing[a.meta.arg] = true;
        delete s.refreshErrors[a.meta.arg];
      })
      .addCase(refreshProviderModels.fulfilled, (s, a) => {
        delete s.refreshing[a.meta.arg];
        s.status = a.payload;
      })
      .addCase(refreshProviderModels.rejected, (s, a) => {
        delete s.refreshing[a.meta.arg];
        s.refreshErrors[a.meta.arg] = words(a.payload, 'The models were not refreshed.');
      });
    addStatusChanges(b, STATUS_ACTIONS);
  },
});

export const { providersStatusReceived, actionErrorCleared } = providersSlice.actions;
export default providersSlice.reducer;

export const selectProviders = (s: RootState) => s.providers;

/** A provider's settings as providers.save takes them back (what main shows about its key left out). */
export function providerConfigOf(p: ProviderDTO): ProviderSave['provider'] {
  const { key: _key, keyHint: _hint, ...config } = p;
  return config;
}

/** A remote model the picker offers: its ref (the option's value) and its label. */
export interface RemoteOption {
  ref: string;
  label: string;
}

/** A remote model's label: "model · provider (remote)". */
export const remoteLabel = (model: string, providerName: string) => `${model} · ${providerName} (remote)`;

/** The picker's remote models, grouped by provider: none while remote providers are forbidden; enabled providers only. */
export function remoteGroups(status: ProvidersStatusDTO | null): { provider: ProviderDTO; options: RemoteOption[] }[] {
  if (!status?.allowRemote) return [];
  return status.providers
    .filter((p) => p.enabled && p.models.length > 0)
    .map((p) => ({ provider: p, options: p.models.map((m) => ({ ref: remoteModelRef(p.id, m.id), label: remoteLabel(m.id, p.name) })) }));
}

/** Whether `ref` names a remote model the picker offers now (allowed, its provider enabled, the model listed). */
function offered(status: ProvidersStatusDTO | null, ref: string): boolean {
  return remoteGroups(status).some((g) => g.options.some((o) => o.ref === ref));
}

/** The remote model a new chat is created with: the picker's choice while it is still offered. */
export function selectNewChatRemote(s: RootState): string | null {
  const ref = s.providers.newChatModel;
  return ref && offered(s.providers.status, ref) ? ref : null;
}

/**
 * The remote model the header shows: the open chat's model when it is a remote one (offered or not:
 * the chat names it), on the new-chat screen the picker's remote choice; null: a local model.
 */
export function selectActiveRemote(s: RootState): string | null {
  if (s.threads.selectedId) {
    const model = selectSelectedThread(s)?.modelPath ?? null;
    return parseRemoteModelRef(model) ? model : null;
  }
  return selectNewChatRemote(s);
}

/** A remote ref's label as the header and the new-chat screen show it ("(unavailable)" when not offered now). */
export function selectRemoteLabel(s: RootState, ref: string): string {
  const r = parseRemoteModelRef(ref);
  if (!r) return ref;
  const p = s.providers.status?.providers.find((x) => x.id === r.providerId);
  const label = remoteLabel(r.model, p?.name ?? 'removed provider');
  return offered(s.providers.status, ref) ? label : `${label} — unavailable`;
}
