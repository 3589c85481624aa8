/**
 * A reply's tool calls as cards, one per call: the tool, where it comes from, its arguments, how it
 * stands (awaiting approval, running, done, error, denied, stopped), how long it ran and its result —
 * the tool message answering it. Arguments and results are shown as text, never as HTML or Markdown
 * (a tool's output is untrusted). A call awaiting approval offers the decisions main allows.
 */
import { memo, useId, useState } from 'react';
import type { MessageDTO, ToolCallDTO } from '../../../../main/ipc/contract';
import { APPROVAL_DECISIONS, ApprovalDecision, ToolCallState } from '../../../../main/params';
import { formatInt } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { openDialog } from '../../app/uiSlice';
import { Icon } from '../../components/Icon';
import { selectIsStreaming } from '../chat/chatSlice';
import { formatDuration, prettyArguments, selectToolMessage, selectTurnSteps } from './toolCalls';
import { decideToolCall, selectDecideError, selectDeciding, selectLiveCall } from './toolsSlice';

/** A card's state: the call's (TOOL_CALL_STATES), or, with neither a result nor a live call, waiting (the turn runs) or not run. */
type CardState = ToolCallState | 'waiting' | 'notRun';

const STATE_LABELS: Record<CardState, string> = {
  awaiting: 'Awaiting approval',
  running: 'Running…',
  done: 'Done',
  error: 'Error',
  denied: 'Denied',
  aborted: 'Stopped',
  waiting: 'Waiting',
  notRun: 'Not run',
};

export const DECISION_LABELS: Record<ApprovalDecision, string> = {
  once: 'Allow once',
  thread: 'Allow for this thread',
  always: 'Always allow this tool',
  deny: 'Deny',
};

function Approval({ threadId, callId, name, decisions }: { threadId: string; callId: string; name: string; decisions: readonly ApprovalDecision[] }) {
  const dispatch = useAppDispatch();
  const deciding = useAppSelector((s) => selectDeciding(s, threadId, callId));
  const error = useAppSelector((s) => selectDecideError(s, threadId, callId));
  return (
    <>
      <div role="group" aria-label={`Run ${name}?`} className="tool-approval">
        {APPROVAL_DECISIONS.filter((d) => decisions.includes(d)).map((d) => (
          <button key={d} type="button" className={`button small${d === 'deny' ? ' danger' : d === 'once' ? ' primary' : ''}`} disabled={deciding} onClick={() => void dispatch(decideToolCall({ threadId, callId, decision: d }))}>
            {DECISION_LABELS[d]}
          </button>
        ))}
      </div>
      {error && (
        <p role="alert" className="inline-error">
          {error}
        </p>
      )}
    </>
  );
}

function TextBlock({ label, text, className }: { label: string; text: string; className: string }) {
  const id = useId();
  return (
    <div className="tool-block">
      <div className="tool-block-label" id={id}>
        {label}
      </div>
      {/* text only: React escapes it (no HTML, no Markdown) */}
      <pre className={className} aria-labelledby={id} tabIndex={0}>
        {text}
      </pre>
    </div>
  );
}

const ToolCard = memo(function ToolCard({ reply, call }: { reply: MessageDTO; call: ToolCallDTO }) {
  const result = useAppSelector((s) => selectToolMessage(s, reply.threadId, reply.id, call.id));
  const live = useAppSelector((s) => selectLiveCall(s, reply.threadId, reply.id, call.id));
  const turnRuns = useAppSelector((s) => selectIsStreaming(s, reply.threadId));
  const outcome = result?.tool ?? null;
  const state: CardState = outcome?.state ?? live?.state ?? (turnRuns ? 'waiting' : 'notRun');
  const name = outcome?.name ?? live?.name ?? call.name;
  const source = outcome?.source ?? live?.source ?? '';
  const [toggled, setOpen] = useState<boolean | null>(null);
  // a call awaiting approval shows what it would run
  const open = toggled ?? state === 'awaiting';
  const bodyId = useId();
  return (
    <div role="group" aria-label={`Tool call ${name}`} className={`tool-card state-${state}`} data-call-id={call.id}>
      <div className="tool-card-head">
        <button type="button" className="tool-card-toggle" aria-label={`${name} details`} aria-expanded={open} aria-controls={bodyId} onClick={() => setOpen(!open)}>
          <span className={`chevron${open ? ' open' : ''}`}>
            <Icon name="chevron" size={14} />
          </span>
          <span className="tool-name">{name}</span>
        </button>
        {source && <span className="tool-source">{source}</span>}
        <span className="tool-state" role="status" aria-label={`${name}: ${STATE_LABELS[state]}`}>
          {STATE_LABELS[state]}
        </span>
        {outcome && <span className="tool-duration">{formatDuration(outcome.durationMs)}</span>}
      </div>
      {live?.state === 'awaiting' && <Approval threadId={reply.threadId} callId={live.callId} name={name} decisions={live.decisions} />}
      <div id={bodyId} className="tool-card-body" hidden={!open}>
        {open && (
          <>
            <TextBlock label="Arguments" text={prettyArguments(call.arguments)} className="tool-args" />
            {result && <TextBlock label="Result" text={result.content} className="tool-result" />}
            {outcome?.truncated && (
              <p role="note" className="tool-truncated">
                truncated: kept {formatInt(outcome.truncated.keptTokens)} of {formatInt(outcome.truncated.totalTokens)} tokens
              </p>
            )}
          </>
        )}
      </div>
    </div>
  );
});

/** A reply's calls, one card each. */
export function ToolCalls({ message }: { message: MessageDTO }) {
  if (!message.toolCalls.length) return null;
  return (
    <div className="tool-calls">
      {message.toolCalls.map((c, i) => (
        <ToolCard key={`${i} ${c.id}`} reply={message} call={c} />
      ))}
    </div>
  );
}

/** A reply written without tools because the turn reached its step limit (finishReason toolSteps). */
export function ToolStepsNote({ m }: { m: MessageDTO }) {
  const dispatch = useAppDispatch();
  const steps = useAppSelector((s) => selectTurnSteps(s, m.threadId, m.id) ?? s.settings.settings?.tools.maxSteps ?? null);
  return (
    <p role="note" aria-label="Why the reply stopped calling tools" className="finish-note">
      Stopped calling tools after {steps ?? 'the most'} steps (
      <button type="button" className="link-button" onClick={() => dispatch(openDialog({ name: 'settings', section: 'tools' }))}>
        Settings → Tools
      </button>
      )
    </p>
  );
}
