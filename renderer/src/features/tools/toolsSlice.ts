/**
 * Tools as main tells them: their status (tools.status when Settings → Tools or the assistants open,
 * then every tools.changed event), the calls each chat's loop runs now (tools.pending when a chat
 * opens, then every tools.call event), and what the user asks of them: a decision on a call awaiting
 * approval, an MCP server saved, deleted, restarted or imported, a web search key set.
 */
import { createSlice, PayloadAction } from '@reduxjs/toolkit';
import type { EventOf, LiveToolCallDTO, RequestOf, ResponseOf, ToolsStatusDTO } from '../../../../main/ipc/contract';
import type { ApprovalDecision } from '../../../../main/params';
import { call } from '../../app/bridge';
import { toErrorInfo } from '../../app/errors';
import type { RootState } from '../../app/store';
import { addStatusChanges, createAppAsyncThunk, errorWords as words } from '../../app/thunk';

export type McpImportResult = ResponseOf<'tools.servers.import'>;
export type ImportSource = ResponseOf<'tools.servers.importSources'>['sources'][number];

export interface ToolsState {
  /** main's last word (null until tools.status answers) */
  status: ToolsStatusDTO | null;
  loadError: string | null;
  /** per thread, the calls awaiting approval or running, by call id */
  live: Record<string, Record<string, LiveToolCallDTO>>;
  /** decisions on their way, by `threadId callId` */
  deciding: Record<string, boolean>;
  /** the last decision refused, by `threadId callId` */
  decideErrors: Record<string, string>;
  /** a server action under way (save, delete, restart, import, a secret) and the last one's refusal */
  busy: boolean;
  actionError: string | null;
  /** the other apps' MCP configs found on this machine (null until asked) */
  importSources: ImportSource[] | null;
  /** what the last import added and skipped */
  lastImport: McpImportResult | null;
}

const initialState: ToolsState = { status: null, loadError: null, live: {}, deciding: {}, decideErrors: {}, busy: false, actionError: null, importSources: null, lastImport: null };

const callKey = (threadId: string, callId: string) => `${threadId} ${callId}`;

/** A thunk asking main one channel, rejecting with the error's serializable form. */
function ask<C extends Parameters<typeof call>[0], A = RequestOf<C>>(type: string, channel: C, toRequest: (arg: A) => RequestOf<C> = (a) => a as unknown as RequestOf<C>) {
  return createAppAsyncThunk(type, async (arg: A, { rejectWithValue }) => {
    try {
      return await call(channel, toRequest(arg));
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  });
}

export const fetchToolsStatus = ask<'tools.status', void>('tools/status', 'tools.status', () => ({}));
export const fetchImportSources = ask<'tools.servers.importSources', void>('tools/importSources', 'tools.servers.importSources', () => ({}));
export const fetchPendingCalls = ask<'tools.pending', string>('tools/pending', 'tools.pending', (threadId) => ({ threadId }));
export const decideToolCall = ask<'tools.decide', { threadId: string; callId: string; decision: ApprovalDecision }>('tools/decide', 'tools.decide');
export const saveMcpServer = ask('tools/saveServer', 'tools.servers.save');
export const deleteMcpServer = ask<'tools.servers.delete', string>('tools/deleteServer', 'tools.servers.delete', (name) => ({ name }));
export const restartMcpServer = ask<'tools.servers.restart', string>('tools/restartServer', 'tools.servers.restart', (name) => ({ name }));
export const importMcpServers = ask('tools/import', 'tools.servers.import');
export const setToolSecret = ask('tools/setSecret', 'tools.secrets.set');

/** The server actions: each answers the new status (import answers what it added; tools.changed brings the status). */
const STATUS_ACTIONS = [saveMcpServer, deleteMcpServer, restartMcpServer, setToolSecret] as const;


const toolsSlice = createSlice({
  name: 'tools',
  initialState,
  reducers: {
    toolsStatusReceived(s, a: PayloadAction<ToolsStatusDTO>) {
      s.status = a.payload;
      s.loadError = null;
    },
    /** tools.call: a call awaits approval or runs, or left that state (its tool message follows by chat.message) */
    liveCallChanged(s, a: PayloadAction<EventOf<'tools.call'>>) {
      const { threadId, callId, call: c } = a.payload;
      const key = callKey(threadId, callId);
      delete s.deciding[key];
      if (c) {
        (s.live[threadId] ??= {})[callId] = c;
        if (c.state !== 'awaiting') delete s.decideErrors[key];
        return;
      }
      delete s.decideErrors[key];
      const t = s.live[threadId];
      if (!t) return;
      delete t[callId];
      if (Object.keys(t).length === 0) delete s.live[threadId];
    },
    importResultCleared(s) {
      s.lastImport = null;
    },
  },
  extraReducers: (b) => {
    b.addCase(fetchToolsStatus.fulfilled, (s, a) => {
      s.status = a.payload;
      s.loadError = null;
    })
      .addCase(fetchToolsStatus.rejected, (s, a) => {
        s.loadError = words(a.payload, 'Could not ask Hearth about its tools.');
      })
      .addCase(fetchImportSources.fulfilled, (s, a) => {
        s.importSources = a.payload.sources;
      })
      .addCase(fetchPendingCalls.fulfilled, (s, a) => {
        const calls = a.payload.filter((c) => c.threadId === a.meta.arg);
        if (calls.length) s.live[a.meta.arg] = Object.fromEntries(calls.map((c) => [c.callId, c]));
        else delete s.live[a.meta.arg];
      })
      .addCase(decideToolCall.pending, (s, a) => {
        const key = callKey(a.meta.arg.threadId, a.meta.arg.callId);
        s.deciding[key] = true;
        delete s.decideErrors[key];
      })
      .addCase(decideToolCall.rejected, (s, a) => {
        const key = callKey(a.meta.arg.threadId, a.meta.arg.callId);
        delete s.deciding[key];
        s.decideErrors[key] = words(a.payload, 'The decision was not taken.');
      })
      .addCase(importMcpServers.pending, (s) => {
        s.busy = true;
        s.actionError = null;
        s.lastImport = null;
      })
      .addCase(importMcpServers.fulfilled, (s, a) => {
        s.busy = false;
        s.lastImport = a.payload;
      })
      .addCase(importMcpServers.rejected, (s, a) => {
        s.busy = false;
        s.actionError = words(a.payload, 'The import failed.');
      });
    addStatusChanges(b, STATUS_ACTIONS);
  },
});

export const { toolsStatusReceived, liveCallChanged, importResultCleared } = toolsSlice.actions;
export default toolsSlice.reducer;

export const selectToolsStatus = (s: RootState) => s.tools.status;
export const selectTools = (s: RootState) => s.tools;
/** The call a reply made that the loop runs now (awaiting approval or running), if any. */
export function selectLiveCall(s: RootState, threadId: string, messageId: string, callId: string): LiveToolCallDTO | undefined {
  const c = s.tools.live[threadId]?.[callId];
  return c && c.messageId === messageId ? c : undefined;
}
/** The thread's loop runs a call now (awaiting approval or running). */
export const selectHasLiveCalls = (s: RootState, threadId: string | null): boolean => !!threadId && !!s.tools.live[threadId];
export const selectDeciding = (s: RootState, threadId: string, callId: string): boolean => !!s.tools.deciding[callKey(threadId, callId)];
export const selectDecideError = (s: RootState, threadId: string, callId: string): string | undefined => s.tools.decideErrors[callKey(threadId, callId)];
