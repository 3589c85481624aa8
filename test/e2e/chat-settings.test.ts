/**
 * End to end: the chat settings work, with `npm start` in browser mode, the real engine, the real
 * store (SQLite) and two generated tiny models, driven through Debian's Chromium with playwright-core.
 * Every control is found by its accessible role and name.
 *
 * The tests run in order on one page: the default model is the one a new chat loads and answers
 * with; with "Enter sends" off Enter adds a line and Ctrl+Enter sends; the text size applies to the
 * messages and the message box (and is kept after a reload); a reply's reasoning is folded until
 * "Show reasoning open" is on. The reply with reasoning is written into the data folder's database
 * with the store before the server starts (the tiny models' random weights do not think).
 * Screenshots go to test-output/screenshots/e2e-chat-settings-*.png.
 */
import path from 'path';
import { Locator, Page } from 'playwright-core';
import { dataPaths } from '../../main/paths';
import { Store } from '../../main/store';
import { BrowserMode, openBrowserMode, openSettings, shot, SHOTS, until } from '../helpers/browser-mode';
import { TINY_BPE, TINY_SPM } from '../helpers/models';

const WAIT = 60_000;
const REASONING = 'First I count the legs of the spider.';
const REASONING_THREAD = 'Spider legs';

jest.setTimeout(120_000);

let e2e: BrowserMode;
let page: Page;

const composer = () => page.getByRole('textbox', { name: 'Message', exact: true });
const messageLog = () => page.getByRole('log', { name: 'Messages' });
const lastArticle = () => messageLog().getByRole('article').last();
const userMessages = () => messageLog().getByRole('article', { name: 'Your message', exact: true });
const stopButton = () => page.getByRole('button', { name: 'Stop generating', exact: true });

async function closeSettings(dialog: Locator): Promise<void> {
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'detached' });
}

/** Waits until the last reply finished (its metrics show and Stop is gone). */
async function finished(): Promise<void> {
  await until('a reply', async () => /^Reply from /.test((await lastArticle().getAttribute('aria-label').catch(() => null)) ?? ''));
  await lastArticle().getByRole('note', { name: 'Reply metrics' }).waitFor({ timeout: WAIT });
  await stopButton().waitFor({ state: 'detached', timeout: WAIT });
}

/** Opens the chat of the first test (its title is the model's: it is the chat that is not the reasoning one), once its reply shows. */
async function openChat(): Promise<void> {
  await page.getByRole('list', { name: 'Chat list' }).getByRole('link').filter({ hasNotText: REASONING_THREAD }).first().click();
  await lastArticle().getByRole('note', { name: 'Reply metrics' }).waitFor({ timeout: WAIT });
}

const fontSizeOf = (l: Locator) => l.evaluate((el) => getComputedStyle(el).fontSize);

beforeAll(async () => {
  e2e = await openBrowserMode({
    prefix: 'hearth-e2e-prefs-',
    models: [TINY_BPE, TINY_SPM],
    // a chat whose reply has reasoning, written with the store before the server opens the database
    prepare(dataDir) {
      const store = Store.open(dataPaths(dataDir).database);
      try {
        const t = store.threads.create({ title: REASONING_THREAD });
        store.messages.add({ threadId: t.id, role: 'user', content: 'How many legs does a spider have?' });
        store.messages.add({ threadId: t.id, role: 'assistant', content: 'Eight.', reasoning: REASONING, status: 'done' });
      } finally {
        store.close();
      }
    },
  });
  page = await e2e.newPage();
  await page.goto(e2e.url);
  await composer().waitFor({ timeout: WAIT });
});

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  expect(stopped).toBe(true);
});

test('the default model: a new chat starts with it, loaded when the first message is sent', async () => {
  const spm = path.join(e2e.dataDir, 'models', path.basename(TINY_SPM));
  // two models, none loaded: a new chat has to be told which
  await page.getByText('Pick a model in the header to start.').waitFor({ timeout: WAIT });
  const dialog = await openSettings(page, 'Chat defaults');
  const choice = dialog.getByRole('combobox', { name: 'Model for new chats' });
  await choice.selectOption({ label: 'tiny-spm' });
  // short replies from now on (typed once the form shows the saved defaults: on a loaded machine they
  // can arrive after the dialog opens, and would replace what was typed before)
  const maxTokens = dialog.getByRole('spinbutton', { name: 'Max tokens' });
  await until('the saved defaults in the form', async () => (await maxTokens.inputValue()) === '-1');
  await maxTokens.fill('12');
  await expect(maxTokens.inputValue()).resolves.toBe('12');
  await dialog.getByRole('button', { name: 'Save defaults' }).click();
  await dialog.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  await shot(page, 'chat-settings-chat');
  await dialog.getByRole('group', { name: 'Chat', exact: true }).screenshot({ path: path.join(SHOTS, 'e2e-chat-settings-prefs.png') });
  await closeSettings(dialog);
  await page.getByText('tiny-spm is loaded when you send.').waitFor();

  await composer().fill('Which model are you?');
  await page.getByRole('button', { name: 'Send message', exact: true }).click();
  await finished();
  await expect(page.getByRole('combobox', { name: 'Model' }).inputValue()).resolves.toBe(spm);
  await expect(lastArticle().textContent()).resolves.toContain('tiny-spm');

  // kept after a reload
  await page.reload();
  await composer().waitFor({ timeout: WAIT });
  const again = await openSettings(page, 'Chat defaults');
  await expect(again.getByRole('combobox', { name: 'Model for new chats' }).inputValue()).resolves.toBe(spm);
  await expect(again.getByRole('spinbutton', { name: 'Max tokens' }).inputValue()).resolves.toBe('12');
  await closeSettings(again);
});

