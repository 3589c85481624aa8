/**
 * End to end: per-model load settings, memory estimates, the guardrail and the hardware page, with
 * `npm start` in browser mode, the real engine, the real store and a generated tiny model, driven
 * through Debian's Chromium with playwright-core. Every control is found by its accessible role and
 * name.
 *
 * Where the Vulkan backend module is built the server runs with GGML_VK_VISIBLE_DEVICES=0, so Mesa's
 * lavapipe is a real Vulkan device (2 GiB): the GPU-layers slider moves weights between it and
 * system RAM, and a huge fit margin makes the guardrail refuse. Without it (CPU only) the estimate is
 * checked to follow the context length instead, and the guardrail tests are skipped (the margin only
 * applies to GPUs).
 *
 * The tests run in order on one page and build on each other: open the model's settings, move the
 * sliders and see the memory bars change, save, reload the page and find the values again, load the
 * model with them, let the guardrail refuse (strict) and ask (warn), and watch the hardware page's
 * live charts (polled only while the page is open). Screenshots go to
 * test-output/screenshots/e2e-model-settings*.png and e2e-hardware.png.
 */
import fs from 'fs';
import path from 'path';
import { Locator, Page } from 'playwright-core';
import { BrowserMode, openBrowserMode, shot, until } from '../helpers/browser-mode';
import { REPO_ROOT, TINY_SPM } from '../helpers/models';

const WAIT = 60_000;
const VULKAN = fs.existsSync(path.join(REPO_ROOT, 'build', 'bin', 'libggml-vulkan.so'));
const withVulkan = VULKAN ? test : test.skip;

jest.setTimeout(120_000);

let e2e: BrowserMode;
let page: Page;
/** when each hardware.usage request left the page (WebSocket frames) */
const usageFrames: number[] = [];

// ---- helpers -------------------------------------------------------------------------------------

/** The bundles in dist/ are what `npm start` serves: build them when a source is newer. */
function ensureBuilt(): void {
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
    }
    return t;
  };
  const built = (f: string) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : 0);
  const src = Math.max(newest(path.join(REPO_ROOT, 'renderer', 'src')), newest(path.join(REPO_ROOT, 'main')));
  const out = Math.min(built(path.join(REPO_ROOT, 'dist', 'renderer', 'app.js')), built(path.join(REPO_ROOT, 'dist', 'cli.js')));
  if (src > out) require(path.join(REPO_ROOT, 'scripts', 'build-ts.js')).build();
}

const header = () => page.getByRole('banner');
const contextMeter = () => page.getByRole('meter', { name: 'Context used' });
const settingsDialog = () => page.getByRole('dialog', { name: 'Settings' });
const gpuSlider = (d: Locator) => d.getByRole('slider', { name: 'GPU layers' });
const contextInput = (d: Locator) => d.getByRole('spinbutton', { name: 'Context length' });
/** the numbers of one memory bar (its image's text alternative) */
const memoryOf = (d: Locator, device: string) => d.getByRole('group', { name: `Memory on ${device}` }).getByRole('img').getAttribute('aria-label');
const statusText = (d: Locator) => d.getByRole('form', { name: 'Load settings' }).getByRole('status');

/** Opens the loaded (or only) model's settings from the header and waits for its form. */
async function openModelSettings(): Promise<Locator> {
  await header().getByRole('button', { name: 'Model settings' }).click();
  const d = settingsDialog();
  await d.getByRole('form', { name: 'Load settings' }).waitFor({ timeout: WAIT });
  await until('the Models tab', async () => (await d.getByRole('tab', { name: 'Models', exact: true }).getAttribute('aria-selected')) === 'true');
  return d;
}

async function closeSettings(): Promise<void> {
  const d = settingsDialog();
  await d.getByRole('button', { name: 'Close' }).click();
  await d.waitFor({ state: 'detached' });
}

/** Waits for a memory bar's numbers to differ from `before` (the debounced estimate came back). */
async function memoryChange(d: Locator, device: string, before: string | null): Promise<string> {
  let now: string | null = before;
  await until(`the ${device} estimate to change`, async () => {
    now = await memoryOf(d, device).catch(() => null);
    return now !== null && now !== before;
  });
  return now!;
}

