/**
 * End to end, on a machine without a GPU device: `npm start` in browser mode with the real engine
 * and GGML_VK_VISIBLE_DEVICES='' (the Vulkan module, where built, finds no device), driven through
 * Debian's Chromium. The backend choice offers only the backends this build has (as the engine
 * reports them: never CUDA or Metal here), and the GPU-only load settings are disabled, their reason
 * their accessible description, showing what a load really does (CPU only). Screenshots:
 * test-output/screenshots/e2e-no-gpu-backend.png and e2e-no-gpu-models.png.
 */
import fs from 'fs';
import path from 'path';
import { Locator, Page } from 'playwright-core';
import { BrowserMode, openBrowserMode, openSettings, shot, until } from '../helpers/browser-mode';
import { REPO_ROOT, TINY_SPM } from '../helpers/models';

const WAIT = 60_000;
const BIN = path.join(REPO_ROOT, 'build', 'bin');
/** the backend modules this build has, as the engine finds them (libggml-<name>.so next to the addon) */
const BUILT = ['cuda', 'metal', 'vulkan'].filter((b) => fs.existsSync(path.join(BIN, `libggml-${b}.so`)));

jest.setTimeout(120_000);

let e2e: BrowserMode;
let page: Page;

beforeAll(async () => {
  require(path.join(REPO_ROOT, 'scripts', 'build-ts.js')).build();
  e2e = await openBrowserMode({ prefix: 'hearth-e2e-nogpu-', models: [TINY_SPM], env: { GGML_VK_VISIBLE_DEVICES: '' } });
  page = await e2e.newPage();
  await page.goto(e2e.url);
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor({ timeout: WAIT });
});

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  expect(stopped).toBe(true);
});

/** a control's accessible description: the text of what its aria-describedby names */
const descriptionOf = (l: Locator) =>
  l.evaluate((el) =>
    (el.getAttribute('aria-describedby') ?? '')
      .split(' ')
      .filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent ?? '')
      .join(' '),
  );

test('the backend choice offers only the backends this build has: no CUDA or Metal here', async () => {
  const d = await openSettings(page, 'Hardware');
  const select = d.getByRole('combobox', { name: 'Backend' });
  await until('the backend choice to follow the engine', async () => !(await select.isDisabled()), WAIT);
  const options = await select.locator('option').allTextContents();
  const names = ['cuda', 'metal', 'vulkan'].filter((b) => BUILT.includes(b)).map((b) => ({ cuda: 'CUDA', metal: 'Metal', vulkan: 'Vulkan' })[b]!);
  expect(options).toEqual([`Auto (${[...names, 'CPU'].join(' → ')})`, ...names, 'CPU only']);
  if (!BUILT.includes('cuda')) expect(options.join(' ')).not.toMatch(/CUDA/);
  if (!BUILT.includes('metal')) expect(options.join(' ')).not.toMatch(/Metal/);
  await shot(page, 'no-gpu-backend');
  await d.getByRole('button', { name: 'Close' }).click();
});

test('without a GPU device the GPU controls are disabled, say why, and show what the load uses', async () => {
  await page.getByRole('banner').getByRole('button', { name: 'Model settings' }).click();
  const d = page.getByRole('dialog', { name: 'Settings' });
  await d.getByRole('form', { name: 'Load settings' }).waitFor({ timeout: WAIT });
  const slider = d.getByRole('slider', { name: 'GPU layers' });
  const controls = [slider, d.getByRole('radio', { name: 'Auto', exact: true }), d.getByRole('radio', { name: 'Max', exact: true }), d.getByRole('radio', { name: 'Custom', exact: true }), d.getByRole('spinbutton', { name: 'Fit margin (MiB)' })];
  await until('the GPU controls to be disabled', async () => slider.isDisabled(), WAIT);
  for (const c of controls) {
    expect(await c.isDisabled()).toBe(true);
    expect(await descriptionOf(c)).toMatch(/No GPU device is available/);
  }
  await expect(slider.getAttribute('aria-valuetext')).resolves.toBe('auto: CPU only, no layers on a GPU');
  await expect(slider.inputValue()).resolves.toBe('0');
  await expect(d.locator('output[for="ms-gpu-layers"]').textContent()).resolves.toBe('auto (CPU only)');
  // the estimate agrees: every layer in system RAM
  await d.getByText(/^CPU only · context/).waitFor({ timeout: WAIT });
  await shot(page, 'no-gpu-models');
});
