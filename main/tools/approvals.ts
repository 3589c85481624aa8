/**
 * Who decides a tool call, and the calls that wait or run. The policy: a tool the user allowed always
 * (settings' tools.alwaysAllowed) or for this thread runs at once; current_time reads nothing of the
 * user's or the web's and runs at once; a built-in that only reads the web asks once per thread (any
 * allow covers the thread); every other tool (MCP) asks every time until allowed for the thread or
 * always. A call that asks waits for `decide` (tools.decide) or the turn's stop; each change of a live
 * call is told (tools.call) and `pending` lists them for a page that opens the chat later.
 */
import { IpcError } from '../ipc/contract';
import type { LiveToolCallDTO } from '../ipc/tools';
import { APPROVAL_DECISIONS, type ApprovalDecision, isBuiltinKey } from '../params';
import type { ToolDefinition } from './types';

export interface ApprovalDeps {
  /** the grants of a saved thread (the store's tool_grants); null for a temporary chat (kept here, in memory) */
  threadGrants(threadId: string): { list(): string[]; add(key: string): void } | null;
  alwaysAllowed(): readonly string[];
  allowAlways(key: string): void;
  /** tells every page a live call's change (null: it left the live list) */
  emit(threadId: string, callId: string, call: LiveToolCallDTO | null): void;
}

interface Waiting {
  call: LiveToolCallDTO;
  tool: ToolDefinition;
  resolve: (allowed: boolean) => void;
}

export class ToolApprovals {
  /** live calls by thread, then call id */
  private readonly live = new Map<string, Map<string, Waiting | { call: LiveToolCallDTO }>>();
  /** temporary chats' grants */
  private readonly memoryGrants = new Map<string, Set<string>>();

  constructor(private readonly deps: ApprovalDeps) {}

  private granted(threadId: string): Set<string> {
    const stored = this.deps.threadGrants(threadId);
    return stored ? new Set(stored.list()) : (this.memoryGrants.get(threadId) ?? new Set());
  }

  private grant(threadId: string, key: string): void {
    const stored = this.deps.threadGrants(threadId);
    if (stored) stored.add(key);
    else {
      const set = this.memoryGrants.get(threadId) ?? new Set<string>();
      set.add(key);
      this.memoryGrants.set(threadId, set);
    }
  }

  /** Whether a call of this tool in this thread runs without asking. */
  allowedWithoutAsking(threadId: string, tool: ToolDefinition): boolean {
    if (isBuiltinKey(tool.key) && !tool.readsWebOnly) return true;
    return this.deps.alwaysAllowed().includes(tool.key) || this.granted(threadId).has(tool.key);
  }

  /** The decisions a call may take: all of them (a web-reading built-in's "once" covers its thread too). */
  decisionsFor(): ApprovalDecision[] {
    return [...APPROVAL_DECISIONS];
  }

  private setLive(threadId: string, entry: Waiting | { call: LiveToolCallDTO }): void {
    const calls = this.live.get(threadId) ?? new Map();
    calls.set(entry.call.callId, entry);
    this.live.set(threadId, calls);
    this.deps.emit(threadId, entry.call.callId, entry.call);
  }

  /**
   * Asks the user about a call (or not, by the policy): resolves true to run it, false when denied.
   * Rejects with the signal's reason when the turn stops while it waits.
   */
  async approve(call: Omit<LiveToolCallDTO, 'state' | 'decisions'>, tool: ToolDefinition, signal: AbortSignal): Promise<boolean> {
    if (this.allowedWithoutAsking(call.threadId, tool)) return true;
    signal.throwIfAborted();
    return new Promise<boolean>((resolve, reject) => {
      const onAbort = () => {
        this.end(call.threadId, call.callId);
        reject(signal.reason ?? new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.setLive(call.threadId, {
        call: { ...call, state: 'awaiting', decisions: this.decisionsFor() },
        tool,
        resolve: (allowed) => {
          signal.removeEventListener('abort', onAbort);
          resolve(allowed);
        },
      });
    });
  }

  /** The user's decision on a call awaiting it. */
  decide(threadId: string, callId: string, decision: ApprovalDecision): void {
    const entry = this.live.get(threadId)?.get(callId);
    if (!entry || !('resolve' in entry)) throw new IpcError('not_found', 'this tool call is not awaiting a decision (it was decided, or the reply was stopped)');
    const key = entry.tool.key;
    if (decision === 'always') this.deps.allowAlways(key);
    // a web-reading built-in asks once per thread: any allow covers the thread
    if (decision === 'thread' || (decision === 'once' && isBuiltinKey(entry.tool.key) && entry.tool.readsWebOnly)) this.grant(threadId, key);
    // no longer decidable; the loop marks it running, or ends it (denied)
    this.live.get(threadId)!.set(callId, { call: entry.call });
    entry.resolve(decision !== 'deny');
  }

  /** A call runs (after its approval). */
  running(call: Omit<LiveToolCallDTO, 'state' | 'decisions'>): void {
    this.setLive(call.threadId, { call: { ...call, state: 'running', decisions: [] } });
  }

  /** A call left the live list (its message is stored, or the turn stopped). */
  end(threadId: string, callId: string): void {
    const calls = this.live.get(threadId);
    if (!calls?.delete(callId)) return;
    if (calls.size === 0) this.live.delete(threadId);
    this.deps.emit(threadId, callId, null);
  }

  pending(threadId: string): LiveToolCallDTO[] {
    return [...(this.live.get(threadId)?.values() ?? [])].map((e) => e.call);
  }

  /** Forgets a temporary chat's grants (it was closed or deleted). */
  forget(threadId: string): void {
    this.memoryGrants.delete(threadId);
  }
}
