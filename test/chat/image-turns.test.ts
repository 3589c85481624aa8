/**
 * Images in chat turns, through the IPC entry point with the real store, the real engine host, the
 * tiny BPE model and the tiny generated projector paired by its folder (every image is
 * TINY_PROJECTOR_IMAGE_TOKENS image tokens): an image stored with images.store goes with its message
 * (stored with it, read by the model), the next turn finds the image in the thread's cache, an older
 * image that is gone or past one request's bounds is noted in its message while the thread goes on (what
 * the engine was asked is watched), the newest message's gone image fails the reply saying so, a
 * model without a projector refuses new images while a thread that has some goes on in text, and an
 * edit replaces a message's images (on a model without a projector it may keep or drop them, not bring one).
 * The room a turn makes in the shared KV cache (main/chat/sessions.ts) counts its images' tokens as the
 * engine counts them for their sizes: a thread whose images need more than its text's estimate saves an
 * idle thread first; when the engine cannot count them, the turn goes on with the text's estimate.
 */
import { imageNotShown } from '../../main/chat/history';
import fs from 'fs';
import path from 'path';
import { tokensNeeded } from '../../main/chat/sessions';
import { type ChatMessage, EngineError } from '../../main/engine/protocol';
import type { ImageAttachment, MessageDTO } from '../../main/ipc/contract';
import { silentLogger } from '../../main/logging';
import { CHAT_MODEL_ID } from '../../main/models/library';
import { chatChars, contentText, MAX_IMAGE_PIXELS, MAX_IMAGES, MAX_REQUEST_PIXELS } from '../../main/params';
import { type ChatApp, chatApp, nextDone } from '../helpers/chat';
import { errorOf } from '../helpers/engine';
import { pngDeclaring, testPng } from '../helpers/images';
import { copyModel, TINY_BPE, TINY_PROJECTOR, TINY_PROJECTOR_IMAGE_TOKENS, TINY_SPM } from '../helpers/models';

jest.setTimeout(120_000);

let a: ChatApp;
let plainPath: string;

beforeAll(async () => {
  a = chatApp({
    model: TINY_BPE,
    modelAs: 'tiny-vision-Q8_0.gguf',
    chatDefaults: { maxTokens: 6, temperature: 0, seed: 1 },
    prepare: (paths) => {
      fs.copyFileSync(TINY_PROJECTOR, path.join(paths.models, 'mmproj-tiny-vision-f16.gguf'));
      fs.mkdirSync(path.join(paths.models, 'plain'));
      copyModel(TINY_SPM, path.join(paths.models, 'plain', 'plain.gguf'));
    },
  });
  plainPath = path.join(a.paths.models, 'plain', 'plain.gguf');
  const state = await a.call('models.load', { path: a.modelPath });
  expect(state.loaded.projector).toBe(path.join(a.paths.models, 'mmproj-tiny-vision-f16.gguf'));
}, 120_000);
afterAll(() => a?.close());

async function store(tint: number, name: string): Promise<ImageAttachment> {
  return a.call('images.store', { name, data: testPng(tint).toString('base64') });
}

/** Sends a message and waits for its reply (and the title after a first one). */
async function send(threadId: string, content: string, attachments?: ImageAttachment[]): Promise<{ user: MessageDTO; reply: MessageDTO }> {
  const done = nextDone(a.app, threadId);
  const r = await a.call('chat.send', { threadId, content, ...(attachments ? { attachments } : {}) });
  const reply = await done;
  await a.app.chat.idle();
  return { user: r.userMessage, reply };
}

