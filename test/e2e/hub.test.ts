/**
 * End to end: the hub page. `npm start` in browser mode with the real engine host and no model,
 * HF_ENDPOINT pointing at the local Hugging Face hub of test/helpers/hf-server.ts (loopback, real
 * HTTP, serving the generated test models; the download slowed so its progress shows), driven
 * through Debian's Chromium: search → open the repository → its files with fit badges (CPU only:
 * no GPU here) → download a quantization, its progress bar growing → "Chat with it" → a reply.
 * A gated repository without a token says how to add one. Screenshots:
 * test-output/screenshots/e2e-hub-results.png, e2e-hub-repo.png, e2e-hub-downloading.png, e2e-hub-gated.png.
 */
import fs from 'fs';
import { Page } from 'playwright-core';
import { GATED_WORDS } from '../../renderer/src/features/hub/HubPage';
import { BrowserMode, openBrowserMode, sendMessage, shot, until } from '../helpers/browser-mode';
import { startHfServer, TINY_HUB_REPO, tinyHubRepo, type HfServer } from '../helpers/hf-server';
import { TINY_EMBED, TINY_SPM } from '../helpers/models';

const WAIT = 60_000;
/** slow enough that the download of the 9 MB test model takes a few seconds */
const BYTES_PER_SECOND = 1_500_000;

jest.setTimeout(180_000);

let hub: HfServer;
let e2e: BrowserMode;
let page: Page;

beforeAll(async () => {
  hub = await startHfServer({
    token: 'hf_e2e_token',
    repos: [
      { ...tinyHubRepo(fs.readFileSync(TINY_SPM), fs.readFileSync(TINY_EMBED)), downloads: 1234, likes: 56 },
      { id: 'other/unrelated-GGUF', downloads: 10, files: [{ path: 'unrelated-Q4_0.gguf', data: fs.readFileSync(TINY_SPM) }] },
      { id: 'meta/gated-GGUF', gated: true, downloads: 5, files: [{ path: 'gated-Q4_0.gguf', data: fs.readFileSync(TINY_SPM) }] },
    ],
  });
  hub.fault(TINY_HUB_REPO, 'tiny-Q8_0.gguf', { bytesPerSecond: BYTES_PER_SECOND });
  e2e = await openBrowserMode({ prefix: 'hearth-e2e-hub-', env: { HF_ENDPOINT: hub.url, HF_TOKEN: '', GGML_VK_VISIBLE_DEVICES: '' } });
  page = await e2e.newPage();
  await page.goto(e2e.url);
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor({ timeout: WAIT });
});

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  await hub?.close();
  expect(stopped).toBe(true);
});