test('"Enter sends" off: Enter adds a line, Ctrl+Enter sends', async () => {
  await openChat();
  const sent = () => messageLog().getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: 'first line' });
  const dialog = await openSettings(page, 'Chat defaults');
  const enterSends = dialog.getByRole('checkbox', { name: 'Enter sends the message' });
  await expect(enterSends.isChecked()).resolves.toBe(true);
  await enterSends.uncheck();
  await expect(dialog.getByText('Ctrl+Enter sends; Enter adds a line.').isVisible()).resolves.toBe(true);
  await closeSettings(dialog);
  await page.getByText('Ctrl+Enter to send · Enter for a new line').waitFor();

  await composer().click();
  await page.keyboard.type('first line');
  await page.keyboard.press('Enter');
  await page.keyboard.type('second line');
  await expect(composer().inputValue()).resolves.toBe('first line\nsecond line');
  expect(await sent().count()).toBe(0);

  await page.keyboard.press('Control+Enter');
  await sent().waitFor({ timeout: WAIT });
  await expect(sent().locator('.user-text').textContent()).resolves.toBe('first line\nsecond line');
  await expect(composer().inputValue()).resolves.toBe('');
  await finished();

  // the shortcuts dialog says so too
  await page.keyboard.press('Control+/');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await expect(help.getByRole('row', { name: /Send the message/ }).textContent()).resolves.toBe('Send the messageCtrlEnter');
  await help.getByRole('button', { name: 'Close' }).click();
});

test('the chat text size applies to the messages and the message box, and is kept after a reload', async () => {
  const body = () => lastArticle().locator('.markdown').first();
  await expect(fontSizeOf(body())).resolves.toBe('15px');
  const dialog = await openSettings(page, 'Appearance');
  await dialog.getByRole('combobox', { name: 'Chat text size' }).selectOption('20');
  await until('the bigger text', async () => (await fontSizeOf(body())) === '20px');
  await closeSettings(dialog);
  await expect(fontSizeOf(composer())).resolves.toBe('20px');
  await expect(fontSizeOf(userMessages().filter({ hasText: 'second line' }).locator('.user-text'))).resolves.toBe('20px');
  // the rest of the app keeps its size
  await expect(fontSizeOf(page.getByRole('heading', { name: 'Hearth' }))).resolves.toBe('17px');
  await shot(page, 'chat-settings-text-size');

  await page.reload();
  await openChat();
  await lastArticle().waitFor({ timeout: WAIT });
  await expect(fontSizeOf(body())).resolves.toBe('20px');
});

test('reasoning is folded until "Show reasoning open" is on', async () => {
  await page.getByRole('list', { name: 'Chat list' }).getByRole('link', { name: REASONING_THREAD, exact: true }).click();
  const reply = messageLog().getByRole('article', { name: /^Reply from / });
  await reply.waitFor({ timeout: WAIT });
  const toggle = reply.getByRole('button', { name: 'Reasoning' });
  await expect(toggle.getAttribute('aria-expanded')).resolves.toBe('false');
  await expect(reply.getByText(REASONING).isVisible()).resolves.toBe(false);

  const dialog = await openSettings(page, 'Chat defaults');
  await dialog.getByRole('checkbox', { name: 'Show reasoning open' }).check();
  await closeSettings(dialog);
  await until('the reasoning open', async () => (await toggle.getAttribute('aria-expanded')) === 'true');
  await expect(reply.getByText(REASONING).isVisible()).resolves.toBe(true);
  await shot(page, 'chat-settings-reasoning');
  // still a toggle
  await toggle.click();
  await expect(reply.getByText(REASONING).isVisible()).resolves.toBe(false);
});
