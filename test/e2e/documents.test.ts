/**
 * End to end in browser mode (`npm start`, the real engine host, store, reader thread and embedding
 * model; Debian's Chromium through playwright-core), documents: Settings → Documents picks the tiny
 * embedding model and the chunking; a long Markdown document attached in a new chat through the
 * composer's picker shows as a chip that is indexed (progress) and ready; a question with the needle's
 * words is sent; the reply's citation and its Sources list open the Passage panel on the chunk holding
 * the needle (marked, with its neighbours around it); "What was retrieved" lists how it was found; the
 * document removed from the chat is shown so and no longer given to the next turn.
 *
 * What is steered, and why: the chat model is TINY_BPE (random weights), which never writes "[1]" by
 * itself. `npm start` runs with NODE_OPTIONS=--require test/helpers/steer-reply.js, which acts only
 * in the engine host: while the file HEARTH_TEST_STEER_REPLY_FILE names exists, the next `chat` request
 * gets a JSON schema whose only value is a sentence citing source 1, as if main had sent it (`times: 1`;
 * the preload deletes the file once used), so the reply is that JSON string. (A JSON schema, not a
 * GBNF grammar: the engine ignores a chat request's grammar; and the BPE model, whose tokenizer splits
 * the template's generation prompt the way the schema's grammar expects, as test/engine/generation
 * notes.) The sources themselves are the app's own: retrieval is not steered. The embedding model's vectors carry no meaning (random weights): the needle's chunk comes
 * first by its keywords, and topK 12 makes the vector list cover the document's chunks too.
 * Screenshots: test-output/screenshots/e2e-documents-*.png.
 */
import { longDoc } from '../helpers/docs';
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { Locator, Page } from 'playwright-core';
import { BrowserMode, openBrowserMode, openSettings, seedDataDir, sendAndFinish as send, shot, untilWithShot } from '../helpers/browser-mode';
import { REPO_ROOT, TINY_BPE, TINY_EMBED } from '../helpers/models';

const WAIT = 60_000;
jest.setTimeout(120_000);

const STEER_JS = path.join(REPO_ROOT, 'test', 'helpers', 'steer-reply.js');
const CHAT_MODEL = 'tiny-chat-Q8_0.gguf';
const EMBED_MODEL = 'tiny-embed-f16.gguf';
const DOC = 'notes.md';
const NEEDLE = 'zanzibar quokka';
/** the section (1-based, as its heading says) that holds the needle */
const NEEDLE_SECTION = 8;
const QUESTION = `Where does the ${NEEDLE} live?`;
/** what the steered reply says: one sentence citing source 1 (the JSON string its schema allows) */
const CITED = 'It lives in Section 8 [1].';
const CITED_REPLY = JSON.stringify(CITED);

let e2e: BrowserMode;
let page: Page;
let steerDir: string;
let steerFile: string;




/** until(), with a screenshot of the page when it times out (test-output/screenshots/e2e-documents-timeout.png) */
const until = untilWithShot(() => page, 'documents', WAIT);
const sendAndFinish = (text: string, replyCount: number) => send(page, text, replyCount, until, WAIT);

const composer = () => page.getByRole('textbox', { name: 'Message', exact: true });
const messageLog = () => page.getByRole('log', { name: 'Messages' });
const replies = () => messageLog().getByRole('article', { name: /^Reply from / });
const mine = () => messageLog().getByRole('article', { name: 'Your message', exact: true });
const passagePanel = () => page.getByRole('complementary', { name: 'Passage', exact: true });
const composerChip = () => page.getByRole('list', { name: 'Attached documents' }).getByRole('listitem', { name: DOC, exact: true });
const messageChip = () => mine().first().getByRole('list', { name: 'Documents', exact: true }).getByRole('listitem', { name: DOC, exact: true });


