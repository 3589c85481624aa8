/** @jest-environment jsdom */
/**
 * Events from main into the store: chat.piece events are batched per animation frame (N pieces in
 * one frame = one dispatch), chat.done replaces the reply and drops pieces still buffered, and the
 * list/model events update their slices. Uses the in-memory FakeBridge (the one allowed test double).
 */
import { setBridge } from '../../renderer/src/app/bridge';
import { PieceBatcher, startEvents } from '../../renderer/src/app/events';
import { makeStore } from '../../renderer/src/app/store';
import { loadThread } from '../../renderer/src/features/chat/chatSlice';
import { FakeBridge, message, thread } from './fake-bridge';

/** A manual animation frame: callbacks wait until the test calls frame(). */
function manualFrames() {
  let queue: (() => void)[] = [];
  return {
    schedule: (cb: () => void) => queue.push(cb),
    frame: () => {
      const q = queue;
      queue = [];
      q.forEach((cb) => cb());
    },
    get pending() {
      return queue.length;
    },
  };
}

test('PieceBatcher merges a frame of pieces per message into one flush', () => {
  const frames = manualFrames();
  const flushes: unknown[] = [];
  const b = new PieceBatcher((p) => flushes.push(p), frames.schedule);
  for (let i = 0; i < 50; i++) b.push({ threadId: 't', messageId: 'm', content: `${i},`, reasoning: '' });
  b.push({ threadId: 't', messageId: 'other', content: 'x', reasoning: 'r' });
  expect(flushes).toHaveLength(0);
  expect(frames.pending).toBe(1);
  frames.frame();
  expect(flushes).toHaveLength(1);
  const batch = flushes[0] as { messageId: string; content: string; reasoning: string }[];
  expect(batch).toHaveLength(2);
  expect(batch[0].content).toBe(Array.from({ length: 50 }, (_, i) => `${i},`).join(''));
  expect(batch[1]).toMatchObject({ messageId: 'other', content: 'x', reasoning: 'r' });
  frames.frame();
  expect(flushes).toHaveLength(1); // nothing new: no empty flush
});

test('with requestAnimationFrame (fake timers), a burst of pieces is one store update', () => {
  jest.useFakeTimers();
  try {
    const bridge = new FakeBridge();
    setBridge(bridge);
    const store = makeStore();
    store.dispatch(loadThread.fulfilled({ thread: thread({ id: 't1' }), messages: [message({ id: 'r', threadId: 't1', status: 'streaming' })] }, 'q', 't1'));
    let updates = 0;
    store.subscribe(() => updates++);
    const stop = startEvents(store.dispatch);
    for (const w of ['The ', 'quick ', 'brown ', 'fox']) bridge.emit('chat.piece', { threadId: 't1', messageId: 'r', content: w, reasoning: '' });
    expect(updates).toBe(0);
    jest.advanceTimersByTime(20); // jsdom's requestAnimationFrame runs on timers
    expect(updates).toBe(1);
    expect(store.getState().chat.messages.r.content).toBe('The quick brown fox');
    stop();
  } finally {
    jest.useRealTimers();
  }
});

test('chat.done drops buffered pieces and replaces the reply; thread and model events update the store', () => {
  const frames = manualFrames();
  const bridge = new FakeBridge();
  setBridge(bridge);
  const store = makeStore();
  const reply = message({ id: 'r', threadId: 't1', status: 'streaming' });
  store.dispatch(loadThread.fulfilled({ thread: thread({ id: 't1' }), messages: [reply] }, 'q', 't1'));
  const stop = startEvents(store.dispatch, frames.schedule);

  bridge.emit('chat.piece', { threadId: 't1', messageId: 'r', content: 'partial', reasoning: '' });
  bridge.emit('chat.done', { threadId: 't1', message: { ...reply, status: 'done', content: 'complete answer' } });
  frames.frame();
  expect(store.getState().chat.messages.r).toMatchObject({ status: 'done', content: 'complete answer' });
  // the header's meter is not polled: main pushes models.state with the context use after a reply
  expect(bridge.callsTo('models.state')).toHaveLength(0);

  // invalid payloads are dropped by the bridge's schema check
  bridge.emit('chat.piece', { threadId: 't1' });
  frames.frame();

  bridge.emit('threads.changed', { thread: thread({ id: 'n', title: 'Named by the model' }) });
  expect(store.getState().threads.entities.n?.title).toBe('Named by the model');
  bridge.emit('threads.deleted', { id: 'n' });
  expect(store.getState().threads.entities.n).toBeUndefined();
  bridge.emit('models.state', { loaded: null, loading: { path: '/m/a.gguf', progress: 0.4 }, error: null });
  expect(store.getState().models.state.loading?.progress).toBe(0.4);

  stop();
  bridge.emit('threads.changed', { thread: thread({ id: 'late' }) });
  expect(store.getState().threads.entities.late).toBeUndefined();
});