test('search → repository → fit badges → download with progress → Chat with it → a reply', async () => {
  await page.getByRole('button', { name: 'Find models' }).click();
  const results = page.getByRole('list', { name: 'Results' });
  // the page opens on the most downloaded; a search narrows it
  await results.getByRole('button', { name: 'Open other/unrelated-GGUF' }).waitFor({ timeout: WAIT });
  await page.getByRole('searchbox', { name: 'Search models' }).fill('tiny');
  await until('the search to narrow the results', async () => (await results.getByRole('button').count()) === 1, WAIT);
  const row = results.getByRole('button', { name: `Open ${TINY_HUB_REPO}` });
  expect(await row.textContent()).toMatch(/tiny-GGUF.*hearth.*1,234.*56.*updated/);
  await shot(page, 'hub-results');

  await row.click();
  const file = (name: string) => page.getByRole('listitem', { name, exact: true });
  // each model gets its verdict (CPU only: no GPU here); the projector none
  for (const name of ['tiny-Q8_0.gguf', 'tiny-Q4_K_M.gguf']) {
    await file(name).getByRole('status', { name: 'Fit: CPU only' }).waitFor({ timeout: WAIT });
  }
  expect(await file('mmproj-tiny-f16.gguf').textContent()).toMatch(/projector/);
  expect(await file('mmproj-tiny-f16.gguf').getByRole('status').count()).toBe(0);
  expect(await page.getByRole('region', { name: 'Q8_0' }).count()).toBe(1);
  await shot(page, 'hub-repo');

  await file('tiny-Q8_0.gguf').getByRole('button', { name: 'Download tiny-Q8_0.gguf' }).click();
  const bar = file('tiny-Q8_0.gguf').getByRole('progressbar', { name: 'tiny-Q8_0.gguf download progress' });
  const chat = file('tiny-Q8_0.gguf').getByRole('button', { name: 'Chat with tiny-Q8_0.gguf' });
  const seen: number[] = [];
  const sample = async () => {
    const v = await bar.getAttribute('value', { timeout: 100 }).catch(() => null);
    if (v !== null) seen.push(Number(v));
    return v === null ? null : Number(v);
  };
  await until('the download under way', async () => ((await sample()) ?? 0) > 0, WAIT);
  await shot(page, 'hub-downloading');
  // paused from the row: the row and the header's downloads panel say so; resumed, it goes on
  await file('tiny-Q8_0.gguf').getByRole('button', { name: 'Pause tiny-Q8_0.gguf' }).click();
  await file('tiny-Q8_0.gguf').getByText(/^paused · \d+%$/).waitFor({ timeout: WAIT });
  await page.getByRole('button', { name: 'Downloads (1 under way)' }).click();
  const panel = page.getByRole('region', { name: 'Downloads' });
  await panel.getByRole('listitem', { name: 'tiny-Q8_0.gguf: Paused' }).waitFor({ timeout: WAIT });
  await shot(page, 'hub-downloads-panel-paused');
  // Cancel asks first (bytes are on disk); Keep leaves the download alone
  await panel.getByRole('button', { name: 'Cancel tiny-Q8_0.gguf' }).click();
  await panel.getByRole('group', { name: 'Cancel tiny-Q8_0.gguf?' }).waitFor({ timeout: WAIT });
  await shot(page, 'hub-downloads-panel-cancel-ask');
  await panel.getByRole('button', { name: 'Keep downloading tiny-Q8_0.gguf' }).click();
  await panel.getByRole('button', { name: 'Close downloads' }).click();
  await file('tiny-Q8_0.gguf').getByRole('button', { name: 'Resume tiny-Q8_0.gguf' }).click();
  await until('the download to finish', async () => {
    await sample();
    return chat.isVisible();
  }, WAIT);
  const between = seen.filter((v) => v > 0 && v < 100);
  process.stdout.write(`${JSON.stringify({ hubDownloadProgressSeen: seen })}\n`);
  expect(between.length).toBeGreaterThan(0);
  // it only grows
  expect(seen).toEqual([...seen].sort((a, b) => a - b));

  await chat.click();
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor({ timeout: WAIT });
  await page.getByRole('meter', { name: 'Context used' }).waitFor({ timeout: WAIT });
  // the downloaded model is the one loaded, and it answers
  expect(await page.getByRole('banner').getByRole('combobox', { name: 'Model' }).inputValue()).toMatch(/[\\/]models[\\/]tiny-Q8_0\.gguf$/);
  const reply = await sendMessage(page, 'Hello');
  // (the default reply runs until the context is full: some text is enough, then it is stopped)
  expect(await reply.locator('.message-meta .model').textContent()).toBe('tiny-Q8_0');
  const text = async () => {
    const all = (await reply.textContent()) ?? '';
    const meta = (await reply.locator('.message-meta').textContent()) ?? '';
    return all.slice(meta.length).replace('Waiting for the first token…', '').trim();
  };
  await until('the reply to show some text', async () => (await text()).length > 0, WAIT);
  const stop = page.getByRole('button', { name: 'Stop generating' });
  // the reply may end between the check and the click (the button is then Send, disabled while the box is empty)
  if (await stop.isVisible()) await stop.click({ timeout: 5000 }).catch(() => undefined);
});

test('a gated repository: marked in the results; its fit refused without a token says to add one in Settings', async () => {
  await page.getByRole('button', { name: 'Find models' }).click();
  await page.getByRole('button', { name: 'Back to results' }).click();
  await page.getByRole('searchbox', { name: 'Search models' }).fill('gated');
  const row = page.getByRole('list', { name: 'Results' }).getByRole('button', { name: 'Open meta/gated-GGUF' });
  await row.waitFor({ timeout: WAIT });
  expect(await row.textContent()).toMatch(/gated/);
  await row.click();
  const alert = page.getByRole('alert').filter({ hasText: GATED_WORDS });
  await alert.waitFor({ timeout: WAIT });
  expect(await page.getByRole('listitem', { name: 'gated-Q4_0.gguf', exact: true }).getByRole('status', { name: 'Fit: gated: needs a token' }).count()).toBe(1);
  await shot(page, 'hub-gated');
});
