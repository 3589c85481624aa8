/**
 * A turn's tool calls, between one reply that made them and the next (main/chat/steps.ts runs the
 * steps): each call is asked of the user when the policy says so (main/tools/approvals.ts), runs
 * (several at once when the reply made several), its text is cut to its tool's budget in the chat
 * model's tokens, and it becomes a tool message (role 'tool', its outcome beside the text), chained
 * after the reply in the calls' order. A call that cannot run (no such tool, arguments that are not a
 * JSON object, a tool that failed) answers the model an error it can read; a denied call answers that
 * the user denied it; a stop while a call waits or runs ends it 'aborted'. Every call gets its message,
 * so the conversation stays well-formed for the next request.
 */
import { randomUUID } from 'crypto';
import type { ToolCallDTO } from '../ipc/tools';
import type { Logger } from '../logging';
import { DEFAULT_RESULT_BUDGET_TOKENS, type ToolCallState, type ToolSettings } from '../params';
import type { Message, NewMessage } from '../store';
import type { ToolApprovals } from '../tools/approvals';
import { type OfferedTools, type ToolRegistry, withinBudget } from '../tools/registry';
import { callArguments, type StoredToolResult } from './dto';

/** What the chat needs for tools: where they come from, who allows them, their settings. */
export interface ToolDeps {
  registry: ToolRegistry;
  approvals: ToolApprovals;
  settings: () => ToolSettings;
}

export interface CallsContext {
  threadId: string;
  /** the reply that made the calls */
  replyId: string;
  calls: readonly ToolCallDTO[];
  offered: OfferedTools;
  signal: AbortSignal;
  /** the chat model's token count of a text */
  countTokens: (text: string) => Promise<number>;
  addMessage: (m: NewMessage) => Message;
  /** tells the pages a message was added */
  added: (messageId: string) => void;
  logger: Logger;
}

/** The calls of a reply with ids that are there and distinct (a model's may be empty or repeat). */
export function withIds(calls: readonly { id: string; name: string; arguments: string }[]): ToolCallDTO[] {
  const seen = new Set<string>();
  return calls.map((c) => {
    let id = c.id.trim().slice(0, 200);
    if (!id || seen.has(id)) id = `call_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
    seen.add(id);
    return { id, name: c.name.slice(0, 256), arguments: c.arguments };
  });
}

interface Outcome {
  call: ToolCallDTO;
  text: string;
  state: ToolCallState;
  source: string;
  durationMs: number;
  truncated: StoredToolResult['truncated'];
}

async function runOne(deps: ToolDeps, ctx: CallsContext, call: ToolCallDTO): Promise<Outcome> {
  // how long the call ran: from when it starts running (the time it waited for the user's decision is not
  // the tool's; a call that never runs took 0)
  let started = Date.now();
  const def = ctx.offered.byName(call.name);
  const source = def?.source ?? 'unknown';
  const done = (state: ToolCallState, text: string): Outcome => ({ call, text, state, source, durationMs: Date.now() - started, truncated: null });
  if (!def) return done('error', `Error: there is no tool named ${JSON.stringify(call.name)}. The tools: ${ctx.offered.definitions.map((d) => d.name).join(', ') || 'none'}.`);
  const args = callArguments(call.arguments);
  if (!args) return done('error', `Error: the arguments of ${call.name} must be a JSON object; got ${JSON.stringify(call.arguments.slice(0, 200))}.`);
  const live = { threadId: ctx.threadId, messageId: ctx.replyId, callId: call.id, name: call.name, key: def.key, source, arguments: call.arguments };
  try {
    let allowed: boolean;
    try {
      allowed = await deps.approvals.approve(live, def, ctx.signal);
    } finally {
      started = Date.now();
    }
    if (!allowed) return done('denied', `The user denied this call of ${call.name}. Do not call it again for this request; answer without it.`);
    deps.approvals.running(live);
    const outcome = await ctx.offered.call(call.name, args, ctx.signal);
    let budgeted;
    try {
      budgeted = await withinBudget(outcome.text, def.resultBudgetTokens || DEFAULT_RESULT_BUDGET_TOKENS, ctx.countTokens);
    } catch (e) {
      ctx.logger.warn(`tools: the result of ${call.name} could not be measured: ${(e as Error).message}`);
      budgeted = { text: outcome.text, truncated: null };
    }
    return { ...done(outcome.isError ? 'error' : 'done', outcome.isError && !/^error/i.test(budgeted.text) ? `Error: ${budgeted.text}` : budgeted.text), truncated: budgeted.truncated };
  } catch (e) {
    if (ctx.signal.aborted) return done('aborted', 'The call was stopped by the user.');
    ctx.logger.error(`tools: ${call.name} failed: ${(e as Error).message}`);
    return done('error', `Error: ${call.name} failed: ${(e as Error).message}`);
  }
}

/**
 * Runs a reply's calls and stores their messages in the calls' order, chained after the reply.
 * Answers the last message's id (the next reply's parent).
 */
export async function runToolCalls(deps: ToolDeps, ctx: CallsContext): Promise<string> {
  const outcomes = await Promise.all(ctx.calls.map((c) => runOne(deps, ctx, c)));
  let parentId = ctx.replyId;
  try {
    parentId = storeOutcomes(deps, ctx, outcomes);
  } finally {
    // no call stays live, even when a message could not be stored (the page would show it running for good)
    for (const c of ctx.calls) deps.approvals.end(ctx.threadId, c.id);
  }
  return parentId;
}

function storeOutcomes(deps: ToolDeps, ctx: CallsContext, outcomes: readonly Outcome[]): string {
  let parentId = ctx.replyId;
  for (const o of outcomes) {
    const result: StoredToolResult = { source: o.source, state: o.state, durationMs: o.durationMs, truncated: o.truncated };
    const m = ctx.addMessage({
      threadId: ctx.threadId,
      role: 'tool',
      parentId,
      content: o.text,
      toolCallId: o.call.id,
      toolCalls: [{ id: o.call.id, name: o.call.name, arguments: o.call.arguments, result }],
      status: o.state === 'aborted' ? 'aborted' : 'done',
    });
    parentId = m.id;
    deps.approvals.end(ctx.threadId, o.call.id);
    ctx.added(m.id);
    ctx.logger.info('tool call', { threadId: ctx.threadId, tool: o.call.name, source: o.source, state: o.state, ms: o.durationMs, chars: o.text.length });
  }
  return parentId;
}
