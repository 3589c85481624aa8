/**
 * End to end: `npm start` in browser mode (no Electron binary, no display) with the real engine,
 * the real SQLite store and a generated tiny model, driven through Debian's Chromium with
 * playwright-core. Every control is found by its accessible role and name.
 *
 * The tests run in order on one page and build on each other: a long reply streams (frame times are
 * measured meanwhile) and is stopped; short replies then finish with metrics, are regenerated and
 * paged, edited; the chat is renamed and pinned; search finds it from another chat, which is then
 * deleted (with undo); a reload shows everything again; the theme switches to dark.
 *
 * Writes test-output/e2e-metrics.json (npm start → first contentful paint, frame times while a reply
 * streams) and screenshots of the main views to test-output/screenshots/e2e-*.png.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Locator, Page } from 'playwright-core';
import { BrowserMode, openBrowserMode, openSettings, shot, until } from '../helpers/browser-mode';
import { REPO_ROOT, TINY_BPE } from '../helpers/models';

const OUT = path.join(REPO_ROOT, 'test-output');
const METRICS_FILE = path.join(OUT, 'e2e-metrics.json');
/** the engine is real: loading, prompt processing and generation take real time on a shared machine */
const WAIT = 60_000;
/** how long frame times are recorded while a reply streams */
const FRAME_WINDOW_MS = 1500;
/** generous bound for headless Chromium without a GPU on a shared 2-core machine (the target is 16 ms) */
const FRAME_P95_BOUND_MS = 50;

jest.setTimeout(90_000);

let e2e: BrowserMode;
let page: Page;
const metrics: Record<string, unknown> = {};

// ---- helpers -------------------------------------------------------------------------------------

function stats(deltas: number[]): { frames: number; meanMs: number; p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number } {
  const s = [...deltas].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  const r = (n: number) => Math.round(n * 100) / 100;
  return {
    frames: s.length,
    meanMs: r(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)),
    p50Ms: r(at(0.5)),
    p95Ms: r(at(0.95)),
    p99Ms: r(at(0.99)),
    maxMs: r(s[s.length - 1] ?? 0),
  };
}

/** Records requestAnimationFrame deltas in the page for `ms`, then returns them. */
function recordFrames(p: Page, ms: number): Promise<number[]> {
  return p.evaluate(
    (windowMs) =>
      new Promise<number[]>((resolve) => {
        const deltas: number[] = [];
        let first = 0;
        let last = 0;
        const tick = (t: number) => {
          if (!first) first = t;
          else deltas.push(t - last);
          last = t;
          if (t - first >= windowMs) resolve(deltas);
          else requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      }),
    ms,
  );
}

// the page's main controls (accessible role and name)
const composer = () => page.getByRole('textbox', { name: 'Message', exact: true });
const sendButton = () => page.getByRole('button', { name: 'Send message', exact: true });
const stopButton = () => page.getByRole('button', { name: 'Stop generating', exact: true });
const messageLog = () => page.getByRole('log', { name: 'Messages' });
const lastArticle = () => messageLog().getByRole('article').last();
const chatList = () => page.getByRole('list', { name: 'Chat list' });
const chatItems = () => chatList().getByRole('listitem');
const metricsOf = (reply: Locator) => reply.getByRole('note', { name: 'Reply metrics' });
const pagerOf = (m: Locator) => m.getByRole('group', { name: 'Alternatives' });
/** a message's text (the reply's rendered Markdown, or the user's bubble) */
const bodyOf = (m: Locator) => m.locator('.markdown, .user-text').first();

async function isReply(l: Locator): Promise<boolean> {
  return /^Reply from /.test((await l.getAttribute('aria-label').catch(() => null)) ?? '');
}

/** Types into the composer and sends; returns the new reply (the last message, once it shows). */
async function send(text: string): Promise<Locator> {
  await composer().fill(text);
  await sendButton().click();
  await messageLog().getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: text }).last().waitFor({ timeout: WAIT });
  await until('the reply to appear', () => isReply(lastArticle()));
  return lastArticle();
}

