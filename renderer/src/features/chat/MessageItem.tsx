/**
 * One message. Memoized and selecting its own message by id, so while a reply streams only that
 * reply's component re-renders (the list and the other messages keep their props and state).
 */
import { KeyboardEvent, memo, useEffect, useId, useState } from 'react';
import type { MessageDTO, MetricsDTO } from '../../../../main/ipc/contract';
import { poorDraftAcceptance, poorDraftAdvice } from '../../../../main/params';
import { describeMessageError } from '../../app/errors';
import { formatInt, modelLabel } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { openDialog } from '../../app/uiSlice';
import { useCopied } from '../../components/CodeBlock';
import { Icon } from '../../components/Icon';
import { isSendKey } from '../../app/shortcuts';
import { Markdown } from '../../components/Markdown';
import { selectSendOnEnter, selectShowReasoning } from '../settings/settingsSlice';
import { continueReply, failedEditTaken, regenerate, saveEdit, selectIsStreaming, selectProbs, switchAlternative } from './chatSlice';
import { AttachButton, ComposerImages, MessageImages } from './Images';
import { editKey, imagesSet, imagesTaken, storedAttachments } from './imagesSlice';
import { useAttachImages } from './useAttachImages';
import { TokenProbs } from './TokenProbs';
import { ToolCalls, ToolStepsNote } from '../tools/ToolCard';
import { ComposerDocs, MessageDocs } from '../documents/DocChips';
import { docAttachmentsOf, docsTaken, editDocsOpened } from '../documents/docsSlice';
import { CitedMarkdown, Retrieved, SourcesList } from '../documents/Sources';

/** Speculative decoding's acceptance: the share of drafted tokens the model took, as a whole percent rounded down (a share flagged as under 10% never reads 10%). */
export function acceptanceRate(drafted: number, accepted: number): string {
  return `${Math.floor((100 * accepted) / Math.max(1, drafted))}%`;
}

export function metricsText(m: MetricsDTO): string {
  const parts = [`${formatInt(m.generatedTokens)} tokens`, `${m.genTps.toFixed(1)} tok/s`, `TTFT ${formatInt(m.ttftMs)} ms`];
  if (m.draftTokens) parts.push(`draft ${acceptanceRate(m.draftTokens, m.acceptedTokens ?? 0)} accepted${poorDraftAcceptance(m.draftTokens, m.acceptedTokens ?? 0) ? ' (low: may slow replies)' : ''}`);
  return parts.join(' · ');
}

function metricsTitle(m: MetricsDTO): string {
  const prompt = `Prompt: ${formatInt(m.promptTokens)} tokens (${formatInt(m.cachedTokens)} from cache) at ${m.promptTps.toFixed(1)} tok/s`;
  return m.draftTokens ? `${prompt}. Speculative decoding: ${formatInt(m.acceptedTokens ?? 0)} of ${formatInt(m.draftTokens)} drafted tokens accepted` : prompt;
}

/** A reply's reasoning: open or folded as the settings say (showReasoning) until the user toggles it. */
export function Reasoning({ text, thinking }: { text: string; thinking: boolean }) {
  const shown = useAppSelector(selectShowReasoning);
  const [toggled, setOpen] = useState<boolean | null>(null);
  const open = toggled ?? shown;
  const id = useId();
  return (
    <div className="reasoning">
      <button type="button" className="reasoning-toggle" aria-expanded={open} aria-controls={id} onClick={() => setOpen(!open)}>
        <span className={thinking ? 'thinking' : undefined}>{thinking ? 'Thinking…' : 'Reasoning'}</span>
        <span className={`chevron${open ? ' open' : ''}`}>
          <Icon name="chevron" size={14} />
        </span>
      </button>
      <div id={id} className="reasoning-body" hidden={!open}>
        {open && <Markdown text={text} />}
      </div>
    </div>
  );
}

