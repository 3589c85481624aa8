/**
 * Links the page asks to open (issue 12, left item 6a): window.open from any script reaches
 * setWindowOpenHandler, which must never open a browser by itself. Electron cannot run here (its
 * binary cannot be downloaded), so its dialog, shell and clipboard are doubles at that boundary:
 * the dialog double records what it was shown and answers with the button a test picks; the shell
 * double records what would have opened (or fails, as shell.openExternal does when the system has
 * no handler). The handler, LinkOpener and the notice reporting are the real ones main.ts wires; the
 * notices reach a page through the real IPC registration over Electron's IPC doubles
 * (test/helpers/electron-ipc.ts).
 */
import { registerIpc } from '../../main/app/ipc';
import { LINK_LIMITS, LinkDialog, LinkNotice, LinkOpener, reportLinkNotices, windowOpenHandler } from '../../main/app/links';
import { EVENT_CHANNEL } from '../../main/app/preload-api';
import { APP_INDEX_URL } from '../../main/app/scheme';
import { dataPaths } from '../../main/paths';
import { Services } from '../../main/services';
import { collectingLogger } from '../helpers/engine';
import { IpcMainDouble, pageDouble } from '../helpers/electron-ipc';

/** Electron's dialog, shell and clipboard as doubles: a dialog stays open until the test answers it. */
function electronDoubles(opts: { openFails?: string; report?: (n: LinkNotice) => void } = {}) {
  const dialogs: { options: LinkDialog; answer: (button: number) => void; fail: (e: Error) => void }[] = [];
  const opened: string[] = [];
  const copied: string[] = [];
  const notices: LinkNotice[] = [];
  let clock = 1_000_000;
  const shell = {
    showMessageBox: (options: LinkDialog) => new Promise<{ response: number }>((resolve, reject) => dialogs.push({ options, answer: (response) => resolve({ response }), fail: reject })),
    // Electron's shell.openExternal rejects when the system cannot open the address
    openExternal: async (url: string) => {
      if (opts.openFails) throw new Error(opts.openFails);
      opened.push(url);
    },
    writeClipboard: (text: string) => void copied.push(text),
  };
  const opener = new LinkOpener(shell, { now: () => clock, report: opts.report ?? ((n) => void notices.push(n)) });
  return { dialogs, opened, copied, notices, opener, handler: windowOpenHandler(opener), advance: (ms: number) => (clock += ms) };
}

const settle = () => new Promise((r) => setImmediate(r));

test('window.open of an https link opens nothing until the user picks Open in a dialog showing the address', async () => {
  const e = electronDoubles();
  expect(e.handler({ url: 'https://example.com/page?q=1#top' })).toEqual({ action: 'deny' });
  await settle();
  expect(e.opened).toEqual([]);
  expect(e.dialogs).toHaveLength(1);
  const d = e.dialogs[0].options;
  expect(d.detail).toContain('https://example.com/page?q=1#top');
  expect(d.detail.startsWith('example.com\n')).toBe(true);
  expect(d.buttons).toEqual(['Open', 'Copy link', 'Cancel']);
  // Enter and Escape both cancel: only a deliberate pick of Open opens
  expect([d.defaultId, d.cancelId]).toEqual([2, 2]);
  e.dialogs[0].answer(0);
  await settle();
  expect(e.opened).toEqual(['https://example.com/page?q=1#top']);

  // Cancel opens nothing; Copy link copies
  e.handler({ url: 'https://example.org/' });
  await settle();
  e.dialogs[1].answer(2);
  await settle();
  e.handler({ url: 'https://example.net/' });
  await settle();
  e.dialogs[2].answer(1);
  await settle();
  expect(e.opened).toEqual(['https://example.com/page?q=1#top']);
  expect(e.copied).toEqual(['https://example.net/']);
});

