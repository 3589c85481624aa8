/**
 * main/abort.ts: a caller's wait on a shared promise ends at its abort, and the promise goes on for
 * the others (the header cache, the host start and model loads all wait this way).
 */
import { untilAborted } from '../../main/abort';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('without a signal it is the promise itself', () => {
  const d = deferred<number>();
  expect(untilAborted(d.promise, undefined)).toBe(d.promise);
});

test('settles as the promise does while the signal stays quiet', async () => {
  const ok = deferred<number>();
  const bad = deferred<number>();
  const ac = new AbortController();
  const a = untilAborted(ok.promise, ac.signal);
  const b = untilAborted(bad.promise, ac.signal);
  ok.resolve(7);
  bad.reject(new Error('boom'));
  await expect(a).resolves.toBe(7);
  await expect(b).rejects.toThrow('boom');
  let left = 0;
  untilAborted(Promise.resolve(1), ac.signal, { onAbort: () => left++ });
  await Promise.resolve();
  ac.abort(); // after the promise settled: the listener is gone
  expect(left).toBe(0);
});

test('an abort ends the wait with the reason given (the signal’s by default), runs onAbort once, and the promise goes on', async () => {
  const shared = deferred<string>();
  const ac = new AbortController();
  let left = 0;
  const own = untilAborted(shared.promise, ac.signal, { reason: () => new Error('mine'), onAbort: () => left++ });
  const plain = untilAborted(shared.promise, ac.signal);
  const other = untilAborted(shared.promise, new AbortController().signal);
  ac.abort(new Error('the signal’s'));
  await expect(own).rejects.toThrow('mine');
  await expect(plain).rejects.toThrow('the signal’s');
  expect(left).toBe(1);
  shared.resolve('done');
  await expect(other).resolves.toBe('done');
  expect(left).toBe(1);
});

test('an already aborted signal rejects at once, runs onAbort, and leaves no unhandled rejection behind', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const shared = deferred<string>();
    const ac = new AbortController();
    ac.abort(new Error('early'));
    let left = 0;
    await expect(untilAborted(shared.promise, ac.signal, { onAbort: () => left++ })).rejects.toThrow('early');
    expect(left).toBe(1);
    shared.reject(new Error('the shared job failed later'));
    await new Promise((r) => setImmediate(r));
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
