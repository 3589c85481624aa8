/**
 * The message box: Enter sends and Shift+Enter adds a line (or, with "Enter sends" off in the
 * settings, Ctrl+Enter sends and Enter adds a line), Stop while a reply streams, the draft's token count.
 */
import { FormEvent, KeyboardEvent, useEffect, useRef, useState } from 'react';
import { formatInt } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { isSendKey, messageKeys } from '../../app/shortcuts';
import { Icon } from '../../components/Icon';
import { selectSendOnEnter } from '../settings/settingsSlice';
import { draftEdited, NEW_CHAT, selectDraftCount, selectIsSending, selectIsStreaming, sendMessage, stopGeneration } from './chatSlice';

/** Drafts per thread (NEW_CHAT for the new-chat screen), kept while the app runs. */
const drafts = new Map<string, string>();

export function Composer({ threadId }: { threadId: string | null }) {
  const key = threadId ?? NEW_CHAT;
  const dispatch = useAppDispatch();
  const [text, setText] = useState(() => drafts.get(key) ?? '');
  const keyRef = useRef(key);
  const streaming = useAppSelector((s) => selectIsStreaming(s, threadId));
  const sending = useAppSelector((s) => selectIsSending(s, key));
  const focus = useAppSelector((s) => s.ui.focus);
  const sendOnEnter = useAppSelector(selectSendOnEnter);
  const ref = useRef<HTMLTextAreaElement>(null);
  // the draft's token count: counted by the listener once the typing pauses (./listeners.ts)
  const count = useAppSelector((s) => selectDraftCount(s, key));
  useEffect(() => {
    dispatch(draftEdited({ key, threadId, text }));
  }, [dispatch, key, threadId, text]);

  useEffect(() => {
    if (keyRef.current === key) return;
    keyRef.current = key;
    setText(drafts.get(key) ?? '');
  }, [key]);

  useEffect(() => {
    if (focus?.target === 'composer') ref.current?.focus();
  }, [focus]);

  const update = (v: string) => {
    setText(v);
    if (v) drafts.set(key, v);
    else drafts.delete(key);
  };

  const send = async () => {
    const content = text.trim();
    if (!content || streaming || sending) return;
    update('');
    const r = await dispatch(sendMessage({ threadId, content }));
    if (sendMessage.rejected.match(r)) {
      // give the text back, to the thread that was created for it if there is one
      const target = (r.payload as { threadId?: string | null } | undefined)?.threadId ?? key;
      drafts.set(target, text);
      if (keyRef.current === target) setText(text);
    }
    ref.current?.focus();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (isSendKey(e.nativeEvent, sendOnEnter)) {
      e.preventDefault();
      void send();
    }
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void send();
  };

  const hintId = `composer-hint-${key}`;
  const keys = messageKeys(sendOnEnter);
  return (
    <form className="composer" aria-label="Message composer" onSubmit={onSubmit}>
      <div className="composer-box">
        <textarea
          ref={ref}
          aria-label="Message"
          aria-describedby={hintId}
          placeholder="Message Hearth…"
          rows={1}
          value={text}
          onChange={(e) => update(e.target.value)}
          onKeyDown={onKeyDown}
        />
        {streaming ? (
          <button type="button" className="send-button stop" aria-label="Stop generating" title="Stop" onClick={() => {
              ref.current?.focus(); // this button goes away with the reply
              if (threadId) void dispatch(stopGeneration(threadId));
            }}>
            <Icon name="stop" />
          </button>
        ) : (
          <button type="submit" className="send-button" aria-label="Send message" title={`Send (${keys.send.join('+')})`} disabled={!text.trim() || sending}>
            <Icon name="send" />
          </button>
        )}
      </div>
      <div className="composer-hint" id={hintId}>
        <span aria-label="Draft token count">
          {count.estimated ? '≈ ' : ''}
          {formatInt(count.tokens)} {count.tokens === 1 ? 'token' : 'tokens'}
        </span>
        <span className="muted">
          {keys.send.join('+')} to send · {keys.newLine.join('+')} for a new line
        </span>
      </div>
    </form>
  );
}
