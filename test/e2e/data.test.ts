/**
 * End to end in browser mode (`npm start`, Debian's Chromium through playwright-core): Settings → Data.
 * A ChatGPT export (test/fixtures/imports/chatgpt/conversations.json) is picked in the file input: the
 * preview says its format, chats, messages and what is left out (counted here by the real reader of the
 * file), the import adds the chats to the list, search finds their words and opens the message, an
 * edited conversation shows its alternatives; the same file again adds nothing. A file dropped on the
 * window opens the Data page's preview. "Export all chats" downloads Hearth JSON (parsed: every stored
 * thread) and Markdown (a zip of one .md per chat); a chat's own Export menu downloads its .md. A backup
 * taken while a reply streams is restored after a change: the app restarts in the same server process
 * (the page reloads), the change is gone, the imported chats are there and a new reply comes. A file set
 * aside in <data>/images/.stray is counted on the page and deleted after asking.
 * Screenshots: test-output/screenshots/e2e-data-*.png.
 */
import Database from 'better-sqlite3';
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import type { Locator, Page } from 'playwright-core';
import * as yauzl from 'yauzl';
import { openImport } from '../../main/data/formats/detect';
import { IMPORT_FORMAT_NAMES } from '../../main/ipc/contract';
import { RESTART_GIVE_UP_MS } from '../../renderer/src/features/data/listeners';
import { dataPaths } from '../../main/paths';
import { STRAY_FOLDER } from '../../main/file-sweep';
import { testPng } from '../helpers/images';
import { BrowserMode, engineHosts, openBrowserMode, openSettings, seedDataDir, shot, untilWithShot } from '../helpers/browser-mode';
import { REPO_ROOT, TINY_BPE } from '../helpers/models';

const WAIT = 60_000;
jest.setTimeout(240_000);

const FIX = path.join(REPO_ROOT, 'test', 'fixtures', 'imports');
const CHATGPT = path.join(FIX, 'chatgpt', 'conversations.json');
const CLAUDE = path.join(FIX, 'claude', 'conversations.json');
const LOCAL = 'tiny-local.gguf';
/** a reply long enough to still stream while the backup is taken (the tiny BPE model writes until this) */
const LONG_REPLY_TOKENS = 400;

let e2e: BrowserMode;
let page: Page;
let downloads: string;

const until = untilWithShot(() => page, 'data', WAIT);

const chatLinks = () => page.getByRole('list', { name: 'Chat list' }).getByRole('link');
const chatLink = (title: string) => chatLinks().filter({ hasText: title });
const messageLog = () => page.getByRole('log', { name: 'Messages' });
const replies = () => messageLog().getByRole('article', { name: /^Reply from / });
/** a reply's written text (its rendered Markdown; empty until the first token) */
const replyText = async (m: Locator) => ((await m.locator('.markdown').first().textContent({ timeout: 1000 }).catch(() => '')) ?? '').trim();
const stopButton = () => page.getByRole('button', { name: 'Stop generating', exact: true });
const dataPanel = (dialog: Locator) => dialog.getByRole('tabpanel', { name: 'Data' });
const preview = (panel: Locator) => panel.getByRole('region', { name: 'Import preview' });

/** The preview's facts (its <dl>) as name → text. */
async function facts(card: Locator): Promise<Record<string, string>> {
  return card.locator('dl').evaluate((dl) => {
    const out: Record<string, string> = {};
    dl.querySelectorAll('dt').forEach((dt) => (out[dt.textContent ?? ''] = dt.nextElementSibling?.textContent ?? ''));
    return out;
  });
}

/** What an import of `file` adds, read by the app's own reader: chats, messages, and the left-out reasons counted. */
async function expected(file: string): Promise<{ format: string; threads: number; messages: number; skipped: string[] }> {
  const reader = await openImport(file, 'auto');
  let threads = 0;
  let messages = 0;
  const skipped = new Map<string, number>();
  const skip = (reason: string) => skipped.set(reason, (skipped.get(reason) ?? 0) + 1);
  for await (const t of reader.conversations()) {
    if (!('sourceId' in t)) {
      skip(t.skipped.reason);
      continue;
    }
    threads++;
    messages += t.messages.length;
    t.skipped.forEach((s) => skip(s.reason));
  }
  return { format: IMPORT_FORMAT_NAMES[reader.format], threads, messages, skipped: [...skipped].map(([r, n]) => `${r}: ${n}`).sort() };
}