test('other schemes, look-alike hosts and over-long addresses: shown, never opened', async () => {
  const e = electronDoubles();
  for (const url of ['http://example.com/', 'file:///etc/passwd', 'javascript:alert(1)', 'ms-msdt:/id', 'smb://host/share', 'not a url', `https://example.com/${'a'.repeat(LINK_LIMITS.maxUrlChars)}`]) {
    const r = e.opener.request(url);
    await settle();
    const d = e.dialogs[e.dialogs.length - 1];
    expect([url, d.options.buttons]).toEqual([url, ['Copy link', 'Close']]);
    d.answer(0); // even the first button (Copy link) opens nothing
    expect(await r).toBe('copied');
    e.advance(LINK_LIMITS.windowMs);
  }
  expect(e.opened).toEqual([]);
  expect(e.dialogs.at(-1)!.options.detail.length).toBeLessThan(LINK_LIMITS.maxUrlChars + 100);
  // a host in look-alike letters (Cyrillic "а") is shown as the browser will reach it
  e.handler({ url: 'https://\u0430pple.com/' });
  await settle();
  expect(e.dialogs.at(-1)!.options.detail).toContain('xn--pple-43d.com');
  e.dialogs.at(-1)!.answer(0);
  await settle();
  expect(e.opened).toEqual(['https://xn--pple-43d.com/']);
});

test('a page calling window.open in a loop gets one dialog at a time, and a bounded number per minute', async () => {
  const e = electronDoubles();
  for (let i = 0; i < 1000; i++) expect(e.handler({ url: `https://example.com/${i}` })).toEqual({ action: 'deny' });
  await settle();
  expect(e.dialogs).toHaveLength(1); // the other 999 were dropped, not stacked
  // the user dismisses each; the page asks again at once
  for (let round = 0; round < 50; round++) {
    e.dialogs.at(-1)!.answer(2);
    await settle();
    e.handler({ url: `https://example.com/again/${round}` });
    await settle();
  }
  expect(e.dialogs).toHaveLength(LINK_LIMITS.dialogs);
  expect(e.opened).toEqual([]);
  // a minute on, links open again
  e.dialogs.at(-1)!.answer(2);
  await settle();
  e.advance(LINK_LIMITS.windowMs);
  e.handler({ url: 'https://example.com/later' });
  await settle();
  expect(e.dialogs).toHaveLength(LINK_LIMITS.dialogs + 1);
  // a dialog that fails (its window closed) frees the way for the next one
  e.dialogs.at(-1)!.fail(new Error('window destroyed'));
  await settle();
  e.handler({ url: 'https://example.com/after' });
  await settle();
  expect(e.dialogs).toHaveLength(LINK_LIMITS.dialogs + 2);
});

test('requests dropped past the limit are reported, once until a dialog shows again; one while a dialog is open is not', async () => {
  const e = electronDoubles();
  e.handler({ url: 'https://example.com/0' });
  e.handler({ url: 'https://example.com/while-open' }); // the user is looking at a dialog already
  await settle();
  expect(e.notices).toEqual([]);
  for (let i = 1; i < LINK_LIMITS.dialogs; i++) {
    e.dialogs.at(-1)!.answer(2);
    await settle();
    e.handler({ url: `https://example.com/${i}` });
    await settle();
  }
  e.dialogs.at(-1)!.answer(2);
  await settle();
  expect(e.dialogs).toHaveLength(LINK_LIMITS.dialogs);
  // past the limit: the first drop says so, the next ones (a page in a loop) stay quiet
  expect(await e.opener.request('https://example.com/past')).toBe('dropped');
  for (let i = 0; i < 100; i++) expect(await e.opener.request(`https://example.com/loop/${i}`)).toBe('dropped');
  expect(e.notices).toEqual([{ kind: 'limited' }]);
  // a minute on, a dialog shows again; the next time the limit is reached it is reported again
  e.advance(LINK_LIMITS.windowMs);
  for (let i = 0; i < LINK_LIMITS.dialogs; i++) {
    e.handler({ url: `https://example.com/later/${i}` });
    await settle();
    e.dialogs.at(-1)!.answer(2);
    await settle();
  }
  expect(await e.opener.request('https://example.com/past-again')).toBe('dropped');
  expect(e.notices).toEqual([{ kind: 'limited' }, { kind: 'limited' }]);
  expect(e.opened).toEqual([]);
});

