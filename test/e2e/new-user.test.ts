/**
 * End to end: what a new user's review of Hearth found, each checked where the user meets it, with
 * `npm start` in browser mode, the real engine host, the real store and two generated tiny models
 * (and a file that is not a model), driven through Debian's Chromium with playwright-core. Controls
 * are found by their accessible role and name; the settings' accessibility is read from Chromium's
 * own accessibility tree (CDP).
 *
 * The tests run in order on one page: a model that cannot load shows its whole error under the
 * header; the context length says what is wrong at the field and keeps a typed length (the slider
 * follows, the rounding is said); every control of the settings has a role and a name ("Advanced
 * sampling" included); the context meter moves while a reply streams; the engine host killed
 * mid-reply leaves a reply that says so (not "Stopped."); the meter shows a finished reply; a
 * message sent right after switching the model runs on the model picked. Screenshots go to
 * test-output/screenshots/e2e-new-user-*.png.
 */
import path from 'path';
import { Locator, Page } from 'playwright-core';
import { contextSizeUsed, CONTEXT_STEP, LOAD_SETTINGS_META } from '../../main/params';
import { BrowserMode, engineHosts, openBrowserMode, openSettings, shot, until, sendMessage } from '../helpers/browser-mode';
import { TINY_BPE, TINY_SPM, writeHalfModel } from '../helpers/models';

const WAIT = 60_000;

jest.setTimeout(180_000);

let e2e: BrowserMode;
let page: Page;

const model = (file: string) => path.join(e2e.dataDir, 'models', path.basename(file));
const BROKEN = 'half-downloaded.gguf';

const composer = () => page.getByRole('textbox', { name: 'Message', exact: true });
const sendButton = () => page.getByRole('button', { name: 'Send message', exact: true });
const stopButton = () => page.getByRole('button', { name: 'Stop generating', exact: true });
const messageLog = () => page.getByRole('log', { name: 'Messages' });
const lastArticle = () => messageLog().getByRole('article').last();
const picker = () => page.getByRole('banner').getByRole('combobox', { name: 'Model' });
const meter = () => page.getByRole('meter', { name: 'Context used' });
const settingsDialog = () => page.getByRole('dialog', { name: 'Settings' });
const used = async () => Number(await meter().getAttribute('aria-valuenow'));
const textOf = async (l: Locator) => ((await l.locator('.markdown').first().textContent().catch(() => '')) ?? '').trim();
const busy = async (l: Locator) => (await l.getAttribute('aria-busy').catch(() => null)) === 'true';

const send = (text: string): Promise<Locator> => sendMessage(page, text, WAIT);

/** Waits until the reply finished (its metrics show, Stop is gone); returns the metrics' tooltip (the prompt's tokens). */
async function finished(reply: Locator): Promise<string> {
  const metrics = reply.getByRole('note', { name: 'Reply metrics' });
  await metrics.waitFor({ timeout: WAIT });
  await stopButton().waitFor({ state: 'detached', timeout: WAIT });
  return (await metrics.getAttribute('title')) ?? '';
}

async function closeSettings(): Promise<void> {
  await settingsDialog().getByRole('button', { name: 'Close' }).click();
  await settingsDialog().waitFor({ state: 'detached' });
}

/** Roles of the controls a user operates (Chromium's names for them). */
const CONTROL_ROLES = new Set(['button', 'checkbox', 'combobox', 'DisclosureTriangle', 'link', 'listbox', 'menuitem', 'radio', 'searchbox', 'slider', 'spinbutton', 'switch', 'tab', 'textbox']);

interface AXNode {
  nodeId: string;
  parentId?: string;
  ignored: boolean;
  role?: { value: string };
  name?: { value: string };
}

/** The controls (and the disclosure groups they open) without an accessible name, from Chromium's accessibility tree. */
async function unnamedControls(): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as unknown as { nodes: AXNode[] };
    const byId = new Map(nodes.map((n) => [n.nodeId, n]));
    const bad: string[] = [];
    for (const n of nodes) {
      if (n.ignored || !CONTROL_ROLES.has(n.role?.value ?? '')) continue;
      if (!n.name?.value?.trim()) bad.push(`${n.role!.value} without a name`);
      // a <summary>'s <details> is a group: it is named too
      const parent = n.parentId ? byId.get(n.parentId) : undefined;
      if (n.role!.value === 'DisclosureTriangle' && parent?.role?.value === 'group' && !parent.name?.value?.trim()) bad.push(`the group of "${n.name?.value}" without a name`);
    }
    return bad;
  } finally {
    await cdp.detach();
  }
}

beforeAll(async () => {
  e2e = await openBrowserMode({
    prefix: 'hearth-e2e-new-user-',
    models: [TINY_BPE, TINY_SPM],
    // a download that stopped early: a .gguf name, not a model
    prepare: (dataDir) => writeHalfModel(path.join(dataDir, 'models', BROKEN)),
  });
  page = await e2e.newPage();
  await page.goto(e2e.url);
  await composer().waitFor({ timeout: WAIT });
  await until('the models in the picker', async () => (await picker().locator('option').count()) === 4);
});