beforeAll(async () => {
  steerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-e2e-steer-'));
  steerFile = path.join(steerDir, 'steer.json');
  e2e = await openBrowserMode({
    prefix: 'hearth-e2e-documents-',
    prepare(dataDir) {
      seedDataDir(dataDir, { [CHAT_MODEL]: TINY_BPE, [EMBED_MODEL]: TINY_EMBED }, { maxTokens: 8, temperature: 0 });
    },
    env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${STEER_JS}`.trim(), HEARTH_TEST_STEER_REPLY_FILE: steerFile },
  });
  page = await e2e.newPage({ width: 1280, height: 900 });
  await page.goto(e2e.url);
  await composer().waitFor({ timeout: WAIT });
  await until('the model picker to be enabled', () => page.getByRole('combobox', { name: 'Model' }).isEnabled());
});

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  if (steerDir) fs.rmSync(steerDir, { recursive: true, force: true });
  expect(stopped).toBe(true);
});

test('Settings → Documents: the embedding model and the chunking picked and saved', async () => {
  const embedPath = path.join(e2e.dataDir, 'models', EMBED_MODEL);
  const dialog = await openSettings(page, 'Documents');
  const form = dialog.getByRole('form', { name: 'Documents settings' });
  const status = dialog.getByRole('region', { name: 'Documents status' });
  await status.waitFor({ timeout: WAIT });
  // no documents yet, and no embedding model: keyword search only, and the status says why
  expect(await status.getByRole('note').textContent()).toMatch(/^Keyword search only: /);
  const embedding = form.getByRole('combobox', { name: 'Embedding model' });
  await until('the embedding model in the list', async () => (await embedding.locator(`option[value="${embedPath}"]`).count()) === 1);
  await embedding.selectOption(embedPath);
  await form.getByRole('spinbutton', { name: 'Chunk size (tokens)' }).fill('128');
  await form.getByRole('spinbutton', { name: 'Chunk overlap (tokens)' }).fill('16');
  await form.getByRole('spinbutton', { name: 'Passages per reply (top K)' }).fill('12');
  const save = form.getByRole('button', { name: 'Save documents settings' });
  await save.click();
  await until('"Saved."', async () => (await form.getByRole('status').textContent()) === 'Saved.');
  expect(await save.isDisabled()).toBe(true);
  // main took it: the vectors are on now
  await until('vectors on', async () => (await status.getByRole('note').count()) === 0);
  await status.scrollIntoViewIfNeeded();
  await shot(page, 'documents-settings');
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'detached' });

  // the settings as main keeps them (read back after a reload of the tab)
  const again = await openSettings(page, 'Documents');
  const form2 = again.getByRole('form', { name: 'Documents settings' });
  expect(await form2.getByRole('combobox', { name: 'Embedding model' }).inputValue()).toBe(embedPath);
  expect(await form2.getByRole('spinbutton', { name: 'Passages per reply (top K)' }).inputValue()).toBe('12');
  await again.getByRole('button', { name: 'Close' }).click();
  await again.waitFor({ state: 'detached' });
});

test('a document attached in a new chat: its chip shows indexing progress, then ready', async () => {
  const model = path.join(e2e.dataDir, 'models', CHAT_MODEL);
  const picker = page.getByRole('banner').getByRole('combobox', { name: 'Model' });
  await until('the chat model in the picker', async () => (await picker.locator(`option[value="${model}"]`).count()) === 1);
  await picker.selectOption(model);
  await until('the model loaded', async () => (await page.getByRole('meter', { name: 'Context used' }).count()) === 1);

  // what the chip said while it was indexed, however briefly (every state text, and whether a progress bar showed)
  await page.evaluate((name) => {
    const w = window as unknown as { chipStates: string[]; sawProgress: boolean };
    w.chipStates = [];
    w.sawProgress = false;
    new MutationObserver(() => {
      const chip = document.querySelector(`ul[aria-label="Attached documents"] li[aria-label="${name}"]`);
      const state = chip?.querySelector('[role="status"]')?.textContent ?? null;
      if (state !== null && w.chipStates[w.chipStates.length - 1] !== state) w.chipStates.push(state);
      if (chip?.querySelector(`progress[aria-label="Indexing ${name}"]`)) w.sawProgress = true;
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  }, DOC);
  await page.getByLabel('Choose files', { exact: true }).setInputFiles({ name: DOC, mimeType: 'text/markdown', buffer: Buffer.from(longDoc(12, NEEDLE, NEEDLE_SECTION - 1)) });
  const chip = composerChip();
  await chip.waitFor({ timeout: WAIT });
  expect(await chip.getByText('markdown', { exact: true }).count()).toBe(1);
  // a picture of the chip while it is embedded, when the page is quick enough to catch it (the asserts are below)
  const stateNow = () => chip.getByRole('status').textContent();
  await until('the chip to be embedded or ready', async () => /^(embedding|ready)/.test((await stateNow()) ?? ''));
  if (/^embedding/.test((await stateNow()) ?? '')) await shot(page, 'documents-indexing');
  await until('the chip to be ready', async () => (await chip.getByRole('status').textContent()) === 'ready');
  expect(await chip.getAttribute('aria-busy')).toBeNull();
  expect(await chip.getByRole('progressbar').count()).toBe(0);
  const seen = await page.evaluate(() => (window as unknown as { chipStates: string[]; sawProgress: boolean }).chipStates);
  const sawProgress = await page.evaluate(() => (window as unknown as { sawProgress: boolean }).sawProgress);
  // indexed in steps shown on the chip: extracted, then embedded with a progress bar, then ready
  expect(seen[seen.length - 1]).toBe('ready');
  expect(seen.some((s) => /^embedding/.test(s))).toBe(true);
  expect(sawProgress).toBe(true);
  await composer().fill(QUESTION);
  await shot(page, 'documents-chip');
});

test("the reply's citation and its Sources list open the passage: the needle's chunk marked, its neighbours around it", async () => {
  fs.writeFileSync(steerFile, JSON.stringify({ request: { jsonSchema: { type: 'string', enum: [CITED] }, maxTokens: 40 }, times: 1 }));
  const reply = await sendAndFinish(QUESTION, 1);
  // the steering was used (the preload deleted its file), and the reply says what it was steered to
  expect(fs.existsSync(steerFile)).toBe(false);
  expect((await reply.locator('.markdown').first().textContent())?.trim()).toBe(CITED_REPLY);
  // the composer's chip went with the message, which shows it ready
  expect(await page.getByRole('list', { name: 'Attached documents' }).count()).toBe(0);
  await until('the message chip ready', async () => (await messageChip().getByRole('status').textContent()) === 'ready');

  // the Sources list: retrieved passages of the document, the needle's section first
  const sources = reply.getByRole('region', { name: 'Sources', exact: true });
  const items = sources.getByRole('listitem');
  expect(await items.count()).toBeGreaterThan(1);
  for (const text of await items.allTextContents()) expect(text).toMatch(new RegExp(`^\\[\\d+\\] ${DOC.replace('.', '\\.')} · Section \\d+$`));
  expect(await items.first().textContent()).toBe(`[1] ${DOC} · Section ${NEEDLE_SECTION}`);

  // the citation in the reply's text: a button naming its source
  const cite = reply.getByRole('button', { name: `Source 1: ${DOC}`, exact: true });
  expect(await cite.textContent()).toBe('[1]');
  await cite.click();
  const panel = passagePanel();
  await panel.waitFor({ timeout: WAIT });
  await expectPassage(panel);
  await shot(page, 'documents-passage');
  await panel.getByRole('button', { name: 'Close passage' }).click();
  await panel.waitFor({ state: 'detached' });

  // the first source in the list opens the same passage; Escape closes it
  await items.first().getByRole('button').click();
  await panel.waitFor({ timeout: WAIT });
  await expectPassage(panel);
  await page.keyboard.press('Escape');
  await panel.waitFor({ state: 'detached' });
  // another source opens its own passage (not the needle's)
  await items.nth(1).getByRole('button').click();
  await panel.waitFor({ timeout: WAIT });
  await until('the second passage', async () => (await panel.locator('mark[aria-current="true"]').count()) === 1);
  expect(await panel.getByRole('heading', { level: 3 }).textContent()).toBe(`[2] ${DOC}`);
  expect(await panel.locator('mark[aria-current="true"]').textContent()).not.toContain(NEEDLE);
  await panel.getByRole('button', { name: 'Close passage' }).click();
  await panel.waitFor({ state: 'detached' });
});

/** The passage panel on source 1: the document's name, its heading, the needle's chunk marked with chunks before and after it. */
async function expectPassage(panel: Locator): Promise<void> {
  const cited = panel.locator('mark[aria-current="true"]');
  await until('the passage to load', async () => (await cited.count()) === 1 && (await panel.getByRole('status').count()) === 0);
  expect(await panel.getByRole('heading', { level: 3 }).textContent()).toBe(`[1] ${DOC}`);
  expect(await panel.getByText(`Section ${NEEDLE_SECTION}`, { exact: true }).count()).toBe(1);
  expect(await cited.textContent()).toContain(`The ${NEEDLE} lives here.`);
  // the cited chunk scrolled into the panel's view, and its name and Close still in view above it
  const box = (l: Locator) => l.boundingBox().then((b) => b!);
  const [panelBox, nameBox, closeBox, citedBox] = await Promise.all([box(panel), box(panel.getByRole('heading', { level: 3 })), box(panel.getByRole('button', { name: 'Close passage' })), box(cited)]);
  const within = (b: { y: number; height: number }) => b.y >= panelBox.y && b.y + b.height <= panelBox.y + panelBox.height;
  expect(within(nameBox) && within(closeBox)).toBe(true);
  expect(citedBox.y).toBeGreaterThan(nameBox.y + nameBox.height);
  expect(citedBox.y).toBeLessThan(panelBox.y + panelBox.height);
  // the chunks around it, in the document's order: before it and after it, none of them the cited one
  const around = await panel.locator('.passage-body').evaluate((body) => {
    const kids = Array.from(body.children);
    const at = kids.findIndex((k) => k.querySelector('mark[aria-current="true"]'));
    const text = (k: Element) => k.textContent ?? '';
    return { before: kids.slice(0, at).map(text), after: kids.slice(at + 1).map(text), context: body.querySelectorAll('.passage-context').length };
  });
  expect(around.before.length).toBeGreaterThan(0);
  expect(around.after.length).toBeGreaterThan(0);
  expect(around.context).toBe(around.before.length + around.after.length);
  for (const t of [...around.before, ...around.after]) {
    expect(t).toMatch(/\b(river|stone|lamp|orchard|window|bridge|harbor|meadow)\b/);
    expect(t).not.toContain(NEEDLE);
  }
}

test('"What was retrieved" lists every source with how it was found', async () => {
  const reply = replies().last();
  const toggle = reply.getByRole('button', { name: 'What was retrieved', exact: true });
  expect(await toggle.getAttribute('aria-expanded')).toBe('false');
  await toggle.click();
  expect(await toggle.getAttribute('aria-expanded')).toBe('true');
  const list = reply.getByRole('list', { name: 'Retrieved passages' });
  const sourceCount = await reply.getByRole('region', { name: 'Sources', exact: true }).getByRole('listitem').count();
  await expect(list.getByRole('listitem').count()).resolves.toBe(sourceCount);
  const first = list.getByRole('listitem', { name: `Source 1: ${DOC}`, exact: true });
  const scores = Object.fromEntries(
    await first.locator('dl.source-scores > div').evaluateAll((rows) => rows.map((r) => [r.querySelector('dt')?.textContent ?? '', r.querySelector('dd')?.textContent ?? ''])),
  ) as Record<string, string>;
  expect(scores).toEqual({
    Mode: 'retrieved',
    'Fused score': expect.stringMatching(/^0\.\d{4}$/),
    // the needle's words found it first
    'Keyword rank': '#1',
    // the vectors ranked it too (topK 12: 48 candidates, more than the document's chunks)
    'Vector rank': expect.stringMatching(/^#\d+$/),
    Distance: expect.stringMatching(/^\d+\.\d{3}$/),
    // no reranker set
    Rerank: '—',
  });
  expect(Number(scores['Fused score'])).toBeGreaterThan(0);
  expect(await first.getByRole('blockquote').textContent()).toContain(NEEDLE);
  await first.scrollIntoViewIfNeeded();
  await shot(page, 'documents-retrieved');
  await toggle.click();
  expect(await list.count()).toBe(0);
});

test('the document removed from the chat is shown removed, and the next reply has no sources', async () => {
  const chip = messageChip();
  await chip.getByRole('button', { name: 'Remove from chat', exact: true }).click();
  await until('the chip to say removed', async () => (await chip.getByRole('status').textContent()) === 'removed');
  // struck through, with nothing left to do to it
  expect(await chip.locator('s').textContent()).toBe(DOC);
  expect(await chip.getByRole('button').count()).toBe(0);
  await shot(page, 'documents-removed');

  const reply = await sendAndFinish(`And the ${NEEDLE} again?`, 2);
  expect(await reply.getByRole('region', { name: 'Sources', exact: true }).count()).toBe(0);
  expect(await reply.getByRole('button', { name: 'What was retrieved' }).count()).toBe(0);
  // the first reply keeps its sources
  expect(await replies().first().getByRole('region', { name: 'Sources', exact: true }).count()).toBe(1);

  // and so after a reload
  await page.reload();
  await composer().waitFor({ timeout: WAIT });
  await page.getByRole('list', { name: 'Chat list' }).getByRole('link').first().click();
  await until('the chip after a reload', async () => (await messageChip().getByRole('status').textContent().catch(() => null)) === 'removed');
  await shot(page, 'documents-removed-reload');
});
