/**
 * Links the page asks to open (issue 12, left item 6a): window.open from any script reaches
 * setWindowOpenHandler, which must never open a browser by itself. Electron cannot run here (its
 * binary cannot be downloaded), so its dialog, shell and clipboard are doubles at that boundary:
 * the dialog double records what it was shown and answers with the button a test picks; the shell
 * double records what would have opened. The handler and LinkOpener are the real ones main.ts wires.
 */
import { LINK_LIMITS, LinkDialog, LinkOpener, windowOpenHandler } from '../../main/app/links';

/** Electron's dialog, shell and clipboard as doubles: a dialog stays open until the test answers it. */
function electronDoubles() {
  const dialogs: { options: LinkDialog; answer: (button: number) => void; fail: (e: Error) => void }[] = [];
  const opened: string[] = [];
  const copied: string[] = [];
  let clock = 1_000_000;
  const shell = {
    showMessageBox: (options: LinkDialog) => new Promise<{ response: number }>((resolve, reject) => dialogs.push({ options, answer: (response) => resolve({ response }), fail: reject })),
    openExternal: async (url: string) => void opened.push(url),
    writeClipboard: (text: string) => void copied.push(text),
  };
  const opener = new LinkOpener(shell, () => clock);
  return { dialogs, opened, copied, opener, handler: windowOpenHandler(opener), advance: (ms: number) => (clock += ms) };
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