/** The stored threads, read beside the running server (read-only). */
function storedThreadCount(): number {
  const db = new Database(dataPaths(e2e.dataDir).database, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT count(*) FROM threads').pluck().get() as number;
  } finally {
    db.close();
  }
}

/** The names in a zip's central directory. */
function zipNames(file: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const names: string[] = [];
      zip.on('entry', (e: yauzl.Entry) => {
        names.push(e.fileName);
        zip.readEntry();
      });
      zip.on('end', () => resolve(names));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

/** Clicks `button` and saves the download it starts; resolves with the suggested name and the saved path. */
async function download(button: Locator): Promise<{ name: string; file: string }> {
  const [d] = await Promise.all([page.waitForEvent('download', { timeout: WAIT }), button.click()]);
  const name = d.suggestedFilename();
  const file = path.join(downloads, name);
  await d.saveAs(file);
  return { name, file };
}

/** The server's processes (npm start's process group), from /proc: pid → its command line. */
function groupProcesses(pgid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp === pgid) out.set(Number(entry), fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      /* the process ended meanwhile */
    }
  }
  return out;
}

async function closeSettings(dialog: Locator): Promise<void> {
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'detached' });
}

beforeAll(async () => {
  e2e = await openBrowserMode({
    prefix: 'hearth-e2e-data-',
    prepare(dataDir) {
      seedDataDir(dataDir, { [LOCAL]: TINY_BPE }, { maxTokens: LONG_REPLY_TOKENS, seed: 1 });
    },
  });
  downloads = path.join(e2e.dataDir, '..', `${path.basename(e2e.dataDir)}-downloads`);
  fs.mkdirSync(downloads, { recursive: true });
  page = await e2e.newPage({ width: 1280, height: 900 });
  await page.goto(e2e.url);
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor({ timeout: WAIT });
}, 180_000);

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  if (downloads) fs.rmSync(downloads, { recursive: true, force: true });
  expect(stopped).toBe(true);
});

const IMPORTED_TITLES = (JSON.parse(fs.readFileSync(CHATGPT, 'utf8')) as { title: string }[]).map((c) => c.title);