/** Sets a range input with the keyboard, as a user would: Home, then ArrowRight n times. */
async function slideTo(slider: Locator, n: number): Promise<void> {
  await slider.focus();
  await slider.press('Home');
  for (let i = 0; i < n; i++) await slider.press('ArrowRight');
  await until(`the slider at ${n}`, async () => (await slider.inputValue()) === String(n));
}

async function setMargin(d: Locator, mib: number): Promise<void> {
  const margin = d.getByRole('spinbutton', { name: 'Fit margin (MiB)' });
  await margin.fill(String(mib));
  await margin.press('Enter');
  await d.getByText(`Fit margin saved: ${mib.toLocaleString('en-US')} MiB.`).waitFor();
}

async function setGuardrail(d: Locator, mode: 'Off' | 'Warn' | 'Strict'): Promise<void> {
  const radio = d.getByRole('radiogroup', { name: 'Memory guardrail' }).getByRole('radio', { name: mode, exact: true });
  await radio.check();
  await until(`the guardrail on ${mode}`, () => radio.isChecked());
}

// ---- setup ---------------------------------------------------------------------------------------

beforeAll(async () => {
  ensureBuilt();
  // lavapipe is only used when GGML_VK_VISIBLE_DEVICES names it
  e2e = await openBrowserMode({ prefix: 'hearth-e2e-ms-', models: [TINY_SPM], env: VULKAN ? { GGML_VK_VISIBLE_DEVICES: '0' } : {} });
  page = await e2e.newPage();
  page.on('websocket', (ws) =>
    ws.on('framesent', (f) => {
      if (String(f.payload).includes('"channel":"hardware.usage"')) usageFrames.push(Date.now());
    }),
  );
});

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  expect(stopped).toBe(true);
});

// ---- tests ---------------------------------------------------------------------------------------

test('the model settings open from the header: defaults, the trained maximum, the memory bars', async () => {
  await page.goto(e2e.url);
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor({ timeout: WAIT });
  // nothing polls usage while the hardware page is closed
  expect(usageFrames).toHaveLength(0);
  const d = await openModelSettings();
  await expect(d.getByRole('combobox', { name: 'Model to set up' }).locator('option:checked').textContent()).resolves.toBe('tiny-spm');
  // tiny-spm: 2 layers (+ the output layer), trained on 2,048 tokens
  await expect(gpuSlider(d).getAttribute('max')).resolves.toBe('3');
  await expect(d.getByRole('radio', { name: 'Auto', exact: true }).isChecked()).resolves.toBe(true);
  await expect(contextInput(d).inputValue()).resolves.toBe('2048');
  await d.getByText(/Trained maximum: 2,048 tokens/).waitFor();
  await expect(d.getByRole('button', { name: 'Save', exact: true }).isDisabled()).resolves.toBe(true);
  await memoryChange(d, 'System RAM', null);
  if (VULKAN) {
    const vk = await memoryChange(d, 'Vulkan0', null);
    expect(vk).toMatch(/^Vulkan0: needs [\d.]+ MiB \(weights [\d.]+ MiB, KV cache \d+ KiB, compute [\d.]+ MiB\); [\d.]+ GiB of 2\.00 GiB free left$/);
    // auto: the fit's decision in words
    await d.getByText(/^All 2 layers and the output layer on Vulkan0 with a context of 2,048 tokens/).waitFor({ timeout: WAIT });
  }
});

let movedTo: { gpuLayers: number; contextSize: number };