/** Waits until the last reply finished (its metrics show and the composer can send again). */
async function finished(reply: Locator): Promise<string> {
  await metricsOf(reply).waitFor({ timeout: WAIT });
  await stopButton().waitFor({ state: 'detached', timeout: WAIT });
  const text = (await metricsOf(reply).textContent()) ?? '';
  expect(text).toMatch(/^\d[\d,]* tokens · \d+\.\d tok\/s · TTFT \d[\d,]* ms$/);
  return text;
}

// ---- setup ---------------------------------------------------------------------------------------

beforeAll(async () => {
  // the BPE model: its 128k-token output layer makes tokens slower than the SPM model's, so a long reply
  // on an idle machine still streams long enough to be stopped midway (the context holds 2,048 tokens).
  // Chromium is up before npm start: the first-paint measure is npm start → the app on screen
  e2e = await openBrowserMode({ prefix: 'hearth-e2e-', models: [TINY_BPE] });
  page = await e2e.newPage();
});

afterAll(async () => {
  fs.writeFileSync(METRICS_FILE, JSON.stringify({ ...metrics, cpus: os.cpus().length, chromium: e2e?.browser.version() ?? null }, null, 2) + '\n');
  const stopped = (await e2e?.close()) ?? true;
  // nothing of ours is left running
  expect(stopped).toBe(true);
});

// ---- tests ---------------------------------------------------------------------------------------

test('npm start → first contentful paint of the app in Chromium', async () => {
  const { url, spawnedAt, urlAt } = e2e;
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
  await page.goto(url);
  await page.waitForFunction(() => performance.getEntriesByType('paint').some((e) => e.name === 'first-contentful-paint'));
  await composer().waitFor();
  const readyAt = Date.now();
  const paint = await page.evaluate(() => ({
    timeOrigin: performance.timeOrigin,
    fcp: performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint')!.startTime,
  }));
  const firstPaint = {
    startToUrlMs: urlAt - spawnedAt,
    startToFirstContentfulPaintMs: Math.round(paint.timeOrigin + paint.fcp - spawnedAt),
    navigationToFirstContentfulPaintMs: Math.round(paint.fcp),
    startToComposerReadyMs: readyAt - spawnedAt,
  };
  metrics.firstPaint = firstPaint;
  expect(firstPaint.startToFirstContentfulPaintMs).toBeGreaterThan(firstPaint.startToUrlMs);
  await expect(page.getByRole('heading', { name: 'New chat' }).isVisible()).resolves.toBe(true);
  // the model list arrives after the first paint
  await until('the model picker to be enabled', () => page.getByRole('combobox', { name: 'Model' }).isEnabled());
});