test('import a ChatGPT export: preview, import, the chats listed, searched, with their alternatives; again adds nothing', async () => {
  const want = await expected(CHATGPT);
  // every conversation of the file is read (none of the fixture's is broken)
  expect(want.threads).toBe(IMPORTED_TITLES.length);
  expect(want.skipped.length).toBeGreaterThan(0);

  const dialog = await openSettings(page, 'Data');
  const panel = dataPanel(dialog);
  await shot(page, 'data-page');
  await panel.getByLabel('Choose a file to import').setInputFiles(CHATGPT);
  const card = preview(panel);
  await card.waitFor({ timeout: WAIT });
  expect(await facts(card)).toMatchObject({
    File: 'conversations.json',
    Format: want.format,
    Chats: String(want.threads),
    Messages: String(want.messages),
    'Already imported': '0',
  });
  expect(want.format).toBe('ChatGPT data export');
  expect((await card.getByRole('list', { name: 'Left out' }).getByRole('listitem').allTextContents()).sort()).toEqual(want.skipped);
  await shot(page, 'data-preview');

  await panel.getByRole('button', { name: `Import ${want.threads} chats`, exact: true }).click();
  const result = panel.getByRole('status').filter({ hasText: /^Imported / });
  await result.waitFor({ timeout: WAIT });
  expect(await result.textContent()).toBe(`Imported ${want.threads} chats (${want.messages} messages).`);
  expect(storedThreadCount()).toBe(want.threads);
  await shot(page, 'data-imported');
  await panel.getByRole('button', { name: 'Done', exact: true }).click();
  await closeSettings(dialog);

  // the chats are listed
  for (const title of IMPORTED_TITLES) await until(`"${title}" in the chat list`, async () => (await chatLink(title).count()) === 1);

  // search finds a word of an imported reply; its hit opens that chat at the message
  const search = page.getByRole('searchbox', { name: 'Search chats' });
  await search.fill('printed');
  const hits = page.getByRole('list', { name: 'Search results' }).getByRole('button');
  await until('the search hit', async () => (await hits.count()) === 1);
  expect(await hits.first().textContent()).toContain('A picture and a tool');
  await shot(page, 'data-search');
  await hits.first().click();
  await until('the hit’s message shown', async () => (await messageLog().getByRole('article').filter({ hasText: 'It printed 1.' }).count()) === 1);
  await search.press('Escape');

  // the conversation with a regeneration and an edit shows both as alternatives (the active path: the last of each)
  await chatLink('Edits and regenerations').click();
  const edited = messageLog().getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: 'And 3+3, exactly?' });
  await edited.waitFor({ timeout: WAIT });
  const pagerText = async (m: Locator) => (await m.getByRole('group', { name: 'Alternatives' }).textContent())?.replace(/\s/g, '');
  expect(await pagerText(edited)).toBe('2/2');
  const regenerated = replies().filter({ hasText: 'Four.' });
  expect(await pagerText(regenerated)).toBe('2/2');
  await shot(page, 'data-alternatives');
  // the edit's other side: the first question, with its own reply
  await edited.getByRole('button', { name: 'Previous alternative' }).click();
  await until('the edit’s first version', async () => (await messageLog().getByRole('article').filter({ hasText: '6!' }).count()) === 1);
  expect(await messageLog().getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: 'And 3+3?' }).count()).toBe(1);

  // the same file again: all imported before, nothing to import
  const again = await openSettings(page, 'Data');
  const panel2 = dataPanel(again);
  await panel2.getByLabel('Choose a file to import').setInputFiles(CHATGPT);
  const card2 = preview(panel2);
  await until('the second preview', async () => (await card2.count()) === 1 && (await facts(card2))['Already imported'] === String(want.threads));
  expect(await facts(card2)).toMatchObject({ Chats: '0', Messages: '0', 'Already imported': String(want.threads) });
  const none = panel2.getByRole('button', { name: 'Import 0 chats', exact: true });
  expect(await none.isDisabled()).toBe(true);
  await shot(page, 'data-preview-again');
  await panel2.getByRole('button', { name: 'Cancel', exact: true }).click();
  await card2.waitFor({ state: 'detached' });
  expect(storedThreadCount()).toBe(want.threads);
  await closeSettings(again);
});

test('a chat export dropped on the window opens the Data page’s preview', async () => {
  const want = await expected(CLAUDE);
  const text = fs.readFileSync(CLAUDE, 'utf8');
  const dt = await page.evaluateHandle((t) => {
    const d = new DataTransfer();
    d.items.add(new File([t], 'conversations.json', { type: 'application/json' }));
    return d;
  }, text);
  await page.dispatchEvent('main', 'dragover', { dataTransfer: dt });
  await page.dispatchEvent('main', 'drop', { dataTransfer: dt });
  const dialog = page.getByRole('dialog', { name: 'Settings' });
  await dialog.waitFor({ timeout: WAIT });
  expect(await dialog.getByRole('tab', { name: 'Data', exact: true }).getAttribute('aria-selected')).toBe('true');
  const card = preview(dataPanel(dialog));
  await card.waitFor({ timeout: WAIT });
  expect(await facts(card)).toMatchObject({ Format: want.format, Chats: String(want.threads), Messages: String(want.messages) });
  expect(want.format).toBe('Claude data export');
  await shot(page, 'data-dropped');
  // left as it was: nothing imported
  await dataPanel(dialog).getByRole('button', { name: 'Cancel', exact: true }).click();
  await card.waitFor({ state: 'detached' });
  await closeSettings(dialog);
  expect(storedThreadCount()).toBe(IMPORTED_TITLES.length);
});