export function AlternativesPager({ message, disabled }: { message: MessageDTO; disabled: boolean }) {
  const dispatch = useAppDispatch();
  const { index, count } = message.alternative;
  const go = (direction: 'prev' | 'next') =>
    void dispatch(switchAlternative({ threadId: message.threadId, messageId: message.id, direction }));
  return (
    <div role="group" aria-label="Alternatives" className="pager">
      <button type="button" className="icon-button small" aria-label="Previous alternative" disabled={disabled || index <= 0} onClick={() => go('prev')}>
        <Icon name="left" size={14} />
      </button>
      <span className="pager-pos" aria-label={`Alternative ${index + 1} of ${count}`}>
        {index + 1} / {count}
      </span>
      <button type="button" className="icon-button small" aria-label="Next alternative" disabled={disabled || index >= count - 1} onClick={() => go('next')}>
        <Icon name="right" size={14} />
      </button>
    </div>
  );
}

/**
 * A user message being edited: its text, and its images and documents as chips (opened with them by
 * the Edit button: imagesSlice `imagesSet` and docsSlice `editDocsOpened` under `editKey`; not a
 * document the thread took out with "Remove from chat") that can be
 * removed, or added to as in the composer (the same attach code: the picker, a paste, a drop). Save
 * sends them all (`saveEdit`); Cancel (or Escape) leaves the message as it was. An edit main refuses
 * opens the box again with its text and files (chatSlice `failedEdits`), the error shown as usual.
 */
function EditBox({ message, text: initial, onDone }: { message: MessageDTO; text: string; onDone: () => void }) {
  const dispatch = useAppDispatch();
  const sendOnEnter = useAppSelector(selectSendOnEnter);
  const [text, setText] = useState(initial);
  const key = editKey(message.id);
  const { images, docs, storing, dragging, attachButton, onPaste, dropTarget } = useAttachImages(key, { documents: true });
  const save = () => {
    if (dispatch(saveEdit(message, text))) onDone();
  };
  const cancel = () => {
    dispatch(imagesTaken(key));
    dispatch(docsTaken(key));
    onDone();
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (isSendKey(e.nativeEvent, sendOnEnter)) {
      e.preventDefault();
      save();
    } else if (e.key === 'Escape') {
      e.stopPropagation();
      cancel();
    }
  };
  return (
    <div className={`edit-box${dragging ? ' dragging' : ''}`} role="group" aria-label="Editing your message" {...dropTarget}>
      <ComposerImages composerKey={key} />
      <ComposerDocs composerKey={key} />
      <textarea aria-label="Edit message" value={text} onChange={(e) => setText(e.target.value)} onKeyDown={onKeyDown} onPaste={onPaste} autoFocus />
      <div className="edit-actions">
        <AttachButton {...attachButton} documents />
        <button type="button" className="button" onClick={cancel}>
          Cancel
        </button>
        <button type="button" className="button primary" onClick={save} disabled={storing || (!text.trim() && !images.length && !docAttachmentsOf(docs).length)}>
          Save and send
        </button>
      </div>
    </div>
  );
}

function StatusNote({ m }: { m: MessageDTO }) {
  if (m.status === 'error') {
    return (
      <p role="alert" className="inline-error">
        {describeMessageError(m.error ?? 'internal')}
      </p>
    );
  }
  if (m.status === 'interrupted') return <InterruptedNote m={m} />;
  if (m.status === 'aborted') return <p className="notice">Stopped.</p>;
  if (m.finishReason === 'toolSteps') return <ToolStepsNote m={m} />;
  return <FinishNote m={m} />;
}

/**
 * A reply cut off before it ended: the engine host died or hung mid-reply and was restarted
 * (finishReason engineRestarted), or Hearth itself closed while it streamed (no reason).
 */
function InterruptedNote({ m }: { m: MessageDTO }) {
  return (
    <p role="note" aria-label="Why the reply stopped" className="finish-note interrupted">
      {m.finishReason === 'engineRestarted'
        ? 'The engine stopped unexpectedly and was restarted; this reply is incomplete — Continue or Regenerate it.'
        : 'Hearth closed while this reply was being written; it is incomplete — Continue or Regenerate it.'}
    </p>
  );
}