test('create a chat: the reply streams (frame times measured), Stop keeps the text and marks it stopped', async () => {
  // idle frames first, for comparison
  metrics.idleFrames = stats(await recordFrames(page, 1000));

  let reply = await send('Tell me a long story about the zanzibar lighthouse keeper');
  // the new chat is in the list and opened
  await chatItems().first().waitFor({ timeout: WAIT });
  await expect(chatItems().count()).resolves.toBe(1);

  // by default a reply runs until the context (2048) is full, so it is long; the tiny model can still end one early
  // (a random end-of-text token): then regenerate and try again
  const textOf = async (l: Locator) => ((await bodyOf(l).textContent().catch(() => '')) ?? '').trim();
  const busy = async (l: Locator) => (await l.getAttribute('aria-busy').catch(() => null)) === 'true';
  let before = '';
  for (let attempt = 1; ; attempt++) {
    await until('the first tokens', async () => (await textOf(reply)).length > 0 || !(await busy(reply)));
    if (await busy(reply)) {
      const startLen = (await textOf(reply)).length;
      const deltas = await recordFrames(page, FRAME_WINDOW_MS);
      const endLen = (await textOf(reply)).length;
      if (await busy(reply)) {
        metrics.streamingFrames = { windowMs: FRAME_WINDOW_MS, charsStreamedInWindow: endLen - startLen, ...stats(deltas) };
        expect(endLen).toBeGreaterThan(startLen); // it really was streaming meanwhile
        await shot(page, 'streaming');
        before = await textOf(reply);
        let clicked = true;
        await stopButton().click({ timeout: 5000 }).catch(() => (clicked = false));
        if (clicked) break;
      }
    }
    if (attempt === 3) throw new Error('three replies in a row ended before they could be stopped');
    await finished(reply);
    await reply.getByRole('button', { name: 'Regenerate reply' }).click();
    const count = `${attempt + 1}/${attempt + 1}`;
    await until('the regenerated reply', async () => (await busy(lastArticle())) || (await pagerOf(lastArticle()).textContent().catch(() => null))?.replace(/\s/g, '') === count);
    reply = lastArticle();
  }

  // stopped midway: marked as stopped, can be continued, its text is kept
  await reply.getByText('Stopped.', { exact: true }).waitFor({ timeout: WAIT });
  await sendButton().waitFor();
  await expect(reply.getByRole('button', { name: 'Continue reply' }).isVisible()).resolves.toBe(true);
  expect(await reply.getAttribute('aria-busy')).toBeNull();
  const after = await textOf(reply);
  expect(before.length).toBeGreaterThan(0);
  expect(after.length).toBeGreaterThanOrEqual(Math.floor(before.length * 0.8)); // Markdown of a longer text renders alike
  metrics.stoppedReply = { chars: after.length, metrics: await metricsOf(reply).textContent().catch(() => null) };
  const m = metrics.streamingFrames as ReturnType<typeof stats>;
  expect(m.frames).toBeGreaterThan(10);
  expect(m.p95Ms).toBeLessThan(FRAME_P95_BOUND_MS);
});

test('settings: chat defaults are saved through the form (short replies from now on)', async () => {
  const dialog = await openSettings(page, 'Chat defaults');
  const maxTokens = dialog.getByRole('spinbutton', { name: 'Max tokens' });
  await expect(maxTokens.inputValue()).resolves.toBe('-1'); // the default: until the context is full
  await maxTokens.fill('24');
  await dialog.getByRole('button', { name: 'Save defaults' }).click();
  await dialog.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  await shot(page, 'settings');
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'detached' });
});

let firstReplyText = '';

test('send a message: the reply finishes with metrics (tokens, tok/s, TTFT)', async () => {
  const reply = await send('What did the pineapple merchant bring to the harbour?');
  const m = await finished(reply);
  const tokens = Number(m.split(' ')[0].replace(/,/g, ''));
  expect(tokens).toBeLessThanOrEqual(24);
  // cut at the limit (not ended by the model): the reply says so
  const why = reply.getByRole('note', { name: 'Why the reply stopped' });
  if (tokens === 24) await expect(why.textContent()).resolves.toMatch(/^Stopped at the max tokens limit/);
  else await expect(why.count()).resolves.toBe(0);
  firstReplyText = ((await bodyOf(reply).textContent()) ?? '').trim();
  await expect(reply.getByRole('button', { name: 'Copy message' }).isVisible()).resolves.toBe(true);
  // the header's context meter counts the conversation
  const meter = page.getByRole('meter', { name: 'Context used' });
  await until('the context meter to count the chat', async () => Number(await meter.getAttribute('aria-valuenow')) > 0);
  expect(Number(await meter.getAttribute('aria-valuemax'))).toBeGreaterThan(Number(await meter.getAttribute('aria-valuenow')));
  await shot(page, 'chat');
});