test('moving the GPU-layers slider and the context length changes the estimate', async () => {
  const d = settingsDialog();
  if (VULKAN) {
    const before = await memoryOf(d, 'Vulkan0');
    await slideTo(gpuSlider(d), 0);
    await expect(d.getByRole('radio', { name: 'Custom', exact: true }).isChecked()).resolves.toBe(true);
    const none = await memoryChange(d, 'Vulkan0', before);
    // nothing of the model on the GPU: weights and KV cache in system RAM
    expect(none).toMatch(/weights 0 B, KV cache 0 B/);
    await until('system RAM to hold the KV cache', async () => /KV cache [1-9]/.test((await memoryOf(d, 'System RAM')) ?? ''));
    await d.getByText(/^0 of 3 layers on the GPU/).waitFor();

    await slideTo(gpuSlider(d), 3);
    const all = await memoryChange(d, 'Vulkan0', none);
    expect(all).toMatch(/weights [1-9][\d.]* MiB, KV cache [1-9]\d* KiB/);
    await until('system RAM without the KV cache', async () => /KV cache 0 B/.test((await memoryOf(d, 'System RAM')) ?? ''));

    // 2 of 3: one layer (and its KV cache) and the output layer on the GPU, one layer in RAM
    await slideTo(gpuSlider(d), 2);
    const two = await memoryChange(d, 'Vulkan0', all);
    expect(two).toMatch(/weights [1-9][\d.]* MiB, KV cache [1-9]\d* KiB/);
    await until('system RAM to hold one layer’s KV cache', async () => /KV cache [1-9]/.test((await memoryOf(d, 'System RAM')) ?? ''));
  }
  // the context length moves the KV cache
  const device = VULKAN ? 'Vulkan0' : 'System RAM';
  const beforeCtx = await memoryOf(d, device);
  const kv = (s: string | null) => /KV cache ([\d.]+ \w+)/.exec(s ?? '')?.[1];
  await contextInput(d).fill('1024');
  const afterCtx = await memoryChange(d, device, beforeCtx);
  expect(kv(afterCtx)).not.toBe(kv(beforeCtx));
  movedTo = { gpuLayers: VULKAN ? 2 : 3, contextSize: 1024 };
  if (!VULKAN) await slideTo(gpuSlider(d), 3);
  await d.getByText(/^\d unsaved changes?$/).waitFor();
  await shot(page, 'model-settings');
});

test('save: the values are there again after a page reload', async () => {
  const d = settingsDialog();
  await d.getByRole('button', { name: 'Save', exact: true }).click();
  await statusText(d).filter({ hasText: 'Saved.' }).waitFor();
  await expect(d.getByRole('button', { name: 'Save', exact: true }).isDisabled()).resolves.toBe(true);

  await page.reload();
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor({ timeout: WAIT });
  const again = await openModelSettings();
  await expect(gpuSlider(again).inputValue()).resolves.toBe(String(movedTo.gpuLayers));
  await expect(again.getByRole('radio', { name: 'Custom', exact: true }).isChecked()).resolves.toBe(true);
  await expect(contextInput(again).inputValue()).resolves.toBe(String(movedTo.contextSize));
  // not loaded yet: no reload marks
  await expect(again.getByText('Reload required', { exact: true }).count()).resolves.toBe(0);
});

test('load with the saved values: the loaded model runs with them', async () => {
  const d = settingsDialog();
  await d.getByRole('button', { name: 'Save and load', exact: true }).click();
  await statusText(d).filter({ hasText: 'Saved and loaded.' }).waitFor({ timeout: WAIT });
  // the header: this model, with the saved context length
  await until('the context meter', async () => (await contextMeter().getAttribute('aria-valuemax').catch(() => null)) === String(movedTo.contextSize));
  // main reports the settings the model runs with: nothing differs, the button now reloads
  await d.getByRole('button', { name: 'Save and reload', exact: true }).waitFor();
  await d.getByText(/· loaded now$/).waitFor();
  await expect(d.getByText('Reload required', { exact: true }).count()).resolves.toBe(0);
  // a change that needs a reload is marked, and undoing it clears the mark
  await contextInput(d).fill('512');
  await d.getByText('Reload required', { exact: true }).waitFor();
  await expect(contextInput(d).getAttribute('aria-describedby')).resolves.toContain('ms-context-reload');
  await d.getByRole('button', { name: 'Undo changes' }).click();
  await until('no reload marks', async () => (await d.getByText('Reload required', { exact: true }).count()) === 0);
  await shot(page, 'model-settings-loaded');
});