/** Why a finished reply ended, when it did not end by itself: the context filled up, or the max tokens limit. */
function FinishNote({ m }: { m: MessageDTO }) {
  const dispatch = useAppDispatch();
  if (m.status !== 'done' || (m.finishReason !== 'contextFull' && m.finishReason !== 'maxTokens')) return null;
  const ctx = m.metrics?.contextSize ? ` (${formatInt(m.metrics.contextSize)} tokens)` : '';
  const open = (section: 'models' | 'chat') => dispatch(openDialog({ name: 'settings', section }));
  return (
    <p role="note" aria-label="Why the reply stopped" className="finish-note">
      {m.finishReason === 'contextFull' ? (
        <>
          Stopped: the context{ctx} is full — raise Context length in the model's settings or start a new chat.{' '}
          <button type="button" className="link-button" onClick={() => open('models')}>
            Model settings
          </button>
        </>
      ) : (
        <>
          Stopped at the max tokens limit — Continue writes more; raise Max tokens for longer replies.{' '}
          <button type="button" className="link-button" onClick={() => open('chat')}>
            Chat defaults
          </button>
        </>
      )}
    </p>
  );
}

/**
 * A reply waiting for its model to load: which one, and how far the load is when it is under way
 * (the guardrail's check comes first). Stop ends the reply; the load goes on.
 */
function ModelLoadingNote({ model, progress }: { model: string | null; progress: number | null }) {
  return (
    <p className="waiting" role="status">
      <span className="dots" aria-hidden="true" /> Loading {model ? modelLabel(model) : 'the model'}…{progress !== null && ` ${Math.round(progress * 100)}%`}
      {progress !== null && <progress aria-label="Model loading for this reply" max={1} value={progress} />}
    </p>
  );
}

/** A reply that can be continued in place: stopped, interrupted, or cut at the max tokens limit. */
function canContinue(m: MessageDTO): boolean {
  return m.role === 'assistant' && (m.status === 'aborted' || m.status === 'interrupted' || (m.status === 'done' && m.finishReason === 'maxTokens'));
}

