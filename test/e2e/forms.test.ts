/**
 * End to end in browser mode (real engine, store and two generated models; Debian's Chromium through
 * playwright-core), the new-user review's findings on forms and overlays (issue #12):
 * unsaved edits in Chat defaults, Models and Assistants are not dropped without asking
 * ("Discard changes?" with Keep editing / Discard) when the tab, the model or the assistant changes
 * or the dialog closes; focus stays on Save and Reset in Settings → Models; the delete toast names
 * the chat and its undo window waits while it is hovered (time moved by Playwright's clock, not slept);
 * the token-probability tip stays inside the window and is clipped by no scrolling box; at 700 px the
 * button that opened the sidebar can close it. Screenshots: test-output/screenshots/e2e-forms-*.png.
 */
import { Locator, Page } from 'playwright-core';
import { dataPaths } from '../../main/paths';
import { Store } from '../../main/store';
import { UNDO_MS } from '../../renderer/src/features/threads/threadsSlice';
import { BrowserMode, openBrowserMode, openSettings, shot, until, openReadyPage } from '../helpers/browser-mode';
import { TINY_BPE, TINY_SPM } from '../helpers/models';

const WAIT = 60_000;
jest.setTimeout(180_000);

let e2e: BrowserMode;
let page: Page;

beforeAll(async () => {
  e2e = await openBrowserMode({
    prefix: 'hearth-e2e-forms-',
    models: [TINY_BPE, TINY_SPM],
    prepare(dataDir) {
      const store = Store.open(dataPaths(dataDir).database);
      try {
        for (const title of ['Alpha trip', 'Bravo notes']) {
          const t = store.threads.create({ title });
          store.messages.add({ threadId: t.id, role: 'user', content: `About ${title}` });
        }
      } finally {
        store.close();
      }
    },
  });
  page = await openReadyPage(e2e, { width: 1280, height: 800 }, WAIT);
});

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  expect(stopped).toBe(true);
});

const ask = (p: Page = page) => p.getByRole('alertdialog', { name: 'Discard changes?' });
const focusedName = () => page.evaluate(() => (document.activeElement === document.body ? '<body>' : document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent?.trim() ?? ''));

/** The confirmation shows, with Keep editing focused. */
async function asked(): Promise<Locator> {
  await ask().waitFor();
  await until('focus on Keep editing', async () => (await focusedName()) === 'Keep editing');
  return ask();
}

test('Chat defaults: another tab or closing asks first; Keep editing keeps what was typed, Discard drops it', async () => {
  const dialog = await openSettings(page, 'Chat defaults');
  const maxTokens = dialog.getByRole('spinbutton', { name: 'Max tokens', exact: true });
  const saved = await maxTokens.inputValue();
  await maxTokens.fill('7');
  await dialog.getByRole('tab', { name: 'Models', exact: true }).click();
  const box = await asked();
  await expect(box.getByRole('button', { name: 'Discard' }).isVisible()).resolves.toBe(true);
  await shot(page, 'forms-discard-ask');
  await box.getByRole('button', { name: 'Keep editing' }).click();
  await box.waitFor({ state: 'detached' });
  await expect(dialog.getByRole('tab', { name: 'Chat defaults', exact: true }).getAttribute('aria-selected')).resolves.toBe('true');
  await expect(maxTokens.inputValue()).resolves.toBe('7');

  // Escape asks too; Escape again is Keep editing
  await maxTokens.press('Escape');
  await asked();
  await page.keyboard.press('Escape');
  await ask().waitFor({ state: 'detached' });
  await expect(dialog.isVisible()).resolves.toBe(true);

  // Close, then Discard: the dialog closes, and nothing was saved
  await dialog.getByRole('button', { name: 'Close' }).click();
  await (await asked()).getByRole('button', { name: 'Discard' }).click();
  await dialog.waitFor({ state: 'detached' });
  const again = await openSettings(page, 'Chat defaults');
  await expect(again.getByRole('spinbutton', { name: 'Max tokens', exact: true }).inputValue()).resolves.toBe(saved);
  // no edits: the tab changes without asking
  await again.getByRole('tab', { name: 'Appearance', exact: true }).click();
  await until('the Appearance tab', async () => (await again.getByRole('tab', { name: 'Appearance', exact: true }).getAttribute('aria-selected')) === 'true');
  await expect(ask().count()).resolves.toBe(0);
  await again.getByRole('button', { name: 'Close' }).click();
  await again.waitFor({ state: 'detached' });
});

