/** The thread's messages in a virtualized log; each row is a memoized <MessageItem id>. Tool messages show in their call's card (features/tools). */
import { useCallback, useEffect } from 'react';
import { shallowEqual } from 'react-redux';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { VirtualList } from '../../components/VirtualList';
import { selectShownMessageIds } from '../tools/toolCalls';
import { jumpDone, selectIsStreaming } from './chatSlice';
import { MessageItem } from './MessageItem';

export function MessageList({ threadId }: { threadId: string }) {
  const ids = useAppSelector((s) => selectShownMessageIds(s, threadId), shallowEqual);
  const streaming = useAppSelector((s) => selectIsStreaming(s, threadId));
  const jump = useAppSelector((s) => (s.chat.jumpTo?.threadId === threadId ? s.chat.jumpTo : null));
  const dispatch = useAppDispatch();
  // the jumped-to message flashes once; then the request is forgotten (so it does not flash again when remounted)
  useEffect(() => {
    if (!jump) return;
    const t = setTimeout(() => dispatch(jumpDone()), 2500);
    return () => clearTimeout(t);
  }, [jump, dispatch]);
  const render = useCallback((id: string) => <MessageItem id={id} />, []);
  return (
    <VirtualList
      keys={ids}
      render={render}
      role="log"
      aria-label="Messages"
      className="message-list"
      resetKey={threadId}
      followSeq={ids.length}
      follow={streaming}
      scrollTo={jump ? { key: jump.messageId, seq: jump.seq } : null}
    />
  );
}
