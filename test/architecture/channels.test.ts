/**
 * docs/architecture.md lists, per file, the IPC channels it registers. This reads that table and
 * holds it against the code three ways: each file defines handlers for exactly its row's channels;
 * the rows together are the contract's channels, each once; and the services composeApp builds
 * answer every channel but the desktop app's own (registered in main/app/main.ts, which needs
 * Electron: none runs here).
 */
import fs from 'fs';
import path from 'path';
import { contract } from '../../main/ipc/contract';
import { chatApp } from '../helpers/chat';
import { REPO_ROOT } from '../helpers/models';

interface Row {
  file: string;
  desktopOnly: boolean;
  channels: string[];
}

/** The table between the channels markers: `| main/x.ts (note) | \`a.b\`, \`c.d\` |`. */
function docTable(markdown: string): Row[] {
  const m = /<!-- channels:start -->([\s\S]*?)<!-- channels:end -->/.exec(markdown);
  if (!m) throw new Error('docs/architecture.md has no channels table');
  return m[1]
    .split('\n')
    .filter((l) => /^\|\s*main\//.test(l))
    .map((l) => {
      const [, first, second] = l.split('|');
      const file = /main\/\S+\.ts/.exec(first)![0];
      return { file, desktopOnly: /desktop app only/.test(first), channels: [...second.matchAll(/`([^`]+)`/g)].map((c) => c[1]) };
    });
}

/** The channel names a file gives handlers: `'a.b': (…) =>` or `'a.b': async (…) =>`. */
function handlersIn(source: string): string[] {
  return [...source.matchAll(/'([a-z]+(?:\.[a-zA-Z]+)+)':\s*(?:async\s*)?\([^)]*\)\s*=>/g)].map((m) => m[1]);
}

const rows = docTable(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'architecture.md'), 'utf8'));
const sorted = (a: Iterable<string>) => [...a].sort();

test('each file registers exactly the channels its row lists', () => {
  expect(rows.length).toBeGreaterThan(3);
  for (const row of rows) {
    const source = fs.readFileSync(path.join(REPO_ROOT, row.file), 'utf8');
    expect({ file: row.file, channels: sorted(handlersIn(source)) }).toEqual({ file: row.file, channels: sorted(row.channels) });
  }
});

test("the rows together are the contract's channels, each once", () => {
  const listed = rows.flatMap((r) => r.channels);
  expect(listed.length).toBe(new Set(listed).size);
  expect(sorted(listed)).toEqual(sorted(Object.keys(contract)));
});

test('the services composeApp builds answer every channel but the desktop app’s own', async () => {
  const { app, close } = chatApp({ model: null }); // its engine is never asked anything: no host starts
  try {
    const desktop = rows.filter((r) => r.desktopOnly).flatMap((r) => r.channels);
    expect(desktop).toEqual(['app.openLogsFolder']);
    expect(app.services.registered()).toEqual(sorted(Object.keys(contract).filter((c) => !desktop.includes(c))));
  } finally {
    await close();
  }
});

test('the table reader and the handler finder see what they should', () => {
  expect(handlersIn("{ 'a.b': () => 1, 'c.dE': async (r) => r, 'not.aHandler': { request: x }, 'e.f': (r) => r }")).toEqual(['a.b', 'c.dE', 'e.f']);
  expect(docTable('<!-- channels:start -->\n| File | Channels |\n| main/x.ts (the desktop app only) | `a.b`, `c.d` |\n<!-- channels:end -->')).toEqual([
    { file: 'main/x.ts', desktopOnly: true, channels: ['a.b', 'c.d'] },
  ]);
});
