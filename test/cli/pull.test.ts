/**
 * hearth pull and hearth import (issue 14) as a user runs them: the real bin/hearth.js in a child
 * process (spawned asynchronously: the local hub runs in this process), HF_ENDPOINT pointing at the
 * local Hugging Face hub (test/helpers/hf-server.ts) serving generated GGUF files, a temporary data
 * folder. Not a terminal here, so progress comes as plain lines (the bar drawn in place on a TTY is
 * not exercised).
 */
import { spawn, type ChildProcess } from 'child_process';
import fs from 'fs';
import path from 'path';
import { dataPaths } from '../../main/paths';
import { silentLogger } from '../../main/logging/logger';
import { TokenVault } from '../../main/settings/token';
import { Store } from '../../main/store';
import { TINY_HUB_REPO, tinyHubRepo } from '../helpers/hf-server';
import { sha, useLocalHub } from '../helpers/local-hub';
import { REPO_ROOT, TINY_EMBED, TINY_SPM } from '../helpers/models';

const BIN = path.join(REPO_ROOT, 'bin', 'hearth.js');
const REPO = TINY_HUB_REPO;
const TOKEN = 'hf_cli_saved_token_42';
const hf = useLocalHub('hearth-cli-pull-', ({ spm, embed }) => ({
  token: TOKEN,
  repos: [tinyHubRepo(spm, embed), { id: 'meta/gated-GGUF', gated: true, files: [{ path: 'gated-Q8_0.gguf', data: spm }] }],
}));

interface Run { child: ChildProcess; stdout: string; stderr: string; done: Promise<number | null> }