test('regenerate, then page through the alternatives', async () => {
  let reply = lastArticle();
  await reply.getByRole('button', { name: 'Regenerate reply' }).click();
  await until('the regenerated reply', async () => (await pagerOf(lastArticle()).textContent().catch(() => null))?.replace(/\s/g, '') === '2/2');
  reply = lastArticle();
  await finished(reply);
  const secondText = ((await bodyOf(reply).textContent()) ?? '').trim();
  const pager = pagerOf(reply);
  await expect(pager.getByRole('button', { name: 'Next alternative' }).isDisabled()).resolves.toBe(true);
  await shot(page, 'alternatives');

  await pager.getByRole('button', { name: 'Previous alternative' }).click();
  await until('alternative 1 of 2', async () => (await pagerOf(lastArticle()).textContent())?.replace(/\s/g, '') === '1/2');
  expect(((await bodyOf(lastArticle()).textContent()) ?? '').trim()).toBe(firstReplyText);
  await expect(pagerOf(lastArticle()).getByRole('button', { name: 'Previous alternative' }).isDisabled()).resolves.toBe(true);

  await pagerOf(lastArticle()).getByRole('button', { name: 'Next alternative' }).click();
  await until('alternative 2 of 2', async () => (await pagerOf(lastArticle()).textContent())?.replace(/\s/g, '') === '2/2');
  expect(((await bodyOf(lastArticle()).textContent()) ?? '').trim()).toBe(secondText);
});

let editedText = '';
let editedReplyText = '';

test('edit a message: it is replaced and answered again, the original kept as an alternative', async () => {
  const mine = messageLog().getByRole('article', { name: 'Your message', exact: true }).last();
  await mine.getByRole('button', { name: 'Edit message' }).click();
  const box = mine.getByRole('textbox', { name: 'Edit message' });
  await expect(box.inputValue()).resolves.toBe('What did the pineapple merchant bring to the harbour?');
  editedText = 'What did the pineapple merchant sell at the market?';
  await box.fill(editedText);
  await mine.getByRole('button', { name: 'Save and send' }).click();

  const edited = messageLog().getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: editedText });
  await edited.waitFor({ timeout: WAIT });
  await until('the edit as alternative 2 of 2', async () => (await pagerOf(edited).textContent().catch(() => null))?.replace(/\s/g, '') === '2/2');
  const reply = lastArticle();
  await until('the new reply', () => isReply(reply));
  await finished(reply);
  editedReplyText = ((await bodyOf(reply).textContent()) ?? '').trim();
  // the new reply is the only one under the edited message
  await expect(pagerOf(reply).count()).resolves.toBe(0);
});

let chatTitle = 'Zanzibar notes';

test('rename and pin a chat', async () => {
  const item = chatItems().first();
  await item.getByRole('button', { name: /^Rename / }).click();
  const title = page.getByRole('textbox', { name: 'Chat title' });
  await title.fill(chatTitle);
  await title.press('Enter');
  await chatList().getByRole('link', { name: chatTitle, exact: true }).waitFor();
  await page.getByRole('banner').getByText(chatTitle, { exact: true }).waitFor();

  await chatList().getByRole('button', { name: `Pin ${chatTitle}`, exact: true }).click();
  await chatList().getByRole('button', { name: `Unpin ${chatTitle}`, exact: true }).waitFor();
});

let otherTitle = '';

test('search finds a message from another chat and opens it there', async () => {
  await page.getByRole('button', { name: 'New chat', exact: true }).click();
  await page.getByRole('heading', { name: 'New chat' }).waitFor();
  const reply = await send('Kiwis are flightless birds that live in New Zealand');
  await finished(reply);
  await until('the second chat in the list', async () => (await chatItems().count()) === 2);
  // pinned first
  await expect(chatItems().first().getByRole('link').textContent()).resolves.toBe(chatTitle);
  // the model names the new chat after its first reply
  await until('the new chat to be named', async () => !['', 'New chat'].includes(((await chatItems().nth(1).getByRole('link').textContent()) ?? '').trim()));
  otherTitle = ((await chatItems().nth(1).getByRole('link').textContent()) ?? '').trim();

  const search = page.getByRole('searchbox', { name: 'Search chats' });
  await search.fill('pineapple');
  const results = page.getByRole('list', { name: 'Search results' });
  const hit = results.getByRole('button').filter({ hasText: chatTitle }).first();
  await hit.waitFor({ timeout: WAIT });
  await expect(page.getByRole('navigation', { name: 'Chats' }).getByRole('status').first().textContent()).resolves.toMatch(/^\d+ match(es)?$/);
  await expect(hit.locator('mark').first().textContent()).resolves.toMatch(/pineapple/i);
  await shot(page, 'search');

  await hit.click();
  await page.getByRole('banner').getByText(chatTitle, { exact: true }).waitFor();
  await messageLog().getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: editedText }).waitFor();
  await search.press('Escape');
  await chatList().waitFor();
  await expect(chatList().getByRole('link', { name: chatTitle, exact: true }).getAttribute('aria-current')).resolves.toBe('page');
});

