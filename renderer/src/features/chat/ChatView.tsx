/** The main area: the opened thread's messages (or the new-chat screen), inline errors and the composer. */
import { describeError } from '../../app/errors';
import { modelLabel } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { openDialog, pageShown } from '../../app/uiSlice';
import { assistantPicked, selectAssistantForNew, selectAssistants } from '../assistants/assistantsSlice';
import { selectDefaultModelPath } from '../models/modelsSlice';
import { selectNewChatRemote, selectRemoteLabel } from '../providers/providersSlice';
import { selectFontSize } from '../settings/settingsSlice';
import { selectSelectedThreadId } from '../threads/threadsSlice';
import { FirstRun } from '../welcome/Welcome';
import { errorCleared, loadThread, NEW_CHAT, selectChatError, selectIsSending, selectThreadMessages } from './chatSlice';
import { Composer } from './Composer';
import { PassagePanel } from '../documents/PassagePanel';
import { MessageList } from './MessageList';

export function ChatError({ errorKey }: { errorKey: string }) {
  const err = useAppSelector((s) => selectChatError(s, errorKey));
  const dispatch = useAppDispatch();
  const found = useAppSelector((s) => s.welcome.discovery.result?.models.length ?? 0);
  if (!err) return null;
  return (
    <div className="chat-error" role="alert">
      <span>
        {describeError(err)}
        {err.code === 'no_models' && found > 0 && ' Or Add one of the models found on this computer, listed above.'}
      </span>
      {err.code === 'no_models' && (
        <>
          <button type="button" className="button small primary" onClick={() => dispatch(pageShown('hub'))}>
            Find models
          </button>
          <button type="button" className="button small" onClick={() => dispatch(openDialog({ name: 'settings', section: 'models' }))}>
            Models folder…
          </button>
        </>
      )}
      <button type="button" className="button small" onClick={() => dispatch(errorCleared(errorKey))}>
        Dismiss
      </button>
    </div>
  );
}

function NewChat() {
  const dispatch = useAppDispatch();
  const assistants = useAppSelector(selectAssistants);
  const chosen = useAppSelector(selectAssistantForNew);
  const models = useAppSelector((s) => s.models.list);
  const listStatus = useAppSelector((s) => s.models.listStatus);
  const modelPath = useAppSelector(selectDefaultModelPath);
  const loadedPath = useAppSelector((s) => s.models.state.loaded?.path ?? null);
  const loading = useAppSelector((s) => s.models.state.loading);
  // a remote model picked in the header: the chat's messages go to its provider
  const remote = useAppSelector(selectNewChatRemote);
  const remoteLabel = useAppSelector((s) => (remote ? selectRemoteLabel(s, remote) : null));

  // no model yet: the first-run view (models found on this computer, recommended ones)
  if (listStatus === 'ready' && models.length === 0 && !remote) return <FirstRun />;

  let modelNote: string | null = null;
  if (remoteLabel) modelNote = `Replies come from ${remoteLabel}.`;
  else if (chosen?.modelPath) modelNote = `${chosen.name} uses ${modelLabel(chosen.modelPath)}.`;
  else if (modelPath && loading?.path === modelPath) modelNote = `Loading ${modelLabel(modelPath)}… ${Math.round(loading.progress * 100)}%`;
  else if (modelPath && !loadedPath && !loading) modelNote = `${modelLabel(modelPath)} is loaded when you send.`;
  else if (!modelPath && models.length > 1) modelNote = 'Pick a model in the header to start.';

  return (
    <section className="new-chat" aria-labelledby="new-chat-title">
      <h2 id="new-chat-title">New chat</h2>
      <p className="muted">{remote ? 'Your messages are sent to the remote provider.' : 'Everything stays on this computer.'}</p>
      {assistants.length > 0 && (
        <fieldset className="assistant-pick">
          <legend>Assistant</legend>
          {assistants.map((a) => (
            <label key={a.id} className={`assistant-card${chosen?.id === a.id ? ' checked' : ''}`}>
              <input type="radio" name="assistant-for-new" checked={chosen?.id === a.id} onChange={() => dispatch(assistantPicked(a.id))} />
              <span className="emoji" aria-hidden="true">
                {a.emoji}
              </span>
              <span className="assistant-text">
                <span className="name">{a.name}</span>
                <span className="desc">{a.instructions.split('\n')[0] || 'No instructions'}</span>
              </span>
            </label>
          ))}
        </fieldset>
      )}
      {modelNote && <p className="model-note">{modelNote}</p>}
    </section>
  );
}

function ThreadBody({ threadId }: { threadId: string }) {
  const t = useAppSelector((s) => selectThreadMessages(s, threadId));
  // a new chat's thread exists a moment before its first message: show nothing rather than "No messages"
  const sending = useAppSelector((s) => selectIsSending(s, threadId) || selectIsSending(s, NEW_CHAT));
  const dispatch = useAppDispatch();
  if (!t || (t.status === 'loading' && t.ids.length === 0)) {
    return (
      <p className="center muted" role="status">
        Loading the chat…
      </p>
    );
  }
  if (t.status === 'error' && t.ids.length === 0) {
    return (
      <div className="center" role="alert">
        <p>Could not open this chat: {t.error}</p>
        <button type="button" className="button" onClick={() => void dispatch(loadThread(threadId))}>
          Try again
        </button>
      </div>
    );
  }
  if (t.ids.length === 0) {
    if (sending) return null;
    return (
      <p className="center muted" role="status">
        No messages yet.
      </p>
    );
  }
  return <MessageList threadId={threadId} />;
}

export function ChatView() {
  const threadId = useAppSelector(selectSelectedThreadId);
  // the chat's text size (Settings → Appearance); the messages and the message box inherit it
  const fontSize = useAppSelector(selectFontSize);
  return (
    <main className="chat" aria-label="Chat" style={{ fontSize: `${fontSize}px` }}>
      <div className="chat-body">{threadId ? <ThreadBody threadId={threadId} /> : <NewChat />}</div>
      <div className="chat-bottom">
        <ChatError errorKey={threadId ?? NEW_CHAT} />
        <Composer threadId={threadId} />
      </div>
      <PassagePanel />
    </main>
  );
}
