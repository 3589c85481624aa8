/**
 * End to end: the first run, with `npm start` in browser mode over an empty data folder, the real
 * engine host and store, driven through Debian's Chromium with playwright-core. The server's HOME is
 * a temp tree shaped like LM Studio's folder (~/.lmstudio/models/<publisher>/<repo>/<file>.gguf)
 * holding a copy of a generated tiny model and a download cut short, so discovery (discoverEnvOf:
 * os.homedir() is $HOME here) reads only that tree, never this machine's real apps.
 *
 * The chat page shows the first-run view: the recommended models of resources/recommended.json (all
 * of them, grouped by use) with "View files" opening the hub page on that repository; the models
 * found (the LM Studio one, with its size and quantization; the cut file skipped, saying why; the
 * folders searched). "Add" puts the model in the library by reference: the view goes, the model is
 * in the header's picker, and a message gets a reply from it. Screenshots:
 * test-output/screenshots/e2e-first-run-*.png.
 */
import fs from 'fs';
import path from 'path';
import { Page } from 'playwright-core';
import { BrowserMode, openBrowserMode, sendMessage, shot, until } from '../helpers/browser-mode';
import { tempDir } from '../helpers/engine';
import { copyModel, REPO_ROOT, TINY_SPM, writeHalfModel } from '../helpers/models';

const WAIT = 60_000;
jest.setTimeout(180_000);

let home: string;
let e2e: BrowserMode;
let page: Page;
const LM_NAME = 'lmstudio-community/Tiny-GGUF/tiny-spm-Q8_0';
let lmFile: string;
let cutFile: string;

const recommended = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'resources', 'recommended.json'), 'utf8')) as { models: { repo: string; name: string; use: string }[] };
const picker = () => page.getByRole('banner').getByRole('combobox', { name: 'Model' });
const welcome = () => page.getByRole('heading', { name: 'Welcome to Hearth' });
const found = () => page.getByRole('region', { name: 'Models already on this computer' });

beforeAll(async () => {
  home = tempDir('hearth-e2e-first-run-home-');
  const lm = path.join(home, '.lmstudio', 'models', 'lmstudio-community', 'Tiny-GGUF');
  fs.mkdirSync(lm, { recursive: true });
  lmFile = path.join(lm, 'tiny-spm-Q8_0.gguf');
  copyModel(TINY_SPM, lmFile);
  cutFile = path.join(lm, 'tiny-cut-Q4_0.gguf');
  writeHalfModel(cutFile);
  e2e = await openBrowserMode({
    prefix: 'hearth-e2e-first-run-',
    // discovery's folders hang off HOME (and XDG_DATA_HOME, XDG_CONFIG_HOME for Jan's and GPT4All's); OLLAMA_MODELS unset
    env: { HOME: home, XDG_DATA_HOME: path.join(home, '.local', 'share'), XDG_CONFIG_HOME: path.join(home, '.config'), OLLAMA_MODELS: '' },
  });
  page = await e2e.newPage();
  await page.goto(e2e.url);
});

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  fs.rmSync(home, { recursive: true, force: true });
  expect(stopped).toBe(true);
});

test('with no model, the chat page shows every recommended model by use, and "View files" opens its repository on the hub page', async () => {
  await welcome().waitFor({ timeout: WAIT });
  const recs = page.getByRole('region', { name: 'Recommended models' });
  const view = recs.getByRole('button', { name: /^View files of / });
  await until('the recommended models', async () => (await view.count()) === recommended.models.length, WAIT);
  for (const m of recommended.models) await recs.getByRole('listitem', { name: m.name, exact: true }).waitFor();
  // grouped by use: each use's group holds its models
  const chat = recs.getByRole('region', { name: 'Chat', exact: true });
  expect(await chat.getByRole('listitem').count()).toBe(recommended.models.filter((m) => m.use === 'chat').length);
  expect(await picker().locator('option').count()).toBeLessThanOrEqual(1);
  // the models folder in use, for a file put there by hand
  await page.locator('.welcome-folder').getByText(path.join(e2e.dataDir, 'models'), { exact: true }).waitFor();
  await recs.getByRole('heading', { name: 'Recommended models' }).scrollIntoViewIfNeeded();
  await shot(page, 'first-run-recommended');

  const first = recommended.models[0];
  await recs.getByRole('button', { name: `View files of ${first.name}`, exact: true }).click();
  await until('the hub page', async () => (await page.getByRole('button', { name: 'Find models' }).getAttribute('aria-current')) === 'page');
  await page.getByRole('button', { name: 'New chat', exact: true }).click();
  await welcome().waitFor({ timeout: WAIT });
});

test('discovery lists the LM Studio model with its size and quantization, the cut file as skipped with its reason, and the folders searched', async () => {
  const row = found().getByRole('region', { name: 'Found in LM Studio' }).getByRole('listitem', { name: LM_NAME, exact: true });
  await row.waitFor({ timeout: WAIT });
  const meta = (await row.textContent()) ?? '';
  expect(meta).toMatch(/MiB/);
  expect(meta).toContain('F16'); // the generated model's type (scripts/make-test-model.ts)
  await until('discovery to finish', async () => (await found().getAttribute('aria-busy')) === 'false');
  // no other app's models: this HOME has only LM Studio's folder
  expect(await found().getByRole('region').count()).toBe(1);

  const skipped = found().getByRole('group', { name: 'Skipped files' });
  await skipped.getByText('Skipped files (1)').click();
  await skipped.getByText(cutFile).waitFor();
  const searched = found().getByRole('group', { name: 'Folders searched' });
  await searched.getByText(/^Folders searched \(\d+\)$/).click();
  await searched.getByText(path.join(home, '.lmstudio', 'models'), { exact: true }).waitFor();
  await shot(page, 'first-run');
});

test('"Add" puts the model in the library by reference: the first-run view goes, the picker has it, and a message gets a reply', async () => {
  await found().getByRole('button', { name: `Add ${LM_NAME}`, exact: true }).click();
  await until('the model in the picker', async () => (await picker().locator(`option[value="${lmFile}"]`).count()) === 1, WAIT);
  await welcome().waitFor({ state: 'detached', timeout: WAIT });
  // a reference: the file stays where LM Studio keeps it, nothing is copied into the models folder
  expect(fs.existsSync(path.join(e2e.dataDir, 'models')) ? fs.readdirSync(path.join(e2e.dataDir, 'models')).filter((f) => f.endsWith('.gguf')) : []).toEqual([]);
  await picker().selectOption(lmFile);
  await until('the model loaded', async () => (await picker().inputValue()) === lmFile && (await page.getByRole('meter', { name: 'Context used' }).count()) === 1, WAIT);
  const reply = await sendMessage(page, 'Hello there', WAIT);
  expect(await reply.getAttribute('aria-label')).toMatch(/^Reply from /);
  // the tiny model writes until its context is full: stop it once it has written something
  await until('the reply to have text', async () => ((await reply.locator('.markdown').first().textContent().catch(() => '')) ?? '').trim().length > 20, WAIT);
  const stop = page.getByRole('button', { name: 'Stop generating', exact: true });
  // the reply may end between the check and the click (the button is then Send, disabled while the box is empty)
  if (await stop.isVisible()) await stop.click({ timeout: 5000 }).catch(() => undefined);
  await reply.getByRole('note', { name: 'Reply metrics' }).waitFor({ timeout: WAIT });
  await shot(page, 'first-run-added');
});