test('Open picked but the system cannot open the link: the request fails and says why, not silently', async () => {
  const e = electronDoubles({ openFails: 'Failed to open: no application is registered for https' });
  const r = e.opener.request('https://example.com/docs');
  await settle();
  e.dialogs[0].answer(0);
  expect(await r).toBe('failed');
  expect(e.notices).toEqual([{ kind: 'openFailed', url: 'https://example.com/docs', reason: 'Failed to open: no application is registered for https' }]);
  // a failing report changes nothing: the request's outcome stands and nothing throws
  const quiet = electronDoubles({
    openFails: 'no browser',
    report: () => {
      throw new Error('the page is gone');
    },
  });
  const r2 = quiet.opener.request('https://example.com/');
  await settle();
  quiet.dialogs[0].answer(0);
  expect(await r2).toBe('failed');
});

test("the notices reach the app's page as an app.notice message, and the log, through main.ts's wiring", async () => {
  // the services and IPC registration are real; ipcMain and the page's webContents are Electron's doubles
  const services = new Services({ engine: {} as never, paths: dataPaths('/tmp/hearth-links-test'), appVersion: '0', logger: collectingLogger() });
  const ipcMain = new IpcMainDouble();
  const page = pageDouble(ipcMain, APP_INDEX_URL);
  const received: unknown[] = [];
  page.ipcRenderer.on(EVENT_CHANNEL, (_e: unknown, event: string, payload: unknown) => received.push([event, payload]));
  const stop = registerIpc(ipcMain, services, () => [page.webContents]);
  const logger = collectingLogger();
  const e = electronDoubles({ openFails: 'Failed to open', report: reportLinkNotices({ logger, emit: (p) => services.emit('app.notice', p) }) });
  const r = e.opener.request('https://docs.example.org/page');
  await settle();
  e.dialogs[0].answer(0);
  expect(await r).toBe('failed');
  expect(received).toEqual([
    ['app.notice', { kind: 'error', text: 'Hearth could not open the link to docs.example.org in your browser (Failed to open). Use Copy link and open it yourself.' }],
  ]);
  expect(logger.lines).toEqual(['links: the system could not open a link: Failed to open']);
  // past the limit
  for (let i = 1; i < LINK_LIMITS.dialogs; i++) {
    e.handler({ url: `https://example.com/${i}` });
    await settle();
    e.dialogs.at(-1)!.answer(2);
    await settle();
  }
  expect(await e.opener.request('https://example.com/past')).toBe('dropped');
  expect(received.at(-1)).toEqual([
    'app.notice',
    { kind: 'info', text: `The page asked to open more than ${LINK_LIMITS.dialogs} links within ${LINK_LIMITS.windowMs / 1000} s, so Hearth ignored the rest. Wait a minute, then click the link again.` },
  ]);
  stop();
});

test("an over-long reason from the system still reaches the page, cut, and the log gets it cut too", async () => {
  const services = new Services({ engine: {} as never, paths: dataPaths('/tmp/hearth-links-test'), appVersion: '0', logger: collectingLogger() });
  const ipcMain = new IpcMainDouble();
  const page = pageDouble(ipcMain, APP_INDEX_URL);
  const received: [string, { kind: string; text: string }][] = [];
  page.ipcRenderer.on(EVENT_CHANNEL, (_e: unknown, event: string, payload: { kind: string; text: string }) => received.push([event, payload]));
  const stop = registerIpc(ipcMain, services, () => [page.webContents]);
  const logger = collectingLogger();
  const reason = `Failed to open: ${'x'.repeat(100_000)}`;
  const e = electronDoubles({ openFails: reason, report: reportLinkNotices({ logger, emit: (p) => services.emit('app.notice', p) }) });
  // the longest host an openable address can have, too
  const host = `${'h'.repeat(LINK_LIMITS.maxUrlChars - 'https://.org/'.length)}.org`;
  const r = e.opener.request(`https://${host}/`);
  await settle();
  e.dialogs[0].answer(0);
  expect(await r).toBe('failed');
  const cut = `${reason.slice(0, LINK_LIMITS.noticePartChars - 1)}…`;
  expect(received).toEqual([['app.notice', { kind: 'error', text: `Hearth could not open the link to ${host.slice(0, LINK_LIMITS.noticePartChars - 1)}… in your browser (${cut}). Use Copy link and open it yourself.` }]]);
  expect(logger.lines).toEqual([`links: the system could not open a link: ${cut}`]);
  stop();
});