// each test starts from the chat view at full size, whatever the one before left open
beforeEach(async () => {
  await page.setViewportSize({ width: 1280, height: 800 });
  if (await settingsDialog().isVisible()) await closeSettings();
  const show = page.getByRole('button', { name: 'Show sidebar' });
  if (await show.isVisible()) await show.click();
});

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  expect(stopped).toBe(true);
});

test('a model that cannot load: its whole error shows under the header, wrapped (not cut to a tooltip), until dismissed', async () => {
  // a small window (the sidebar, which would cover the header there, hidden): the message needs several lines
  await page.getByRole('button', { name: 'Hide sidebar' }).click();
  await page.setViewportSize({ width: 560, height: 640 });
  await picker().selectOption(model(BROKEN));
  const alert = page.getByRole('alert').filter({ has: page.getByRole('button', { name: 'Dismiss model error' }) });
  await alert.waitFor({ timeout: WAIT });
  const text = (await alert.textContent()) ?? '';
  expect(text).toMatch(/cannot be read .* Pick another one\.$/);
  expect(await alert.getAttribute('title')).toBeNull();
  // every line of it is on screen: nothing clipped, and on this narrow window it wraps
  const shown = await alert.locator('p').evaluate((el) => {
    const lines = document.createRange();
    lines.selectNodeContents(el);
    return { clipped: el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight, lines: new Set([...lines.getClientRects()].map((r) => Math.round(r.top))).size, text: el.textContent };
  });
  await shot(page, 'new-user-model-error');
  expect(shown).toEqual({ clipped: false, lines: expect.any(Number), text });
  expect(shown.lines).toBeGreaterThan(1);
  await alert.getByRole('button', { name: 'Dismiss model error' }).click();
  await alert.waitFor({ state: 'detached' });
});

test('the context length: an out-of-range value is named at the field; a typed length is kept, the slider follows and the rounding is said', async () => {
  await page.getByRole('banner').getByRole('button', { name: 'Model settings' }).click();
  const d = settingsDialog();
  await d.getByRole('combobox', { name: 'Model to set up' }).selectOption({ label: 'tiny-bpe' });
  await d.getByText(/Trained maximum: 2,048 tokens/).waitFor({ timeout: WAIT });
  const meta = LOAD_SETTINGS_META.find((f) => f.key === 'contextSize')!;
  const box = d.getByRole('spinbutton', { name: meta.label });
  const slider = d.getByRole('slider', { name: meta.label });

  await box.fill('0');
  const outOfRange = `${meta.label} must be a whole number from ${meta.min!.toLocaleString('en-US')} to ${meta.max!.toLocaleString('en-US')}.`;
  // the message describes the field itself (what a screen reader reads with it), and is shown next to it
  await d.getByRole('spinbutton', { name: meta.label, description: outOfRange }).waitFor();
  await expect(box.getAttribute('aria-invalid')).resolves.toBe('true');
  await expect(d.locator('.field.invalid').getByText(outOfRange, { exact: true }).isVisible()).resolves.toBe(true);
  await expect(d.getByRole('button', { name: 'Save', exact: true }).isDisabled()).resolves.toBe(true);
  await d.getByRole('group', { name: 'Context', exact: true }).evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await shot(page, 'new-user-context-invalid');

  const typed = CONTEXT_STEP + 44;
  const runs = contextSizeUsed(typed);
  expect(runs).not.toBe(typed);
  await box.fill(String(typed));
  await d.getByText(`Runs as ${runs.toLocaleString('en-US')} tokens: llama.cpp sizes a context in whole multiples of ${CONTEXT_STEP}.`).waitFor();
  await expect(box.inputValue()).resolves.toBe(String(typed));
  await expect(slider.inputValue()).resolves.toBe(String(runs));
  await expect(slider.getAttribute('aria-valuetext')).resolves.toBe(`${typed} tokens, runs as ${runs}`);
  // valid for the form (the browser's own step check would say otherwise): no error, and Enter saves it
  await expect(box.getAttribute('aria-invalid')).resolves.toBe('false');
  await expect(d.getByText(outOfRange).count()).resolves.toBe(0);
  await box.press('Enter');
  await d.getByRole('form', { name: 'Load settings' }).getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  await expect(box.inputValue()).resolves.toBe(String(typed));
  await shot(page, 'new-user-context-rounded');
  // back to the default for the chats below
  await d.getByRole('button', { name: 'Reset to defaults' }).click();
  await until('the default context length', async () => (await box.inputValue()) === '2048');
  await closeSettings();
});