test('shortcuts go through the guard: Ctrl+/ asks before replacing Settings, Ctrl+B acts not behind it, focus returns after Keep editing and Escape, a reload would ask', async () => {
  const dialog = await openSettings(page, 'Chat defaults');
  const maxTokens = dialog.getByRole('spinbutton', { name: 'Max tokens', exact: true });
  const saved = await maxTokens.inputValue();
  await maxTokens.fill('9');
  const onInput = () => maxTokens.evaluate((el) => el === document.activeElement);
  const unloadObjects = () => page.evaluate(() => {
    const e = new Event('beforeunload', { cancelable: true });
    window.dispatchEvent(e);
    return e.defaultPrevented;
  });
  await expect(unloadObjects()).resolves.toBe(true);
  // behind the dialog: the sidebar stays as it is
  const sidebar = page.getByRole('navigation', { name: 'Chats' });
  const sidebarShown = await sidebar.isVisible();
  await page.keyboard.press('Control+b');
  await expect(sidebar.isVisible()).resolves.toBe(sidebarShown);
  // Ctrl+/ would replace Settings with Help: it asks; Keep editing puts focus back on the field
  await page.keyboard.press('Control+/');
  await (await asked()).getByRole('button', { name: 'Keep editing' }).click();
  await ask().waitFor({ state: 'detached' });
  await until('focus back on Max tokens', onInput);
  await expect(page.getByRole('dialog', { name: 'Settings' }).isVisible()).resolves.toBe(true);
  await page.keyboard.press('Escape');
  await asked();
  await page.keyboard.press('Escape');
  await ask().waitFor({ state: 'detached' });
  await until('focus back on Max tokens after Escape', onInput);
  // Discard: Help replaces Settings, nothing was saved, and leaving the page no longer objects
  await page.keyboard.press('Control+/');
  await (await asked()).getByRole('button', { name: 'Discard' }).click();
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await help.waitFor();
  await expect(unloadObjects()).resolves.toBe(false);
  // the list has every key that sends (Enter, and Ctrl+Enter too)
  await expect(help.getByRole('row', { name: /Send the message/ }).innerText()).resolves.toMatch(/Enter\s*or\s*Ctrl\s*Enter/);
  await shot(page, 'forms-help-from-shortcut');
  await help.getByRole('button', { name: 'Close' }).click();
  await help.waitFor({ state: 'detached' });
  const again = await openSettings(page, 'Chat defaults');
  await expect(again.getByRole('spinbutton', { name: 'Max tokens', exact: true }).inputValue()).resolves.toBe(saved);
  await again.getByRole('button', { name: 'Close' }).click();
  await again.waitFor({ state: 'detached' });
});

test('Models: another model asks first; Keep editing keeps the model and the edit, Discard moves on', async () => {
  const dialog = await openSettings(page, 'Models');
  const picker = dialog.getByRole('combobox', { name: 'Model to set up' });
  const ctx = dialog.getByRole('spinbutton', { name: 'Context length' });
  await ctx.waitFor({ timeout: WAIT });
  const first = await picker.inputValue();
  const other = (await picker.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).find((v) => v !== first)!;
  await ctx.fill('1024');
  await picker.selectOption(other);
  await (await asked()).getByRole('button', { name: 'Keep editing' }).click();
  await expect(picker.inputValue()).resolves.toBe(first);
  await expect(ctx.inputValue()).resolves.toBe('1024');
  await picker.selectOption(other);
  await (await asked()).getByRole('button', { name: 'Discard' }).click();
  await until('the other model', async () => (await picker.inputValue()) === other);
  // back on the first model: the edit was dropped
  await ctx.waitFor({ timeout: WAIT });
  await picker.selectOption(first);
  await until('the first model’s form', async () => (await ctx.isVisible()) && (await ctx.inputValue()) !== '1024');
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'detached' });
});

