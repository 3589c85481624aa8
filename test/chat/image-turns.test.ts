/**
 * Images in chat turns, through the IPC entry point with the real store, the real engine host, the
 * tiny BPE model and the tiny generated projector paired by its folder (every image is
 * TINY_PROJECTOR_IMAGE_TOKENS image tokens): an image stored with images.store goes with its message
 * (stored with it, read by the model), the next turn finds the image in the thread's cache, a stored
 * image that is gone fails the reply saying so, and a model without a projector refuses new images
 * while a thread that has some goes on in text.
 */
import fs from 'fs';
import path from 'path';
import type { ImageAttachment, MessageDTO } from '../../main/ipc/contract';
import { MAX_IMAGES } from '../../main/params';
import { type ChatApp, chatApp, nextDone } from '../helpers/chat';
import { errorOf } from '../helpers/engine';
import { testPng } from '../helpers/images';
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
  expect(e.message).toMatch(/a message needs text or an image/);
});

test('a stored image that is gone fails the reply saying which; the thread goes on once the message is edited', async () => {
  const gone = await store(31, 'holiday.png');
  const t = await a.call('threads.create', {});
  const first = await send(t.id, 'What is this?', [gone]);
  expect(first.reply.status).toBe('done');
  fs.rmSync(path.join(a.paths.images, `${gone.ref}.png`));
  const next = await send(t.id, 'And now?');
  expect(next.reply.status).toBe('error');
  expect(next.reply.error).toMatch(/^image_missing: the image holiday\.png is no longer in /);
  // a new image for the message: the conversation reads again
  const fresh = await store(32, 'fresh.png');
  const done = nextDone(a.app, t.id);
  const edited = await a.call('chat.edit', { threadId: t.id, messageId: first.user.id, content: 'What is this?', attachments: [fresh] });
  expect(edited.userMessage.attachments).toEqual([fresh]);
  expect((await done).status).toBe('done');
});

test('refusals: a ref that is no hash, an image never stored, more images than a conversation carries', async () => {
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