test('an image goes with its message: stored with it, read by the model, then found in the cache by the next turn', async () => {
  const photo = await store(11, 'photo.png');
  expect(photo).toMatchObject({ type: 'image', name: 'photo.png', mimeType: 'image/png', size: testPng(11).length });
  expect(fs.readdirSync(a.paths.images)).toEqual([`${photo.ref}.png`]);

  // the same question without the image, for the count
  const plain = await a.call('threads.create', {});
  const text = await send(plain.id, 'Describe it.');
  expect(text.reply.status).toBe('done');

  const t = await a.call('threads.create', {});
  const first = await send(t.id, 'Describe it.', [photo]);
  expect(first.reply.status).toBe('done');
  expect(first.user.attachments).toEqual([photo]);
  // the model read the image: its tokens are in the prompt
  expect(first.reply.metrics!.promptTokens).toBe(text.reply.metrics!.promptTokens + TINY_PROJECTOR_IMAGE_TOKENS);
  // stored with the message (SQLite), and what threads.get shows
  expect(a.app.store.messages.get(first.user.id).attachments).toEqual([photo]);
  const view = await a.call('threads.get', { id: t.id });
  expect(view.messages.find((m: MessageDTO) => m.id === first.user.id).attachments).toEqual([photo]);

  // the next turn sends the image again and finds the whole first prompt, the image's tokens with it, cached
  const second = await send(t.id, 'And the colours?');
  expect(second.reply.status).toBe('done');
  expect(second.reply.metrics!.cachedTokens).toBeGreaterThanOrEqual(first.reply.metrics!.promptTokens - 1);
  expect(second.reply.metrics!.promptTokens).toBeGreaterThan(second.reply.metrics!.cachedTokens);
  expect(first.reply.metrics!.promptTokens - 1).toBeGreaterThan(TINY_PROJECTOR_IMAGE_TOKENS);

  // read back for display: the file's bytes as a data: URL
  expect(await a.call('images.read', { ref: photo.ref })).toEqual({ url: `data:image/png;base64,${testPng(11).toString('base64')}` });
});

test('a message of images alone is sent; a message of neither is refused', async () => {
  const [x, y] = [await store(21, 'x.png'), await store(22, 'y.png')];
  const one = await send((await a.call('threads.create', {})).id, '', [x]);
  const t = await a.call('threads.create', {});
  const r = await send(t.id, '', [x, y]);
  expect(r.user).toMatchObject({ content: '', attachments: [x, y] });
  expect(r.reply.status).toBe('done');
  // the second image's tokens (and whatever the template puts between two images)
  expect(r.reply.metrics!.promptTokens - one.reply.metrics!.promptTokens).toBeGreaterThanOrEqual(TINY_PROJECTOR_IMAGE_TOKENS);
  const e = await errorOf(a.call('chat.send', { threadId: t.id, content: '  ' }));
  expect(e.code).toBe('invalid_input');
  expect(e.message).toMatch(/a message needs text, an image or a document/);
});

/** Watches what the engine is asked: the messages of the last chat request whose last message is the user's `text`. */
function watchEngine(): { received(text: string): ChatMessage[]; stop(): void } {
  const spy = jest.spyOn(a.engine, 'chat');
  return {
    received(text) {
      const asked = spy.mock.calls.map((c) => c[1].messages).filter((ms) => ms.length > 0 && ms[ms.length - 1].role === 'user' && contentText(ms[ms.length - 1].content) === text);
      expect(asked.length).toBeGreaterThan(0);
      return asked[asked.length - 1];
    },
    stop: () => spy.mockRestore(),
  };
}

const imagesIn = (ms: ChatMessage[]) => ms.flatMap((m) => (Array.isArray(m.content) ? m.content.filter((p) => p.type === 'image') : []));

test('an older image that is gone is noted and the thread goes on; a gone image of the newest message fails the reply until it is attached again', async () => {
  const engine = watchEngine();
  try {
    const gone = await store(31, 'holiday.png');
    const t = await a.call('threads.create', {});
    const first = await send(t.id, 'What is this?', [gone]);
    expect(first.reply.status).toBe('done');
    fs.rmSync(path.join(a.paths.images, `${gone.ref}.png`));
    // the next turn: the gone image is noted in its message, and the reply is written
    const next = await send(t.id, 'And now?');
    expect(next.reply.status).toBe('done');
    expect(engine.received('And now?').filter((m) => m.role === 'user').map((m) => m.content)).toEqual([`${imageNotShown('holiday.png')}\nWhat is this?`, 'And now?']);

    // the newest message's own image gone: its reply fails saying which
    const lost = await store(32, 'lost.png');
    const third = await send(t.id, 'This one?', [lost]);
    expect(third.reply.status).toBe('done');
    fs.rmSync(path.join(a.paths.images, `${lost.ref}.png`));
    const done = nextDone(a.app, t.id);
    await a.call('chat.regenerate', { threadId: t.id, messageId: third.reply.id });
    const failed = await done;
    await a.app.chat.idle();
    expect(failed.status).toBe('error');
    expect(failed.error).toMatch(/^image_missing: the image lost\.png is no longer in /);
    // attached again in a new message: stored again (the same file), it is read with both messages
    const again = await store(32, 'lost.png');
    expect(again.ref).toBe(lost.ref);
    const last = await send(t.id, 'Here it is again.', [again]);
    expect(last.reply.status).toBe('done');
    const asked = engine.received('Here it is again.');
    const file = { type: 'image', path: path.join(a.paths.images, `${again.ref}.png`) };
    expect(imagesIn(asked)).toEqual([file, file]);
    expect(asked.filter((m) => m.role === 'user').map((m) => contentText(m.content))).toEqual([`${imageNotShown('holiday.png')}\nWhat is this?`, 'And now?', 'This one?', 'Here it is again.']);
  } finally {
    engine.stop();
  }
});