test('export: all chats as Hearth JSON and as Markdown (a zip), one chat from its menu', async () => {
  const dialog = await openSettings(page, 'Data');
  const panel = dataPanel(dialog);
  const exportAll = panel.getByRole('button', { name: 'Export all chats', exact: true });

  await panel.getByRole('radio', { name: 'Hearth JSON' }).check();
  const json = await download(exportAll);
  expect(json.name).toMatch(/^hearth-chats-.+\.json$/);
  const bundle = JSON.parse(fs.readFileSync(json.file, 'utf8')) as { format: string; threads: { thread: { title: string } }[] };
  expect(bundle.format).toBe('hearth.threads');
  expect(bundle.threads.length).toBe(storedThreadCount());
  expect(JSON.stringify(bundle)).toContain('Edits and regenerations');

  await panel.getByRole('radio', { name: 'Markdown' }).check();
  const md = await download(exportAll);
  expect(md.name).toMatch(/^hearth-chats-.+\.zip$/);
  const names = await zipNames(md.file);
  expect(names.length).toBe(storedThreadCount());
  expect(names.every((n) => n.endsWith('.md'))).toBe(true);
  expect(names.some((n) => n.startsWith('Edits and regenerations'))).toBe(true);
  await shot(page, 'data-exported');
  await closeSettings(dialog);

  // one chat: its Export menu → Markdown downloads its .md
  const item = page.getByRole('list', { name: 'Chat list' }).getByRole('listitem').filter({ hasText: 'A picture and a tool' });
  await item.hover();
  await item.getByRole('button', { name: 'Export A picture and a tool' }).click();
  const menu = page.getByRole('menu', { name: 'Export A picture and a tool as' });
  await shot(page, 'data-export-menu');
  const one = await download(menu.getByRole('menuitem', { name: 'Markdown' }));
  expect(one.name).toMatch(/^A picture and a tool.*\.md$/);
  const text = fs.readFileSync(one.file, 'utf8');
  expect(text).toContain('A picture and a tool');
  expect(text).toContain('It printed 1.');
});