test('delete a chat, undo, delete again: it is gone, and so are its messages', async () => {
  const search = page.getByRole('searchbox', { name: 'Search chats' });
  const searchStatus = page.getByRole('navigation', { name: 'Chats' }).getByRole('status');
  // its message can be found before the delete
  await search.fill('kiwis');
  await page.getByRole('list', { name: 'Search results' }).getByRole('button').filter({ hasText: otherTitle }).waitFor({ timeout: WAIT });
  await search.fill('');

  const other = chatItems().nth(1);
  await other.getByRole('button', { name: /^Delete / }).click();
  await until('the chat to leave the list', async () => (await chatItems().count()) === 1);
  const toasts = page.getByRole('status').filter({ hasText: `Deleted “${otherTitle}”` });
  await toasts.getByRole('button', { name: 'Undo' }).click();
  await until('the chat to come back', async () => (await chatItems().count()) === 2);
  await expect(chatItems().nth(1).getByRole('link').textContent()).resolves.toBe(otherTitle);

  await chatItems().nth(1).getByRole('button', { name: /^Delete / }).click();
  await until('the chat to leave the list', async () => (await chatItems().count()) === 1);
  // Dismiss ends the undo window at once: the delete is sent now
  await toasts.getByRole('button', { name: 'Dismiss' }).click();
  await toasts.waitFor({ state: 'detached' });
  // gone from the store too: search no longer finds its message
  await search.fill('kiwis');
  await searchStatus.filter({ hasText: 'No matches' }).waitFor({ timeout: WAIT });
  await search.fill('');
  await chatList().waitFor();
});

test('reload: chats, titles, pins, messages, stopped reply and alternatives are all still there', async () => {
  // what the first (stopped) reply showed before the reload
  await chatList().getByRole('link', { name: chatTitle, exact: true }).click();
  const stoppedBefore = messageLog().getByRole('article').filter({ hasText: 'Stopped.' });
  await stoppedBefore.waitFor({ timeout: WAIT });
  const stoppedText = ((await bodyOf(stoppedBefore).textContent()) ?? '').trim();

  await page.reload();
  await chatList().getByRole('link', { name: chatTitle, exact: true }).waitFor({ timeout: WAIT });
  await expect(chatItems().count()).resolves.toBe(1);
  await expect(chatList().getByRole('button', { name: `Unpin ${chatTitle}`, exact: true }).isVisible()).resolves.toBe(true);

  await chatList().getByRole('link', { name: chatTitle, exact: true }).click();
  const log = messageLog();
  await log.waitFor({ timeout: WAIT });
  const stopped = log.getByRole('article').filter({ hasText: 'Stopped.' });
  await stopped.waitFor();
  expect(await isReply(stopped)).toBe(true);
  expect(((await bodyOf(stopped).textContent()) ?? '').trim()).toBe(stoppedText);
  await expect(stopped.getByRole('button', { name: 'Continue reply' }).isVisible()).resolves.toBe(true);

  const edited = log.getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: editedText });
  await expect(pagerOf(edited).textContent().then((t) => t?.replace(/\s/g, ''))).resolves.toBe('2/2');
  const last = lastArticle();
  expect(await isReply(last)).toBe(true);
  expect(((await bodyOf(last).textContent()) ?? '').trim()).toBe(editedReplyText);
  await metricsOf(last).waitFor();

  // the original message is one page back, with its regenerated replies
  await pagerOf(edited).getByRole('button', { name: 'Previous alternative' }).click();
  await log.getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: 'bring to the harbour' }).waitFor();
  await until('the regenerated reply under the original', async () => (await pagerOf(lastArticle()).textContent().catch(() => null))?.replace(/\s/g, '') === '2/2');
  // and back to the edit
  const original = log.getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: 'bring to the harbour' });
  await pagerOf(original).getByRole('button', { name: 'Next alternative' }).click();
  await log.getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: editedText }).waitFor();
});