test('a thread with more images than one request carries sends the newest that fit; the older are noted in their message', async () => {
  const engine = watchEngine();
  try {
    const [old, many, newest] = [await store(61, 'old.png'), await store(62, 'many.png'), await store(63, 'newest.png')];
    const file = (i: ImageAttachment) => ({ type: 'image', path: path.join(a.paths.images, `${i.ref}.png`) });
    const t = await a.call('threads.create', {});
    expect((await send(t.id, 'Oldest.', [old])).reply.status).toBe('done');
    // MAX_IMAGES in the thread: every one goes
    expect((await send(t.id, 'Many.', Array.from({ length: MAX_IMAGES - 1 }, () => many))).reply.status).toBe('done');
    expect(imagesIn(engine.received('Many.'))).toEqual([file(old), ...Array.from({ length: MAX_IMAGES - 1 }, () => file(many))]);
    // one more: the oldest no longer fits, and is noted
    const last = await send(t.id, 'Newest.', [newest]);
    expect(last.reply.status).toBe('done');
    const asked = engine.received('Newest.');
    expect(imagesIn(asked)).toEqual([...Array.from({ length: MAX_IMAGES - 1 }, () => file(many)), file(newest)]);
    expect(asked.find((m) => m.role === 'user')!.content).toBe(`${imageNotShown('old.png')}\nOldest.`);
    // the model read what was sent: 16 image tokens each
    expect(last.reply.metrics!.promptTokens).toBeGreaterThan(MAX_IMAGES * TINY_PROJECTOR_IMAGE_TOKENS);
  } finally {
    engine.stop();
  }
});

test('refusals: a ref that is no hash, an image never stored, more images than a message carries, more pixels than a request reads', async () => {
  const t = await a.call('threads.create', {});
  for (const ref of ['../hearth.db', 'A'.repeat(64), '0'.repeat(63)]) {
    expect((await errorOf(a.call('images.read', { ref }))).code).toBe('invalid_input');
  }
  const never: ImageAttachment = { type: 'image', ref: 'e'.repeat(64), name: 'never.png', mimeType: 'image/png', size: 10 };
  const e = await errorOf(a.call('chat.send', { threadId: t.id, content: 'look', attachments: [never] }));
  expect(e.code).toBe('image_missing');
  expect(e.message).toContain('never.png');
  const one = await store(41, 'one.png');
  const tooMany = Array.from({ length: MAX_IMAGES + 1 }, () => one);
  expect((await errorOf(a.call('chat.send', { threadId: t.id, content: 'look', attachments: tooMany }))).code).toBe('invalid_input');
  // three images of 8192 x 8192 (their headers say so): more pixels than the engine reads in one request
  const largest = await Promise.all([1, 2, 3].map((i) => a.call<ImageAttachment>('images.store', { name: `poster${i}.png`, data: pngDeclaring(8192, 8192, i).toString('base64') })));
  const px = await errorOf(a.call('chat.send', { threadId: t.id, content: 'look', attachments: largest }));
  expect(px).toEqual({ code: 'invalid_input', message: `these images hold ${3 * MAX_IMAGE_PIXELS} pixels together; one message may carry at most ${MAX_REQUEST_PIXELS} (send fewer or smaller ones)` });
  expect((await errorOf(a.call('images.store', { name: 'a.webp', data: Buffer.from('RIFF\0\0\0\0WEBPVP8 ').toString('base64') }))).message).toMatch(/PNG, JPEG, GIF or BMP/);
  // nothing was stored in the thread, and it takes a turn
  expect(a.app.store.messages.list(t.id)).toEqual([]);
  expect((await send(t.id, 'still here', [one])).reply.status).toBe('done');
});