function hearth(args: string[], dataDir: string): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, HF_ENDPOINT: hf.server.url };
  delete env.HF_TOKEN;
  delete env.HEARTH_DATA_DIR;
  const child = spawn(process.execPath, [BIN, ...args, '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const run: Run = { child, stdout: '', stderr: '', done: Promise.resolve(null) };
  child.stdout!.on('data', (b: Buffer) => (run.stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (run.stderr += b.toString()));
  run.done = new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  return run;
}

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('hearth pull OWNER/REPO picks the largest model that fits, downloads it into the models folder verified, and says where', async () => {
  const data = path.join(hf.dir, 'best');
  const r = hearth(['pull', REPO, '--json'], data);
  expect(await r.done).toBe(0);
  const out = JSON.parse(r.stdout) as { path: string; name: string; verdict: string; state: string };
  const target = path.join(dataPaths(data).models, 'tiny-Q8_0.gguf');
  expect(out).toMatchObject({ name: 'tiny-Q8_0.gguf', path: target, state: 'downloaded' });
  expect(sha(fs.readFileSync(target))).toBe(sha(hf.spm));
  expect(fs.readdirSync(dataPaths(data).models)).toEqual(['tiny-Q8_0.gguf']);
  // the verdict line, the choice, progress as plain lines (not a terminal)
  expect(r.stderr).toMatch(/^tiny-Q8_0\.gguf: (full GPU|partial GPU offload|CPU only) \(/m);
  expect(r.stderr).toMatch(/^picked tiny-Q8_0\.gguf \(Q8_0\)/m);
  expect(r.stderr).toMatch(/^tiny-Q8_0\.gguf: 100% 8\.6 MiB \/ 8\.6 MiB$/m);
  expect(r.stderr).not.toMatch(/\r/);

  // a second pull finds it there
  const again = hearth(['pull', REPO], data);
  expect(await again.done).toBe(0);
  expect(again.stdout).toBe(`already in the models folder: ${target}\n`);
});

test('hearth pull uses the token saved in the app (Settings → Models); one kept with the OS keychain is named as unreadable here', async () => {
  const data = path.join(hf.dir, 'token');
  const paths = dataPaths(data);
  fs.mkdirSync(paths.root, { recursive: true });
  // without a token: refused, in one line
  const refused = hearth(['pull', 'meta/gated-GGUF'], data);
  expect(await refused.done).toBe(1);
  expect(refused.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  // the token as the app saves it where it has no keychain (main/settings/token.ts)
  new TokenVault(paths.root, { logger: silentLogger }).set(TOKEN);
  const ok = hearth(['pull', 'meta/gated-GGUF'], data);
  expect(await ok.done).toBe(0);
  expect(sha(fs.readFileSync(path.join(paths.models, 'gated-Q8_0.gguf')))).toBe(sha(hf.spm));
  // kept with the keychain (the desktop app): the command says it cannot read it
  fs.rmSync(path.join(paths.models, 'gated-Q8_0.gguf'));
  new TokenVault(paths.root, { logger: silentLogger, cipher: { encrypt: (t) => Buffer.from(t).reverse(), decrypt: (b) => Buffer.from(b).reverse().toString() } }).set(TOKEN);
  const locked = hearth(['pull', 'meta/gated-GGUF'], data);
  expect(await locked.done).toBe(1);
  expect(locked.stderr).toMatch(/^note: the Hugging Face token saved in the app is kept with the OS keychain, which the hearth command cannot read; set HF_TOKEN/m);
});

test('hearth pull OWNER/REPO:QUANT downloads the one named; an unknown quantization or repository is one line', async () => {
  const data = path.join(hf.dir, 'named');
  const r = hearth(['pull', `${REPO}:q4_k_m`], data);
  expect(await r.done).toBe(0);
  const target = path.join(dataPaths(data).models, 'tiny-Q4_K_M.gguf');
  expect(r.stdout).toBe(`downloaded and verified (SHA-256): ${target}\n`);
  expect(sha(fs.readFileSync(target))).toBe(sha(hf.embed));

  const bad = hearth(['pull', `${REPO}:Q9_X`], data);
  expect(await bad.done).toBe(1);
  expect(bad.stderr).toBe(`hearth: ${REPO} has no Q9_X: its models are Q4_K_M, Q8_0\n`);
  const none = hearth(['pull', 'nobody/nothing-GGUF'], data);
  expect(await none.done).toBe(1);
  expect(none.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  expect(none.stderr).toBe(`hearth: no repository nobody/nothing-GGUF on ${new URL(hf.server.url).host}: check the name\n`);
  const usage = hearth(['pull', 'not a repo'], data);
  expect(await usage.done).toBe(1);
  expect(usage.stderr).toMatch(/^hearth: "not a repo" is not a repository: give OWNER\/REPO\[:QUANT\]/);
});

test('Ctrl+C pauses a pull (kept in the store); the next pull resumes from the byte reached and completes verified', async () => {
  const data = path.join(hf.dir, 'resume');
  const file = 'tiny-Q8_0.gguf';
  hf.server.fault(REPO, file, { bytesPerSecond: 1_000_000 });
  try {
    const first = hearth(['pull', `${REPO}:Q8_0`], data);
    await until('some progress', () => /tiny-Q8_0\.gguf: [1-9]\d?% /.test(first.stderr));
    first.child.kill('SIGINT');
    expect(await first.done).toBe(130);
    const m = /hearth: paused at (\d+) of (\d+) bytes: run hearth pull hearth\/tiny-GGUF:Q8_0 again to resume\n$/.exec(first.stderr);
    expect(m).not.toBeNull();
    const pausedAt = Number(m![1]);
    expect(pausedAt).toBeGreaterThan(0);
    expect(pausedAt).toBeLessThan(hf.spm.length);
    const part = path.join(dataPaths(data).models, `${file}.part`);
    expect(fs.statSync(part).size).toBe(pausedAt);
    const store = Store.open(dataPaths(data).database);
    try {
      expect(store.downloads.list().map((d) => [d.file, d.state])).toEqual([[file, 'paused']]);
    } finally {
      store.close();
    }

    hf.server.fault(REPO, file, null);
    const before = hf.server.cdnLog(REPO, file).length;
    const second = hearth(['pull', `${REPO}:Q8_0`], data);
    expect(await second.done).toBe(0);
    expect(second.stderr).toContain(`resuming ${file} at byte ${pausedAt} of ${hf.spm.length}`);
    const target = path.join(dataPaths(data).models, file);
    expect(sha(fs.readFileSync(target))).toBe(sha(hf.spm));
    expect(fs.existsSync(part)).toBe(false);
    // the download asked for the bytes after those on disk (the header reads before it are ranges from 0)
    const downloads = hf.server.cdnLog(REPO, file).slice(before).filter((e) => e.rangeStart !== null && e.rangeStart > 0 && e.range?.endsWith('-'));
    expect(downloads.map((e) => e.rangeStart)).toEqual([pausedAt]);
    expect(downloads[0].bytesSent).toBe(hf.spm.length - pausedAt);
    process.stdout.write(`${JSON.stringify({ pullResume: { fileBytes: hf.spm.length, pausedAt, resumedFrom: downloads[0].rangeStart, bytesAfterResume: downloads[0].bytesSent } })}\n`);
  } finally {
    hf.server.fault(REPO, file, null);
  }
});

test('hearth import: --copy and --move into the models folder, --link by reference; a file that is not a loadable GGUF is refused with the reason', async () => {
  const data = path.join(hf.dir, 'import');
  const models = dataPaths(data).models;
  const src = path.join(hf.dir, 'src');
  fs.mkdirSync(src, { recursive: true });

  const copy = hearth(['import', TINY_SPM, '--json'], data);
  expect(await copy.done).toBe(0);
  expect(JSON.parse(copy.stdout)).toMatchObject({ mode: 'copy', path: path.join(models, 'tiny-spm.gguf'), size: hf.spm.length });
  expect(sha(fs.readFileSync(path.join(models, 'tiny-spm.gguf')))).toBe(sha(hf.spm));
  expect(fs.existsSync(TINY_SPM)).toBe(true);
  expect(copy.stderr).toMatch(/^tiny-spm\.gguf: 100% /m);

  const moved = path.join(src, 'moved.gguf');
  fs.copyFileSync(TINY_EMBED, moved);
  const move = hearth(['import', moved, '--move'], data);
  expect(await move.done).toBe(0);
  expect(move.stdout).toBe(`moved into the models folder: ${path.join(models, 'moved.gguf')}\n`);
  expect(fs.existsSync(moved)).toBe(false);

  const linked = path.join(src, 'linked.gguf');
  fs.copyFileSync(TINY_EMBED, linked);
  const link = hearth(['import', linked, '--link'], data);
  expect(await link.done).toBe(0);
  expect(link.stdout).toBe(`added by reference: ${linked}\n`);
  const listed = hearth(['models', '--json'], data);
  expect(await listed.done).toBe(0);
  const lib = JSON.parse(listed.stdout) as { models: { path: string; origin: string }[] };
  expect(lib.models.map((m) => [path.basename(m.path), m.origin]).sort()).toEqual([['linked.gguf', 'reference'], ['moved.gguf', 'folder'], ['tiny-spm.gguf', 'folder']]);

  // refused, with the reason, and nothing lands in the models folder
  const text = path.join(src, 'notes.gguf');
  fs.writeFileSync(text, 'not a model at all');
  const cut = path.join(src, 'cut.gguf');
  fs.writeFileSync(cut, hf.spm.subarray(0, hf.spm.length - 1000));
  for (const [f, reason] of [[text, /not a GGUF file|magic/i], [cut, /past the end of the file|truncated|ends/i]] as const) {
    const r = hearth(['import', f, '--copy'], data);
    expect(await r.done).toBe(1);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(reason);
  }
  const both = hearth(['import', linked, '--copy', '--move'], data);
  expect(await both.done).toBe(1);
  expect(both.stderr).toBe('hearth: give one of --copy, --move, --link, not --copy and --move\n');
  expect(fs.readdirSync(models).sort()).toEqual(['moved.gguf', 'tiny-spm.gguf']);
});
