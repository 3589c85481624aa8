/**
 * The updater as main tells it (updates.state at start, then every updates.changed event: events.ts),
 * the four things the user can ask of it (check, download, install, cancel a waiting install), and the
 * channel move waiting for the user's answer: a move to a more stable channel may offer an older build
 * (a downgrade), so Settings → Updates asks first (../settings/Updates.tsx). A Hearth whose main has no
 * updater (unknown_channel) is treated as phase unsupported.
 */
import { createSlice, PayloadAction, ThunkAction, UnknownAction } from '@reduxjs/toolkit';
import type { RequestOf } from '../../../../main/ipc/contract';
import { UPDATE_CHANNELS, type UpdateChannel, type UpdateStateDTO } from '../../../../main/ipc/updates';
import { channelOfVersion, channelsSeenBy, isMoreStable } from '../../../../main/updates/channels';
import { call } from '../../app/bridge';
import { describeError, ErrorInfo, toErrorInfo } from '../../app/errors';
import type { RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';
import { updateSettings } from '../settings/settingsSlice';

/** What the section says when main answers unknown_channel (a main without the updater's channels). */
export const NO_UPDATER = 'This Hearth has no updater: updates are not handled here.';

export type UpdateAction = 'check' | 'download' | 'install' | 'cancelInstall';

export interface UpdatesState {
  /** main's last word (null until updates.state answers) */
  state: UpdateStateDTO | null;
  /** main has no updates.* channels (unknown_channel): the reason shown, as for phase unsupported */
  noUpdater: string | null;
  /** updates.state failed otherwise (disconnected…), in words */
  loadError: string | null;
  /** the request under way */
  busy: UpdateAction | null;
  /** the last request's refusal, in words */
  actionError: string | null;
  /** the more stable channel chosen, waiting for the user's "yes" */
  confirmChannel: UpdateChannel | null;
}

const initialState: UpdatesState = { state: null, noUpdater: null, loadError: null, busy: null, actionError: null, confirmChannel: null };

function thunkOf<A>(name: UpdateAction | 'state', run: (arg: A) => Promise<UpdateStateDTO>) {
  return createAppAsyncThunk(`updates/${name}`, async (arg: A, { rejectWithValue }) => {
    try {
      return await run(arg);
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  });
}

export const fetchUpdateState = thunkOf<void>('state', () => call('updates.state', {}));
export const checkForUpdates = thunkOf<void>('check', () => call('updates.check', {}));
/** Downloads the update found; one older than the running version needs `confirmDowngrade: true`. */
export const downloadUpdate = thunkOf<RequestOf<'updates.download'>>('download', (arg) => call('updates.download', arg));
/** "Restart to update" (main waits while a reply generates or a model downloads: phase waiting). */
export const installUpdate = thunkOf<void>('install', () => call('updates.install', {}));
export const cancelInstall = thunkOf<void>('cancelInstall', () => call('updates.cancelInstall', {}));

const ACTIONS = { check: checkForUpdates, download: downloadUpdate, install: installUpdate, cancelInstall } as const;

/** The channel followed: the setting, else main's word, else the running build's (stable for a development build). */
export function selectFollowedChannel(s: RootState): UpdateChannel {
  return s.settings.settings?.updateChannel ?? s.updates.state?.channel ?? selectBuildChannel(s);
}

/** The running build's own channel (its version's pre-release tag: main/updates/channels.ts); null for a version that fits none (a development build). */
export function selectRunningBuildChannel(s: RootState): UpdateChannel | null {
  return channelOfVersion(s.updates.state?.current ?? s.settings.info?.appVersion ?? '');
}

/** The running build's channel, stable when its version fits none (a development build). */
export function selectBuildChannel(s: RootState): UpdateChannel {
  return selectRunningBuildChannel(s) ?? UPDATE_CHANNELS[0];
}

/**
 * Settings → Updates → Channel: a move to a channel more stable than the running build's may offer an
 * older build than the one running, so it waits for the user's answer (confirmChannelMove). Any other
 * move is saved at once, and so is every move where updates are unsupported (browser mode, a
 * development run): no check ever runs there, so nothing can be offered.
 */
export function chooseUpdateChannel(channel: UpdateChannel): ThunkAction<void, RootState, undefined, UnknownAction> {
  return (dispatch, getState) => {
    const s = getState();
    if (channel === selectFollowedChannel(s)) return;
    if (selectUnsupportedReason(s) === null && isMoreStable(selectBuildChannel(s), channel)) dispatch(channelMoveAsked(channel));
    else void dispatch(updateSettings({ updateChannel: channel }));
  };
}

/** The user said yes to the move asked about. */
export function confirmChannelMove(): ThunkAction<void, RootState, undefined, UnknownAction> {
  return (dispatch, getState) => {
    const channel = getState().updates.confirmChannel;
    dispatch(channelMoveDismissed());
    if (channel) void dispatch(updateSettings({ updateChannel: channel }));
  };
}

const errorText = (e: ErrorInfo | undefined, fallback: string) => (e ? describeError(e) : fallback);

const updatesSlice = createSlice({
  name: 'updates',
  initialState,
  reducers: {
    updateStateReceived(s, a: PayloadAction<UpdateStateDTO>) {
      s.state = a.payload;
      s.noUpdater = null;
      s.loadError = null;
    },
    channelMoveAsked(s, a: PayloadAction<UpdateChannel>) {
      s.confirmChannel = a.payload;
    },
    channelMoveDismissed(s) {
      s.confirmChannel = null;
    },
  },
  extraReducers: (b) => {
    b.addCase(fetchUpdateState.fulfilled, (s, a) => {
      s.state = a.payload;
      s.noUpdater = null;
      s.loadError = null;
    }).addCase(fetchUpdateState.rejected, (s, a) => {
      if (a.payload?.code === 'unknown_channel') s.noUpdater = NO_UPDATER;
      else s.loadError = errorText(a.payload, 'Could not ask Hearth about updates.');
    });
    for (const [name, thunk] of Object.entries(ACTIONS) as [UpdateAction, (typeof ACTIONS)[UpdateAction]][]) {
      b.addCase(thunk.pending, (s) => {
        s.busy = name;
        s.actionError = null;
      })
        .addCase(thunk.fulfilled, (s, a) => {
          s.busy = null;
          s.state = a.payload;
          s.noUpdater = null;
        })
        .addCase(thunk.rejected, (s, a) => {
          s.busy = null;
          if (a.payload?.code === 'unknown_channel') s.noUpdater = NO_UPDATER;
          else s.actionError = errorText(a.payload, 'The updater did not answer.');
        });
    }
  },
});

export const { updateStateReceived, channelMoveAsked, channelMoveDismissed } = updatesSlice.actions;
export default updatesSlice.reducer;

export const selectUpdates = (s: RootState) => s.updates;

/** Why updates cannot run here (phase unsupported's reason, or a main without an updater); null when they can. */
export function selectUnsupportedReason(s: RootState): string | null {
  if (s.updates.noUpdater) return s.updates.noUpdater;
  const st = s.updates.state;
  if (st?.phase === 'unsupported') return st.reason ?? 'Updates are not supported here.';
  return null;
}

const channelName = (c: string) => c[0].toUpperCase() + c.slice(1);
export const CHANNEL_NAMES: Record<UpdateChannel, string> = Object.fromEntries(UPDATE_CHANNELS.map((c) => [c, channelName(c)])) as Record<UpdateChannel, string>;

/** What a channel's users get, from UPDATE_CHANNELS' order: "Stable builds only", "Beta and stable builds", "Every build: nightly, beta and stable". */
export function channelSees(c: UpdateChannel): string {
  const seen = channelsSeenBy(c).reverse();
  if (seen.length === 1) return `${channelName(seen[0])} builds only`;
  const list = `${seen.slice(0, -1).join(', ')} and ${seen[seen.length - 1]}`;
  return seen.length === UPDATE_CHANNELS.length ? `Every build: ${list}` : `${channelName(list)} builds`;
}
