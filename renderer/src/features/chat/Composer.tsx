/**
 * The message box: Enter sends and Shift+Enter adds a line (or, with "Enter sends" off in the
 * settings, Ctrl+Enter sends and Enter adds a line), Stop while a reply streams, the draft's token
 * count, and images and documents attached by the picker, a paste or a drop (./useAttachImages.ts,
 * ./Images.tsx, ../documents/DocChips.tsx): a message may carry documents alone.
 */
import { FormEvent, KeyboardEvent, useEffect, useRef, useState } from 'react';
import { formatInt } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { isSendKey, messageKeys } from '../../app/shortcuts';
import { Icon } from '../../components/Icon';
import { selectSendOnEnter } from '../settings/settingsSlice';
import { draftEdited, NEW_CHAT, selectDraftCount, selectIsSending, selectIsStreaming, sendMessage, stopGeneration } from './chatSlice';
import { AttachButton, ComposerImages } from './Images';
import { attachmentsOf, imagesReturned, imagesTaken } from './imagesSlice';
import { useAttachImages } from './useAttachImages';
import { ComposerDocs } from '../documents/DocChips';
import { docAttachmentsOf, docsReturned, docsTaken } from '../documents/docsSlice';

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
  const { images, docs, storing, dragging, attachButton, onPaste, dropTarget } = useAttachImages(key, { documents: true });
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

  const canSend = (text.trim().length > 0 || images.length > 0 || docAttachmentsOf(docs).length > 0) && !storing && !sending;

  const send = async () => {
    const content = text.trim();
    if (!canSend || streaming) return;
    update('');
    const taken = images;
    dispatch(imagesTaken(key));
    const takenDocs = docs;
    dispatch(docsTaken(key));
    const attachments = attachmentsOf(taken);
    const documents = docAttachmentsOf(takenDocs);
    const r = await dispatch(sendMessage({ threadId, content, ...(attachments.length ? { attachments } : {}), ...(documents.length ? { documents } : {}) }));
    if (sendMessage.rejected.match(r)) {
      // give the text and the images back, to the thread that was created for them if there is one
      const target = (r.payload as { threadId?: string | null } | undefined)?.threadId ?? key;
      if (text) drafts.set(target, text);
      if (keyRef.current === target) setText(text);
      if (taken.length) dispatch(imagesReturned({ key: target, images: taken }));
      if (takenDocs.length) dispatch(docsReturned({ key: target, docs: takenDocs }));
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
    <form
      className={`composer${dragging ? ' dragging' : ''}`}
      aria-label="Message composer"
      onSubmit={onSubmit}
      {...dropTarget}
    >
      <ComposerImages composerKey={key} />
      <ComposerDocs composerKey={key} />
      <div className="composer-box">
        <AttachButton {...attachButton} documents />
        <textarea
          ref={ref}
          aria-label="Message"
          aria-describedby={hintId}
          placeholder="Message Hearth…"
          rows={1}
          value={text}
          onChange={(e) => update(e.target.value)}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
        />
        {streaming ? (
          <button key="stop" type="button" className="send-button stop" aria-label="Stop generating" title="Stop" onClick={() => {
              ref.current?.focus(); // this button goes away with the reply
              if (threadId) void dispatch(stopGeneration(threadId));
            }}>
            <Icon name="stop" />
          </button>
        ) : (
          <button key="send" type="submit" className="send-button" aria-label="Send message" title={`Send (${keys.send.join('+')})`} disabled={!canSend}>
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