test('the files of deleted chats: counted with their size, deleted after asking', async () => {
  // one image set aside (as the sweep leaves a deleted chat's): named by its content's SHA-256
  const bytes = testPng(7);
  const aside = path.join(e2e.dataDir, 'images', STRAY_FOLDER, `${createHash('sha256').update(bytes).digest('hex')}.png`);
  fs.mkdirSync(path.dirname(aside), { recursive: true });
  fs.writeFileSync(aside, bytes);
  const dialog = await openSettings(page, 'Data');
  const section = dataPanel(dialog).getByRole('region', { name: 'Files of deleted chats' });
  await section.scrollIntoViewIfNeeded();
  await until('the file set aside is counted', async () => /Set aside now: 1 file \(/.test((await section.textContent()) ?? ''));
  await shot(page, 'data-stray');
  await section.getByRole('button', { name: 'Delete them now…' }).click();
  const ask = page.getByRole('dialog', { name: 'Delete the files of deleted chats?' });
  await shot(page, 'data-stray-ask');
  await ask.getByRole('button', { name: 'Delete', exact: true }).click();
  await until('the files are deleted', async () => (await section.getByRole('status').textContent()) === 'Deleted.');
  expect(fs.existsSync(aside)).toBe(false);
  expect(await section.textContent()).toContain('None are set aside now.');
  expect(await section.getByRole('button', { name: 'Delete them now…' }).isDisabled()).toBe(true);
  await closeSettings(dialog);
});

test('back up while a reply streams, change something, restore: the app restarts in place and the change is gone', async () => {
  const pgid = e2e.server.pid!;
  const before = groupProcesses(pgid);

  // a new chat with the local model, whose long reply streams
  await page.getByRole('button', { name: 'New chat', exact: true }).first().click();
  const picker = page.getByRole('combobox', { name: 'Model' });
  const local = await picker.locator('option', { hasText: 'tiny-local' }).getAttribute('value');
  await picker.selectOption(local!);
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill('Tell me a long story about backups');
  await page.getByRole('button', { name: 'Send message', exact: true }).click();
  await until('the reply to stream', async () => (await stopButton().count()) === 1 && (await replies().count()) === 1 && (await replyText(replies().last())).length > 0);
  const enginesBefore = engineHosts(pgid);
  expect(enginesBefore.length).toBe(1);

  // Back up now, while it streams
  const dialog = await openSettings(page, 'Data');
  const panel = dataPanel(dialog);
  const rows = panel.getByRole('list', { name: 'Backups' }).getByRole('listitem');
  // the daily backup of the first start may be listed already
  await panel.getByRole('button', { name: 'Back up now', exact: true }).waitFor();
  await until('the backups listed', async () => (await panel.getByText('No backups yet.').count()) + (await rows.count()) > 0);
  const backupsBefore = await rows.count();
  // still streaming as the backup is asked for
  expect(await stopButton().count()).toBe(1);
  await panel.getByRole('button', { name: 'Back up now', exact: true }).click();
  await until('the new backup row', async () => (await rows.count()) === backupsBefore + 1);
  await shot(page, 'data-backup');
  await closeSettings(dialog);

  // a change after the backup: an imported chat renamed
  const item = page.getByRole('list', { name: 'Chat list' }).getByRole('listitem').filter({ hasText: 'No current node' });
  await item.hover();
  await item.getByRole('button', { name: 'Rename No current node' }).click();
  const rename = page.getByRole('textbox', { name: 'Chat title' });
  await rename.fill('Renamed after the backup');
  await rename.press('Enter');
  await until('the renamed chat', async () => (await chatLink('Renamed after the backup').count()) === 1);
  // the reply ends (or is stopped) before the restore
  if ((await stopButton().count()) === 1) await stopButton().click();
  await until('the reply to end', async () => (await stopButton().count()) === 0);

  // restore the backup: asked first, then "Restarting…", then the page reloads
  const again = await openSettings(page, 'Data');
  const panel2 = dataPanel(again);
  // the newest backup first
  await panel2.getByRole('button', { name: /^Restore the backup of / }).first().click();
  const confirm = page.getByRole('dialog', { name: 'Restore this backup?' });
  await confirm.waitFor();
  await shot(page, 'data-restore-confirm');
  const reloaded = page.waitForEvent('load', { timeout: WAIT });
  await confirm.getByRole('button', { name: 'Restore and restart', exact: true }).click();
  const asked = Date.now();
  const overlay = page.getByRole('alertdialog', { name: 'Restarting…' });
  await overlay.waitFor({ timeout: WAIT });
  await shot(page, 'data-restarting');
  await reloaded;
  // the new App's app.info (another instance) reloads the page: not the fallback after RESTART_GIVE_UP_MS of answers
  expect(Date.now() - asked).toBeLessThan(RESTART_GIVE_UP_MS);
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor({ timeout: WAIT });
  await until('the chat list after the restart', async () => (await chatLink('No current node').count()) === 1);

  // the change after the backup is gone; the imported chats are there
  expect(await chatLink('Renamed after the backup').count()).toBe(0);
  for (const title of IMPORTED_TITLES) expect(await chatLink(title).count()).toBe(1);
  await shot(page, 'data-restored');

  // the restored chat whose reply was streaming at the backup: not left streaming, it says it is incomplete
  const story = chatLinks().filter({ hasNotText: new RegExp(IMPORTED_TITLES.join('|')) });
  expect(await story.count()).toBe(1);
  await story.click();
  await messageLog().getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: 'Tell me a long story about backups' }).waitFor({ timeout: WAIT });
  expect(await stopButton().count()).toBe(0);
  const restoredReply = replies().last();
  await restoredReply.waitFor({ timeout: WAIT });
  expect(await restoredReply.getByRole('note', { name: 'Why the reply stopped' }).textContent()).toMatch(/^Hearth closed while this reply was being written; it is incomplete/);
  await shot(page, 'data-restored-chat');

  // the backups list: the one restored and the one taken before restoring
  const settings = await openSettings(page, 'Data');
  await until('the backup taken before restoring, listed', async () => (await dataPanel(settings).getByRole('list', { name: 'Backups' }).getByRole('listitem').count()) === backupsBefore + 2);
  await closeSettings(settings);

  // the app works: a new chat's reply streams from the local model (stopped once it writes)
  await page.getByRole('button', { name: 'New chat', exact: true }).first().click();
  await until('the model picker enabled', () => picker.isEnabled());
  await picker.selectOption(local!);
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill('Are you back?');
  await page.getByRole('button', { name: 'Send message', exact: true }).click();
  await until('a reply after the restart', async () => (await replies().count()) === 1 && (await replyText(replies().last())).length > 0);
  if ((await stopButton().count()) === 1) await stopButton().click();
  await until('the reply to end', async () => (await stopButton().count()) === 0 && (await replies().last().getByRole('note', { name: 'Reply metrics' }).count()) === 1);
  await shot(page, 'data-after-restart');

  // the same server process: restarted in place, nothing crashed
  expect(e2e.server.exitCode).toBeNull();
  const after = groupProcesses(pgid);
  for (const [pid, cmd] of before) if (!/engine-host\.js/.test(cmd)) expect(after.get(pid)).toBe(cmd);
  expect(engineHosts(pgid)).toEqual(enginesBefore);
});