test('a model without a projector refuses new images; a thread with images goes on in text', async () => {
  const photo = await store(51, 'cat.png');
  const t = await a.call('threads.create', {});
  const first = await send(t.id, 'A cat.', [photo]);
  expect(first.reply.status).toBe('done');

  const state = await a.call('models.load', { path: plainPath });
  expect(state.loaded.projector).toBeNull();
  const e = await errorOf(a.call('chat.send', { threadId: t.id, content: 'and this?', attachments: [photo] }));
  expect(e).toEqual({ code: 'invalid_input', message: 'this model does not read images; load a vision model with its projector (mmproj)' });
  expect(a.app.store.messages.list(t.id)).toHaveLength(2);
  // the history's image is left out: the text model answers the text
  const next = await send(t.id, 'Tell me more.');
  expect(next.reply.status).toBe('done');
  expect(next.reply.metrics!.promptTokens).toBeGreaterThan(0);
});

/** Edits a user message and waits for the new reply. */
async function edit(threadId: string, messageId: string, content: string, attachments?: ImageAttachment[]): Promise<{ user: MessageDTO; reply: MessageDTO }> {
  const done = nextDone(a.app, threadId);
  const r = await a.call('chat.edit', { threadId, messageId, content, ...(attachments ? { attachments } : {}) });
  const reply = await done;
  await a.app.chat.idle();
  return { user: r.userMessage, reply };
}

test("an edit replaces the message's images; on a model without a projector it may keep or drop them, not bring one", async () => {
  expect((await a.call('models.load', { path: a.modelPath })).loaded.projector).not.toBeNull();
  const [x, y, z] = [await store(71, 'x.png'), await store(72, 'y.png'), await store(73, 'z.png')];
  const file = (i: ImageAttachment) => ({ type: 'image', path: path.join(a.paths.images, `${i.ref}.png`) });
  const t = await a.call('threads.create', {});
  const first = await send(t.id, 'Two.', [x, y]);
  expect(first.reply.status).toBe('done');
  const engine = watchEngine();
  try {
    // y out, z in: the new version carries x and z (stored with it), and the model reads them
    const swapped = await edit(t.id, first.user.id, 'Two again.', [x, z]);
    expect(swapped.reply.status).toBe('done');
    expect(swapped.user.attachments).toEqual([x, z]);
    expect(a.app.store.messages.get(swapped.user.id).attachments).toEqual([x, z]);
    expect(a.app.store.messages.get(first.user.id).attachments).toEqual([x, y]);
    expect(imagesIn(engine.received('Two again.'))).toEqual([file(x), file(z)]);

    // a text model: an edit that keeps the images (left out, or given again) or drops some saves the text, which goes alone
    expect((await a.call('models.load', { path: plainPath })).loaded.projector).toBeNull();
    const kept = await edit(t.id, swapped.user.id, 'Kept.');
    expect(kept.reply.status).toBe('done');
    expect(kept.user.attachments).toEqual([x, z]);
    expect(imagesIn(engine.received('Kept.'))).toEqual([]);
    const same = await edit(t.id, kept.user.id, '', [x, z]);
    expect(same.reply.status).toBe('done');
    expect(same.user).toMatchObject({ content: '', attachments: [x, z] });
    const fewer = await edit(t.id, same.user.id, 'Fewer.', [z]);
    expect(fewer.reply.status).toBe('done');
    expect(fewer.user.attachments).toEqual([z]);
    expect(imagesIn(engine.received('Fewer.'))).toEqual([]);
    // one it did not have is refused, as a send's is, and nothing is stored
    const stored = a.app.store.messages.list(t.id);
    const e = await errorOf(a.call('chat.edit', { threadId: t.id, messageId: fewer.user.id, content: 'More.', attachments: [z, y] }));
    expect(e).toEqual({ code: 'invalid_input', message: 'this model does not read images; load a vision model with its projector (mmproj)' });
    expect(a.app.store.messages.list(t.id)).toEqual(stored);
  } finally {
    engine.stop();
  }
});

/** The room the last turn of a thread asked the sessions for (ThreadSessions.acquire's `need`). */
function roomAsked(spy: jest.SpyInstance, threadId: string): number {
  const calls = spy.mock.calls.filter((c) => c[0] === threadId);
  expect(calls.length).toBeGreaterThan(0);
  return calls[calls.length - 1][1] as number;
}