test('switch theme to dark (kept after a reload)', async () => {
  const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const lightBg = await bg();
  const dialog = await openSettings(page, 'Appearance');
  await dialog.getByRole('radio', { name: 'Dark' }).check();
  await until('the dark theme', async () => (await page.evaluate(() => document.documentElement.dataset.theme)) === 'dark');
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'detached' });
  const darkBg = await bg();
  expect(darkBg).not.toBe(lightBg);
  // dark means a dark background
  const [r, g, b] = (darkBg.match(/\d+/g) ?? []).map(Number);
  expect((r + g + b) / 3).toBeLessThan(80);
  await shot(page, 'dark');

  await page.reload();
  await chatList().waitFor({ timeout: WAIT });
  await expect(page.evaluate(() => document.documentElement.dataset.theme)).resolves.toBe('dark');
  const settings = await openSettings(page, 'Appearance');
  await expect(settings.getByRole('radio', { name: 'Dark' }).isChecked()).resolves.toBe(true);
  await settings.getByRole('button', { name: 'Close' }).click();
});

test('a reply that fills the context ends with a notice that leads to the model settings', async () => {
  // until the context is full again, and a small context (through the model's settings, reloaded)
  const defaults = await openSettings(page, 'Chat defaults');
  await defaults.getByRole('spinbutton', { name: 'Max tokens' }).fill('-1');
  await defaults.getByRole('button', { name: 'Save defaults' }).click();
  await defaults.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  await defaults.getByRole('tab', { name: 'Models', exact: true }).click();
  const models = defaults;
  await models.getByRole('form', { name: 'Load settings' }).waitFor({ timeout: WAIT });
  await models.getByRole('spinbutton', { name: 'Context length' }).fill('256');
  await models.getByRole('button', { name: 'Save and reload' }).click();
  const meter = page.getByRole('meter', { name: 'Context used' });
  await until('the model reloaded with 256 tokens', async () => (await meter.getAttribute('aria-valuemax').catch(() => null)) === '256', WAIT);
  await models.getByRole('button', { name: 'Close' }).click();
  await models.waitFor({ state: 'detached' });

  await page.getByRole('button', { name: 'New chat', exact: true }).click();
  await page.getByRole('heading', { name: 'New chat' }).waitFor();
  const reply = await send('Tell me everything you know, and then some more');
  await finished(reply);
  const why = reply.getByRole('note', { name: 'Why the reply stopped' });
  await expect(why.textContent()).resolves.toBe(
    "Stopped: the context (256 tokens) is full — raise Context length in the model's settings or start a new chat. Model settings",
  );
  await expect(reply.getByRole('button', { name: 'Continue reply' }).count()).resolves.toBe(0);
  await reply.scrollIntoViewIfNeeded();
  await shot(page, 'context-full');
  await why.getByRole('button', { name: 'Model settings' }).click();
  const dialog = page.getByRole('dialog', { name: 'Settings' });
  await until('the Models tab', async () => (await dialog.getByRole('tab', { name: 'Models', exact: true }).getAttribute('aria-selected')) === 'true');
  await expect(dialog.getByRole('spinbutton', { name: 'Context length' }).inputValue()).resolves.toBe('256');
  await dialog.getByRole('button', { name: 'Close' }).click();
});