test('every control of the settings has a role and a name, "Advanced sampling" included (Chromium\'s accessibility tree)', async () => {
  const d = await openSettings(page, 'Chat defaults');
  const advanced = d.getByRole('group', { name: 'Advanced sampling' });
  await advanced.waitFor();
  await d.getByText('Advanced sampling', { exact: true }).click();
  await advanced.getByRole('spinbutton').first().waitFor();
  await advanced.scrollIntoViewIfNeeded();
  await shot(page, 'new-user-advanced-sampling');
  const problems: string[] = [];
  for (const tab of ['Appearance', 'Chat defaults', 'Models', 'Hardware', 'Data', 'About']) {
    await d.getByRole('tab', { name: tab, exact: true }).click();
    await until(`the ${tab} tab`, async () => (await d.getByRole('tab', { name: tab, exact: true }).getAttribute('aria-selected')) === 'true');
    if (tab === 'Models') await d.getByRole('form', { name: 'Load settings' }).waitFor({ timeout: WAIT });
    problems.push(...(await unnamedControls()).map((p) => `${tab}: ${p}`));
  }
  expect(problems).toEqual([]);
  await closeSettings();
});

test('while a reply streams the context meter moves; the engine host killed mid-reply leaves a reply that says so, not "Stopped."', async () => {
  await picker().selectOption(model(TINY_BPE));
  await until('the model loaded', async () => (await meter().getAttribute('aria-valuemax').catch(() => null)) === '2048', WAIT);
  // by default a reply runs until the context is full; the tiny model can still end one early (a random end of
  // text): then regenerate and try again
  let reply = await send('Tell me a long story about the lighthouse keeper of Zanzibar');
  const before = await used();
  for (let attempt = 1; ; attempt++) {
    let moved = false;
    await until('the meter to move or the reply to end', async () => (moved = (await used()) > before && (await busy(reply))) || !(await busy(reply)), WAIT);
    if (moved) break;
    if (attempt === 3) throw new Error('three replies in a row ended before the meter could be seen moving');
    await finished(reply);
    await reply.getByRole('button', { name: 'Regenerate reply' }).click();
    await until('the regenerated reply', () => busy(lastArticle()));
    reply = lastArticle();
  }
  // the meter can move with the prompt, before the first piece of text is shown
  await until('the reply\'s first text', async () => (await textOf(reply)).length > 0 || !(await busy(reply)), WAIT);
  expect((await textOf(reply)).length).toBeGreaterThan(0);

  const hosts = engineHosts(e2e.server.pid!);
  expect(hosts).toHaveLength(1);
  process.kill(hosts[0], 'SIGKILL');
  const note = reply.getByRole('note', { name: 'Why the reply stopped' });
  await note.waitFor({ timeout: WAIT });
  await expect(note.textContent()).resolves.toBe('The engine stopped unexpectedly and was restarted; this reply is incomplete — Continue or Regenerate it.');
  await expect(reply.getByText('Stopped.', { exact: true }).count()).resolves.toBe(0);
  await expect(reply.getByRole('button', { name: 'Continue reply' }).isVisible()).resolves.toBe(true);
  expect((await textOf(reply)).length).toBeGreaterThan(0); // what streamed is kept
  await shot(page, 'new-user-engine-restarted');
  // a new host took over
  await until('a new engine host', async () => engineHosts(e2e.server.pid!).some((p) => p !== hosts[0]));
});

test('the context meter shows a reply as soon as it finished', async () => {
  const d = await openSettings(page, 'Chat defaults');
  await d.getByRole('spinbutton', { name: 'Max tokens' }).fill('16');
  await d.getByRole('button', { name: 'Save defaults' }).click();
  await d.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  await closeSettings();
  const reply = await send('What does a lighthouse keeper do?');
  const prompt = Number(/^Prompt: ([\d,]+) tokens/.exec(await finished(reply))![1].replace(/,/g, ''));
  const generated = Number(((await reply.getByRole('note', { name: 'Reply metrics' }).textContent()) ?? '').split(' ')[0]);
  // the whole conversation (the prompt, and the reply's tokens but possibly the last, not decoded yet)
  await until('the meter to show the reply', async () => (await used()) >= prompt + generated - 1, 5000);
  expect(await used()).toBeLessThanOrEqual(prompt + generated);
});

test('a message sent right after switching the model runs on the model picked', async () => {
  await expect(picker().inputValue()).resolves.toBe(model(TINY_BPE));
  // no wait between the switch and the send: the load has only just been asked for
  await picker().selectOption(model(TINY_SPM));
  await composer().fill('Which model answers this?');
  await sendButton().click();
  await messageLog().getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: 'Which model answers this?' }).waitFor({ timeout: WAIT });
  await until('the reply', async () => /^Reply from /.test((await lastArticle().getAttribute('aria-label').catch(() => null)) ?? ''));
  const reply = lastArticle();
  await finished(reply);
  await expect(reply.locator('.message-meta').textContent()).resolves.toContain('tiny-spm');
  await expect(reply.getByText('Stopped.', { exact: true }).count()).resolves.toBe(0);
  await expect(picker().inputValue()).resolves.toBe(model(TINY_SPM));
  await shot(page, 'new-user-model-switch');
});