withVulkan('guardrail strict: a load that would not fit is refused, with the numbers', async () => {
  const d = settingsDialog();
  await setGuardrail(d, 'Strict');
  await setMargin(d, 60000);
  // the estimate says so before any load
  const problems = d.getByRole('group', { name: 'Does not fit' });
  await problems.waitFor({ timeout: WAIT });
  await expect(problems.textContent()).resolves.toMatch(/Vulkan0 \(llvmpipe[^)]*\)\): needs [\d.]+ GiB \+ 58\.59 GiB margin, 2\.00 GiB free/);

  await contextInput(d).fill('768');
  await d.getByText('Reload required', { exact: true }).waitFor();
  await d.getByRole('button', { name: 'Save and reload', exact: true }).click();
  const refusal = d.getByRole('alert').filter({ hasText: 'Not loaded:' });
  await refusal.waitFor({ timeout: WAIT });
  await expect(refusal.textContent()).resolves.toMatch(/^Not loaded: This model and these settings do not fit: Vulkan0 \(llvmpipe[^)]*\)\): needs [\d.]+ GiB \+ 58\.59 GiB margin, 2\.00 GiB free\./);
  // still the model as it was
  await expect(contextMeter().getAttribute('aria-valuemax')).resolves.toBe(String(movedTo.contextSize));
  await d.getByText('Reload required', { exact: true }).waitFor();
  await d.getByRole('group', { name: 'Context', exact: true }).evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await shot(page, 'model-settings-strict');
});

withVulkan('guardrail warn: the load asks once; Load anyway loads it', async () => {
  const d = settingsDialog();
  await setGuardrail(d, 'Warn');
  // the 768 tokens are saved already: this only loads
  await d.getByRole('button', { name: 'Save and reload', exact: true }).click();
  const confirm = page.getByRole('dialog', { name: 'This model may not fit' });
  await confirm.waitFor({ timeout: WAIT });
  await expect(confirm.textContent()).resolves.toMatch(/This model may not fit: Vulkan0 \(llvmpipe[^)]*\)\): needs [\d.]+ GiB \+ 58\.59 GiB margin, 2\.00 GiB free\. Load anyway\?/);
  await shot(page, 'model-settings-confirm');
  await confirm.getByRole('button', { name: 'Load anyway' }).click();
  await confirm.waitFor({ state: 'detached' });
  await until('the reloaded model', async () => (await contextMeter().getAttribute('aria-valuemax').catch(() => null)) === '768');
  await until('no reload marks', async () => (await d.getByText('Reload required', { exact: true }).count()) === 0);
  // back to a margin that fits
  await setMargin(d, 1024);
  await d.getByRole('group', { name: 'Does not fit' }).waitFor({ state: 'detached', timeout: WAIT });
});

test('the hardware page: backends, devices, and a live CPU chart while it is open', async () => {
  const d = settingsDialog();
  await d.getByRole('tab', { name: 'Hardware', exact: true }).click();
  const devices = d.getByRole('table', { name: 'Hardware devices' });
  await devices.waitFor({ timeout: WAIT });
  await expect(d.getByRole('list', { name: 'Available backends' }).textContent()).resolves.toContain('CPU');
  await expect(devices.textContent()).resolves.toContain('CPU');
  if (VULKAN) {
    await expect(devices.textContent()).resolves.toMatch(/Vulkan0.*llvmpipe/);
    await d.getByText(/^Vulkan: llvmpipe/).waitFor();
  }
  const cpu = d.getByRole('img', { name: /^CPU use over the last \d+ s: now \d+%$/ });
  await cpu.waitFor({ timeout: WAIT });
  const first = Number(await cpu.getAttribute('data-samples'));
  await until('three more usage samples', async () => Number(await cpu.getAttribute('data-samples')) >= first + 3, 15_000);
  await expect(cpu.getAttribute('aria-label')).resolves.toMatch(/^CPU use over the last [4-9]\d* s/);
  await d.getByRole('img', { name: /^RAM use over the last \d+ s: now [\d.]+ \w+ of [\d.]+ GiB/ }).waitFor();
  if (VULKAN) await d.getByRole('img', { name: /^Vulkan0 memory use over the last \d+ s: now .* of 2\.00 GiB/ }).waitFor();
  await d.getByText(/^One sample a second while this page is open/).scrollIntoViewIfNeeded();
  await shot(page, 'hardware');

  // closed: the polling stops
  await closeSettings();
  const closedAt = Date.now();
  await new Promise((r) => setTimeout(r, 2500));
  expect(usageFrames.filter((t) => t > closedAt + 200)).toHaveLength(0);
  expect(usageFrames.length).toBeGreaterThanOrEqual(4);
});
