/**
 * hearth chats import|export through the real command (bin/hearth.js in a child process) on a fresh data
 * folder: each other app's fixture imported with its preview printed, a re-import adding nothing, --preview
 * writing nothing, Markdown and Hearth JSON exports, the JSON bundle imported into another data folder and
 * exported again identical (but for export times and the default assistant each store makes), and bad input
 * refused with one line and exit 1, nothing written.
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { dataPaths } from '../../main/paths';
import { Store } from '../../main/store';
import { tempDir } from '../helpers/engine';
import { REPO_ROOT } from '../helpers/models';

const BIN = path.join(REPO_ROOT, 'bin', 'hearth.js');
const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'imports');

function hearth(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
}

function counts(dataDir: string): { threads: number; messages: number } {
  const store = Store.open(dataPaths(dataDir).database);
  try {
    return {
      threads: store.db.prepare('SELECT count(*) FROM threads').pluck().get() as number,
      messages: store.db.prepare('SELECT count(*) FROM messages').pluck().get() as number,
    };
  } finally {
    store.close();
  }
}

jest.setTimeout(120_000);

test('each format imports with a preview; the same file again adds nothing; --preview writes nothing', () => {
  const data = tempDir('hearth-chats-cli-');
  const chatgpt = path.join(FIXTURES, 'chatgpt', 'conversations.json');
  const dry = hearth(['chats', 'import', chatgpt, '--preview', '--data-dir', data, '--json']);
  expect(dry.status).toBe(0);
  const preview = JSON.parse(dry.stdout).preview;
  expect(preview).toMatchObject({ format: 'chatgpt', duplicates: 0 });
  expect(preview.threads).toBeGreaterThan(0);
  expect(counts(data).threads).toBe(0);

  const first = hearth(['chats', 'import', chatgpt, '--data-dir', data]);
  expect(first.status).toBe(0);
  expect(first.stdout).toMatch(/ChatGPT data export/);
  expect(first.stdout).toMatch(new RegExp(`imported ${preview.threads} chats \\(${preview.messages} messages\\)`));
  expect(counts(data)).toEqual({ threads: preview.threads, messages: preview.messages });

  const again = hearth(['chats', 'import', chatgpt, '--data-dir', data, '--json']);
  expect(again.status).toBe(0);
  expect(JSON.parse(again.stdout).result).toMatchObject({ state: 'done', imported: 0, duplicates: preview.threads });
  expect(counts(data).threads).toBe(preview.threads);

  let total = preview.threads;
  for (const [source, format] of [[path.join('claude', 'conversations.json'), 'claude'], ['lmstudio', 'lmstudio'], ['jan', 'jan']] as const) {
    const r = hearth(['chats', 'import', path.join(FIXTURES, source), '--data-dir', data, '--json']);
    expect({ source, status: r.status, stderr: r.stderr }).toEqual({ source, status: 0, stderr: '' });
    const out = JSON.parse(r.stdout);
    expect(out.preview.format).toBe(format);
    expect(out.result.imported).toBe(out.preview.threads);
    total += out.preview.threads;
  }
  expect(counts(data).threads).toBe(total);
});

test('export to Markdown and Hearth JSON; the bundle round-trips through another data folder', () => {
  const data = tempDir('hearth-chats-cli-');
  expect(hearth(['chats', 'import', path.join(FIXTURES, 'chatgpt', 'conversations.json'), '--data-dir', data]).status).toBe(0);
  const { threads } = counts(data);

  const md = path.join(data, 'out-md');
  const r = hearth(['chats', 'export', '--out', md, '--data-dir', data]);
  expect(r.status).toBe(0);
  const files = fs.readdirSync(md);
  expect(files).toHaveLength(threads);
  expect(files.every((f) => f.endsWith('.md'))).toBe(true);
  // a second export into the same folder never overwrites the files there
  const over = hearth(['chats', 'export', '--out', md, '--data-dir', data]);
  expect(over.status).toBe(1);
  expect(over.stderr).toMatch(/already holds .*\.md: export to an empty folder/);

  const jsonDir = path.join(data, 'out-json');
  const j = hearth(['chats', 'export', '--out', jsonDir, '--format', 'json', '--data-dir', data, '--json']);
  expect(j.status).toBe(0);
  const [bundleFile] = JSON.parse(j.stdout).files as string[];
  const bundle = JSON.parse(fs.readFileSync(bundleFile, 'utf8'));
  expect(bundle).toMatchObject({ format: 'hearth.threads' });
  expect(bundle.threads).toHaveLength(threads);

  const other = tempDir('hearth-chats-cli-');
  expect(hearth(['chats', 'import', bundleFile, '--data-dir', other]).status).toBe(0);
  expect(counts(other)).toEqual(counts(data));
  const back = path.join(other, 'out');
  expect(hearth(['chats', 'export', '--out', back, '--format', 'json', '--data-dir', other]).status).toBe(0);
  const again = JSON.parse(fs.readFileSync(path.join(back, fs.readdirSync(back)[0]), 'utf8'));
  // what differs: when each was exported, and the default assistant's creation time (each store makes its own)
  const strip = (b: { exportedAt?: number; threads: { exportedAt?: number; assistant?: { createdAt?: number; updatedAt?: number } }[] }) => {
    delete b.exportedAt;
    for (const t of b.threads) {
      delete t.exportedAt;
      if (t.assistant) delete t.assistant.createdAt, delete t.assistant.updatedAt;
    }
    return b;
  };
  expect(strip(again)).toEqual(strip(bundle));
  // and importing it again adds nothing
  const re = hearth(['chats', 'import', bundleFile, '--data-dir', other, '--json']);
  expect(JSON.parse(re.stdout).result).toMatchObject({ imported: 0, duplicates: threads });

  // one thread by id
  const store = Store.open(dataPaths(data).database);
  const id = store.db.prepare('SELECT id FROM threads LIMIT 1').pluck().get() as string;
  store.close();
  const one = path.join(data, 'one');
  expect(hearth(['chats', 'export', '--out', one, '--thread', id, '--data-dir', data]).status).toBe(0);
  expect(fs.readdirSync(one)).toHaveLength(1);
});

test('bad input: one line, exit 1, nothing written', () => {
  const data = tempDir('hearth-chats-cli-');
  const cases: [string[], RegExp][] = [
    [['chats', 'import', '/etc/hostname'], /not a format Hearth imports/],
    [['chats', 'import', path.join(FIXTURES, 'chatgpt', 'conversations.json'), '--from', 'claude'], /Claude/],
    [['chats', 'import', path.join(FIXTURES, 'jan'), '--from', 'nope'], /--from must be one of auto, hearth/],
    [['chats', 'import', path.join(data, 'missing.json')], /missing\.json/],
    [['chats', 'export'], /needs --out DIR/],
    [['chats', 'export', '--out', path.join(data, 'x'), '--format', 'pdf'], /--format must be one of md, json/],
    [['chats', 'export', '--out', path.join(data, 'x'), '--from', 'jan'], /hearth chats export has no option --from/],
    [['chats', 'export', '--out', path.join(data, 'x'), '--thread', 'nope'], /thread nope is not here/],
    [['chats', 'frobnicate'], /usage: hearth chats import/],
  ];
  for (const [args, message] of cases) {
    const r = hearth([...args, '--data-dir', data]);
    expect({ args, status: r.status, lines: r.stderr.trim().split('\n').length }).toEqual({ args, status: 1, lines: 1 });
    expect(r.stderr).toMatch(message);
  }
  expect(counts(data).threads).toBe(0);
  expect(fs.existsSync(path.join(data, 'x'))).toBe(false);
});

test('a chat an import would leave out is exported with a warning; a bundle\'s documents are read in their own step, shown on stderr', () => {
  const data = tempDir('hearth-chats-cli-');
  const store = Store.open(dataPaths(data).database);
  const deep = store.threads.create({ title: 'Deep arguments' });
  let nested: unknown = 1;
  for (let i = 0; i < 1000; i++) nested = [nested];
  store.messages.add({ threadId: deep.id, role: 'user', content: 'Call it' });
  store.messages.add({ threadId: deep.id, role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'f', arguments: { deep: nested } }] });
  // a chat attaching a document the bundle carries
  const text = 'The quokka sleeps under the baobab.';
  const ref = createHash('sha256').update(text).digest('hex');
  const withDoc = store.threads.create({ title: 'With a document' });
  store.messages.add({ threadId: withDoc.id, role: 'user', content: 'Read it', attachments: [{ type: 'document', ref, name: 'notes.txt' }] });
  const bundle = { format: 'hearth.threads', version: 3, exportedAt: 0, threads: [store.exportThreadJson(withDoc.id)], documents: [{ ref, name: 'notes.txt', kind: 'text', data: Buffer.from(text).toString('base64') }] };
  store.close();

  const out = path.join(data, 'out');
  const r = hearth(['chats', 'export', '--out', out, '--format', 'json', '--data-dir', data]);
  expect(r.status).toBe(0);
  expect(r.stderr).toBe(`warning: the chat "Deep arguments" (${deep.id}) is in the file, but an import would leave it out: conversations nested deeper than 256 levels (too deeply nested to import)\n`);

  const other = tempDir('hearth-chats-cli-');
  const file = path.join(other, 'bundle.json');
  fs.writeFileSync(file, JSON.stringify(bundle));
  const imp = hearth(['chats', 'import', file, '--data-dir', other]);
  expect(imp.status).toBe(0);
  expect(imp.stderr).toMatch(/^reading the file again for attached documents: 0\/1 MiB \(Ctrl\+C skips the rest\)$/m);
  expect(imp.stdout).toMatch(/imported 1 chats \(1 messages\)\n {2}1 attached document kept\n/);
  expect(fs.readFileSync(path.join(dataPaths(other).documents, ref), 'utf8')).toBe(text);

  // a chat attaching 22 documents the file does not carry: 20 named, the rest counted; no hint (importing again brings none)
  const third = tempDir('hearth-chats-cli-');
  const many = Store.open(dataPaths(third).database);
  const t = many.threads.create({ title: 'Many' });
  const refs = Array.from({ length: 22 }, (_, i) => createHash('sha256').update(`doc ${i}`).digest('hex'));
  many.messages.add({ threadId: t.id, role: 'user', content: 'Read them', attachments: refs.map((r, i) => ({ type: 'document' as const, ref: r, name: `d${i}.txt` })) });
  const missing = { format: 'hearth.threads', version: 3, exportedAt: 0, threads: [many.exportThreadJson(t.id)], documents: [], documentsMissing: refs };
  many.close();
  const missingFile = path.join(third, 'missing.json');
  fs.writeFileSync(missingFile, JSON.stringify(missing));
  const fresh = tempDir('hearth-chats-cli-');
  const r2 = hearth(['chats', 'import', missingFile, '--data-dir', fresh]);
  expect(r2.status).toBe(0);
  const lines = r2.stdout.split('\n');
  expect(lines.filter((l) => /^ {2}document "d\d+\.txt" \([0-9a-f]{12}…\) left out: the file does not carry its bytes$/.test(l))).toHaveLength(20);
  expect(r2.stdout).toContain('  0 attached documents kept\n');
  expect(r2.stdout).toContain('  and 2 more left out (--json lists them all)\n');
  expect(r2.stdout).not.toContain('delete those chats');
});