test('Models: focus stays on Save after saving and on Reset after resetting', async () => {
  const dialog = await openSettings(page, 'Models');
  const ctx = dialog.getByRole('spinbutton', { name: 'Context length' });
  await ctx.waitFor({ timeout: WAIT });
  await ctx.fill('768');
  const save = dialog.getByRole('button', { name: 'Save', exact: true });
  await save.focus();
  await page.keyboard.press('Enter');
  await dialog.getByRole('status').filter({ hasText: 'Saved.' }).waitFor({ timeout: WAIT });
  await expect(focusedName()).resolves.toBe('Save');
  await expect(save.isDisabled()).resolves.toBe(true); // nothing left to save: off, but still focused
  await dialog.getByRole('button', { name: 'Reset to defaults' }).click();
  await dialog.getByRole('status').filter({ hasText: 'Back to the defaults.' }).waitFor({ timeout: WAIT });
  await expect(focusedName()).resolves.toBe('Reset to defaults');
  await shot(page, 'forms-models-focus');
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'detached' });
});

test('Assistants: another assistant asks first while the form holds edits', async () => {
  await page.getByRole('button', { name: /Assistants/ }).click();
  const dialog = page.getByRole('dialog', { name: 'Assistants' });
  await dialog.getByRole('button', { name: /New assistant/ }).click();
  const form = dialog.getByRole('form', { name: 'New assistant' });
  await form.getByRole('textbox', { name: 'Name' }).fill('Half-typed');
  const firstInList = dialog.getByRole('list', { name: 'Assistant list' }).getByRole('button').first();
  await firstInList.click();
  await (await asked()).getByRole('button', { name: 'Keep editing' }).click();
  await expect(form.getByRole('textbox', { name: 'Name' }).inputValue()).resolves.toBe('Half-typed');
  await firstInList.click();
  await (await asked()).getByRole('button', { name: 'Discard' }).click();
  await until('the first assistant', async () => (await firstInList.getAttribute('aria-current')) === 'true');
  await expect(dialog.getByRole('form', { name: 'New assistant' }).count()).resolves.toBe(0);
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'detached' });
});

test('the delete toast names the chat; its undo window waits while hovered and runs out once left (clock moved, not slept)', async () => {
  const p = await e2e.newPage({ width: 1280, height: 800 });
  try {
    await p.clock.install();
    await p.goto(e2e.url);
    const list = p.getByRole('list', { name: 'Chat list' });
    await list.getByRole('link', { name: 'Alpha trip' }).waitFor({ timeout: WAIT });
    await p.getByRole('button', { name: 'Delete Alpha trip' }).click();
    const toast = p.getByRole('status').locator('.toast').filter({ hasText: 'Deleted “Alpha trip”' });
    await toast.waitFor();
    await expect(toast.getByRole('button', { name: 'Undo' }).isVisible()).resolves.toBe(true);
    await toast.hover();
    await p.clock.runFor(UNDO_MS * 3);
    await expect(toast.isVisible()).resolves.toBe(true);
    await shot(p, 'forms-undo-toast');
    await p.mouse.move(600, 300); // off the toast
    await p.clock.runFor(UNDO_MS + 100);
    await toast.waitFor({ state: 'detached' });
    // the delete went to main: a fresh page no longer lists it
    const q = await e2e.newPage();
    await q.goto(e2e.url);
    await q.getByRole('list', { name: 'Chat list' }).getByRole('link', { name: 'Bravo notes' }).waitFor({ timeout: WAIT });
    await expect(q.getByRole('list', { name: 'Chat list' }).getByRole('link', { name: 'Alpha trip' }).count()).resolves.toBe(0);
    await q.close();
  } finally {
    await p.close();
  }
});