test("a turn's room counts its images' tokens: a thread whose images need more than its text's estimate saves an idle thread first", async () => {
  // a context where a long thread and the images' thread do not fit together
  await a.call('models.settings.update', { path: a.modelPath, settings: { contextSize: 1536 } });
  const state = await a.call('models.load', { path: a.modelPath });
  expect(state.loaded.projector).not.toBeNull();
  const acquire = jest.spyOn(a.app.sessions, 'acquire');
  const engine = watchEngine();
  try {
    const A = await a.call('threads.create', {});
    const long = Array.from({ length: 40 }, (_, i) => `alpha line ${i}: the quick brown fox jumps over the lazy dog.`).join('\n');
    const first = await send(A.id, long);
    expect(first.reply.status).toBe('done');
    const B = await a.call('threads.create', {});
    expect((await send(B.id, 'Hi.')).reply.status).toBe('done'); // its title is written now, not after the images' turn
    const kv = path.join(a.paths.sessions, `${A.id}.kv`);
    expect(fs.existsSync(kv)).toBe(false);

    // what the cache holds before B's turn with MAX_IMAGES images
    const before = await a.engine.contextInfo(CHAT_MODEL_ID);
    const free = before.contextSize - before.sequenceTokens.reduce((n, t) => n + t, 0);
    const heldByB = before.sequenceTokens[a.app.sessions.seqOf(B.id)!];
    const many = await store(71, 'many.png');
    const r = await send(B.id, 'Look.', Array.from({ length: MAX_IMAGES }, () => many));
    expect(r.reply.status).toBe('done');

    // the room asked for: the text's estimate and each image's tokens as the engine counts them for its size
    const [perImage] = await a.engine.imageTokens(CHAT_MODEL_ID, [{ width: many.width!, height: many.height! }]);
    expect(perImage).toBe(TINY_PROJECTOR_IMAGE_TOKENS);
    const estimate = tokensNeeded(chatChars(engine.received('Look.')), 6);
    const need = roomAsked(acquire, B.id);
    expect(need).toBe(estimate + MAX_IMAGES * perImage);
    // the model read them all: the images' tokens are in the prompt
    expect(r.reply.metrics!.promptTokens).toBeGreaterThan(MAX_IMAGES * perImage);
    // the text's estimate alone fit beside A's cache; with the images it did not: A was saved and its
    // sequence freed before the turn (not its cells dropped by the engine, unsaved)
    expect(estimate - heldByB).toBeLessThanOrEqual(free);
    expect(need - heldByB).toBeGreaterThan(free);
    expect(fs.statSync(kv).size).toBeGreaterThan(0);
    // and A's next turn restores it: its whole first prompt is cached
    const again = await send(A.id, 'and then?');
    expect(again.reply.metrics!.cachedTokens).toBeGreaterThanOrEqual(first.reply.metrics!.promptTokens - 1);
  } finally {
    engine.stop();
    acquire.mockRestore();
  }
});

test("when the engine cannot count a turn's images, the turn goes on with its text's estimate and a warning", async () => {
  const acquire = jest.spyOn(a.app.sessions, 'acquire');
  const counting = jest.spyOn(a.engine, 'imageTokens').mockRejectedValueOnce(new EngineError('internal', 'the count failed'));
  const warn = jest.spyOn(silentLogger, 'warn');
  const engine = watchEngine();
  try {
    const photo = await store(81, 'uncounted.png');
    const t = await a.call('threads.create', {});
    await send(t.id, 'Hello.'); // its title is written now (the title's request is not the turn's)
    const r = await send(t.id, 'Count this.', [photo]);
    expect(r.reply.status).toBe('done');
    expect(counting).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/images' tokens could not be counted.*the count failed/), expect.objectContaining({ threadId: t.id, images: 1 }));
    expect(roomAsked(acquire, t.id)).toBe(tokensNeeded(chatChars(engine.received('Count this.')), 6));
    // the next turn counts again (the image goes with the thread)
    const next = await send(t.id, 'And again.');
    expect(next.reply.status).toBe('done');
    expect(counting).toHaveBeenCalledTimes(2);
    expect(roomAsked(acquire, t.id)).toBe(tokensNeeded(chatChars(engine.received('And again.')), 6) + TINY_PROJECTOR_IMAGE_TOKENS);
  } finally {
    engine.stop();
    warn.mockRestore();
    counting.mockRestore();
    acquire.mockRestore();
  }
});