export const MessageItem = memo(function MessageItem({ id }: { id: string }) {
  const m = useAppSelector((s) => s.chat.messages[id]);
  const flash = useAppSelector((s) => s.chat.jumpTo?.messageId === id);
  const busy = useAppSelector((s) => selectIsStreaming(s, m?.threadId ?? null));
  const assistantName = useAppSelector((s) => {
    const t = m ? s.threads.entities[m.threadId] : undefined;
    const a = t?.assistantId ? s.assistants.entities[t.assistantId] : undefined;
    return a ? `${a.emoji} ${a.name}`.trim() : 'Assistant';
  });
  const probs = useAppSelector((s) => selectProbs(s, id));
  // a reply waits for its model while it loads (main answers a send at once and loads inside the turn):
  // one loads (with its progress), or none is loaded yet (the load is being checked first)
  const modelLoading = useAppSelector((s) => (m?.status === 'streaming' && (s.models.state.loading || !s.models.state.loaded) ? s.models.state : null));
  const dispatch = useAppDispatch();
  const [editing, setEditing] = useState(false);
  const [editText, setEditText] = useState('');
  // an edit main refused: the box opens again with its text (its files are still under editKey)
  const failedEdit = useAppSelector((s) => (m ? s.chat.failedEdits[m.id] : undefined));
  useEffect(() => {
    if (failedEdit === undefined || !m) return;
    setEditText(failedEdit);
    setEditing(true);
    dispatch(failedEditTaken(m.id));
  }, [failedEdit, m, dispatch]);
  const [showTokens, setShowTokens] = useState(false);
  const [copied, copy] = useCopied();
  if (!m) return null;

  const isUser = m.role === 'user';
  const streaming = m.status === 'streaming';
  const who = isUser ? 'You' : m.role === 'assistant' ? assistantName : m.role;
  return (
    <article className={`message ${m.role}${flash ? ' flash' : ''}${streaming ? ' streaming' : ''}`} aria-label={isUser ? 'Your message' : `Reply from ${who}`} aria-busy={streaming || undefined} data-message-id={m.id}>
      <div className="message-meta">
        <span className="who">{who}</span>
        {!isUser && m.model && <span className="model">{modelLabel(m.model)}</span>}
      </div>
      {m.reasoning && <Reasoning text={m.reasoning} thinking={streaming && !m.content} />}
      {editing ? (
        <EditBox message={m} text={editText} onDone={() => setEditing(false)} />
      ) : isUser ? (
        <>
          <MessageImages message={m} />
          <MessageDocs message={m} />
          {m.content && <div className="bubble user-text">{m.content}</div>}
        </>
      ) : showTokens && probs && !streaming ? (
        <TokenProbs probs={probs} />
      ) : (
        <CitedMarkdown message={m} className={streaming ? 'with-caret' : undefined} />
      )}
      <ToolCalls message={m} />
      {!editing && m.role === 'assistant' && (
        <>
          <SourcesList message={m} />
          <Retrieved message={m} />
        </>
      )}
      {streaming && !m.content && !m.reasoning && modelLoading && <ModelLoadingNote model={modelLoading.loading?.path ?? m.model} progress={modelLoading.loading?.progress ?? null} />}
      {streaming && !m.content && !m.reasoning && !modelLoading && !m.toolCalls.length && (
        <p className="waiting" role="status">
          <span className="dots" aria-hidden="true" /> Waiting for the first token…
        </p>
      )}
      <StatusNote m={m} />
      {!editing && !streaming && (
        <div className="message-foot">
          {m.alternative.count > 1 && <AlternativesPager message={m} disabled={busy} />}
          <div role="group" aria-label="Message actions" className="actions">
            <button type="button" className="icon-button small" aria-label={copied ? 'Copied' : 'Copy message'} title="Copy" onClick={() => copy(m.content)}>
              <Icon name="copy" size={15} />
            </button>
            {isUser && (
              <button type="button" className="icon-button small" aria-label="Edit message" title="Edit" disabled={busy} onClick={() => {
                  dispatch(imagesSet(editKey(m.id), storedAttachments(m)));
                  dispatch(editDocsOpened(editKey(m.id), m));
                  setEditText(m.content);
                  setEditing(true);
                }}>
                <Icon name="edit" size={15} />
              </button>
            )}
            {m.role === 'assistant' && (
              <button type="button" className="icon-button small" aria-label="Regenerate reply" title="Regenerate" disabled={busy} onClick={() => void dispatch(regenerate({ threadId: m.threadId, messageId: m.id }))}>
                <Icon name="refresh" size={15} />
              </button>
            )}
            {probs && probs.length > 0 && (
              <button type="button" className="icon-button small" aria-label="Token probabilities" aria-pressed={showTokens} title="Token probabilities" onClick={() => setShowTokens(!showTokens)}>
                <Icon name="chart" size={15} />
              </button>
            )}
            {canContinue(m) && (
              <button type="button" className="icon-button small" aria-label="Continue reply" title="Continue" disabled={busy} onClick={() => void dispatch(continueReply({ threadId: m.threadId, messageId: m.id }))}>
                <Icon name="play" size={15} />
              </button>
            )}
          </div>
          {m.metrics && (
            <div className="metrics" role="note" aria-label="Reply metrics" title={metricsTitle(m.metrics)}>
              {metricsText(m.metrics)}
            </div>
          )}
          {m.metrics?.draftTokens && poorDraftAcceptance(m.metrics.draftTokens, m.metrics.acceptedTokens ?? 0) ? (
            <div className="metrics-advice" role="note" aria-label="Speculative decoding advice">
              {poorDraftAdvice()}
            </div>
          ) : null}
        </div>
      )}
    </article>
  );
});