test('the token-probability tip stays inside the window and no scrolling box clips it', async () => {
  await page.setViewportSize({ width: 900, height: 600 });
  const dialog = await openSettings(page, 'Chat defaults');
  const form = dialog.getByRole('form', { name: 'Chat defaults' });
  await form.getByRole('spinbutton', { name: 'Max tokens', exact: true }).fill('24');
  await form.getByText('Advanced sampling', { exact: true }).click();
  await form.getByRole('spinbutton', { name: 'Token probabilities', exact: true }).fill('5');
  await form.getByRole('button', { name: 'Save defaults' }).click();
  await form.getByRole('status').filter({ hasText: 'Saved.' }).waitFor({ timeout: WAIT });
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'detached' });

  await page.getByRole('button', { name: 'New chat' }).first().click();
  const picker = page.getByRole('combobox', { name: 'Model' });
  if (!(await picker.inputValue())) await picker.selectOption({ index: 1 });
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill('Tell me about lighthouses');
  await page.getByRole('button', { name: 'Send message', exact: true }).click();
  const reply = page.getByRole('log', { name: 'Messages' }).getByRole('article').last();
  await reply.getByRole('note', { name: 'Reply metrics' }).waitFor({ timeout: WAIT });
  await reply.getByRole('button', { name: 'Token probabilities' }).click();
  const tokens = reply.getByRole('group', { name: 'Tokens with their probabilities' }).getByRole('button');
  await until('the tokens', async () => (await tokens.count()) > 0, WAIT);
  const tip = page.getByRole('tooltip');
  for (const token of [tokens.last(), tokens.first()]) {
    await token.hover();
    await tip.waitFor();
    // inside the window, and inside every box around it that clips (overflow other than visible)
    const outside = await tip.evaluate((el) => {
      const r = el.getBoundingClientRect();
      const bad: string[] = [];
      if (r.left < 0 || r.top < 0 || r.right > window.innerWidth || r.bottom > window.innerHeight) bad.push('window');
      for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
        const s = getComputedStyle(a);
        if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
        const b = a.getBoundingClientRect();
        if (r.left < b.left - 0.5 || r.top < b.top - 0.5 || r.right > b.right + 0.5 || r.bottom > b.bottom + 0.5) bad.push(a.className || a.tagName);
      }
      return bad;
    });
    expect(outside).toEqual([]);
    // next to its token: over or under it, not somewhere else
    const t = (await token.boundingBox())!;
    const b = (await tip.boundingBox())!;
    expect(Math.min(Math.abs(b.y - (t.y + t.height)), Math.abs(t.y - (b.y + b.height)))).toBeLessThanOrEqual(8);
  }
  await tokens.last().hover();
  await shot(page, 'forms-token-tip');
  await page.mouse.move(5, 590);
  await page.setViewportSize({ width: 1280, height: 800 });
});

test('at 700 px the sidebar starts closed, lies over the chat with a backdrop, and a click beside it closes it, focus back on its button', async () => {
  const p = await e2e.newPage({ width: 700, height: 700 });
  try {
    await p.goto(e2e.url);
    const show = p.getByRole('button', { name: 'Show sidebar' });
    await show.waitFor({ timeout: WAIT });
    const sidebar = p.getByRole('navigation', { name: 'Chats' });
    await expect(sidebar.count()).resolves.toBe(0);
    await show.click();
    await sidebar.waitFor();
    await shot(p, 'forms-narrow-sidebar-backdrop');
    // a click on the chat area beside it lands on the backdrop, and closes it
    await p.mouse.click(600, 400);
    await sidebar.waitFor({ state: 'detached' });
    await until('focus on Show sidebar', () => show.evaluate((el) => el === document.activeElement));
    await show.click();
    await sidebar.waitFor();
    await p.keyboard.press('Escape');
    await sidebar.waitFor({ state: 'detached' });
    await until('focus on Show sidebar after Escape', () => show.evaluate((el) => el === document.activeElement));
  } finally {
    await p.close();
  }
});

test('at 700 px the button that opened the sidebar closes it', async () => {
  await page.setViewportSize({ width: 700, height: 700 });
  const sidebar = page.getByRole('navigation', { name: 'Chats' });
  if (!(await sidebar.isVisible())) await page.getByRole('button', { name: 'Show sidebar' }).click();
  await sidebar.waitFor();
  const hide = page.getByRole('button', { name: 'Hide sidebar' });
  // the button is on top where it is drawn (Playwright's click would also refuse a covered one)
  const hit = await hide.evaluate((el) => {
    const r = el.getBoundingClientRect();
    const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return !!top && el.contains(top) ? 'button' : `${top?.tagName}.${top?.className}`;
  });
  await shot(page, 'forms-narrow-sidebar');
  expect(hit).toBe('button');
  await hide.click();
  await sidebar.waitFor({ state: 'detached' });
  await page.getByRole('button', { name: 'Show sidebar' }).click();
  await sidebar.waitFor();
  await page.getByRole('button', { name: 'Hide sidebar' }).click();
  await sidebar.waitFor({ state: 'detached' });
  await page.setViewportSize({ width: 1280, height: 800 });
});
