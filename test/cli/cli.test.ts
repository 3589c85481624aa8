/** The hearth command as a user runs it: a real process, the real engine host, generated models. */
import { spawn, spawnSync } from 'child_process';
import fs from 'fs';
import http from 'http';
import net from 'net';
import path from 'path';
import { tempDir } from '../helpers/engine';
import { copyModel, REPO_ROOT, TEST_MODELS, TINY_BPE, TINY_MOE, TINY_SPM } from '../helpers/models';
import { writeTestModel } from '../../scripts/make-test-model';
import { POOR_DRAFT_ACCEPTANCE } from '../../main/params';

const BIN = path.join(REPO_ROOT, 'bin', 'hearth.js');

function hearth(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120000 });
}

test('hearth info --json returns the metadata that was written', () => {
  for (const file of [TINY_SPM, TINY_BPE]) {
    const r = hearth(['info', file, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    const spec = TEST_MODELS.find((m) => m.out === file)!;
    expect(info.architecture).toBe('llama');
    expect(info.fileType).toBe('F16');
    expect(info.layers).toBeGreaterThan(0);
    expect(info.trainedContext).toBeGreaterThan(0);
    expect(info.hasChatTemplate).toBe(true);
    expect(info.parameters).toBeGreaterThan(1000);
    expect(info.tokenizer).toBe(spec.vocab === 'llama-spm' ? 'llama' : 'gpt2');
  }
});

test('hearth run streams text and is deterministic with a seed', () => {
  const args = ['run', TINY_SPM, '-p', 'Once upon a time', '-n', '16', '--seed', '42', '--temp', '0.8'];
  const a = hearth(args);
  const b = hearth(args);
  expect(a.status).toBe(0);
  expect(a.stdout.trim().length).toBeGreaterThan(0);
  expect(b.stdout).toBe(a.stdout);
  expect(a.stderr).toMatch(/16 generated/);
});

test('hearth run --draft decodes speculatively: the same greedy text, the acceptance on stderr; hearth fit --draft counts the draft\'s weights', () => {
  const args = ['run', TINY_SPM, '-p', 'Once upon a time', '-n', '16', '--temp', '0', '--ctx', '512'];
  const plain = hearth(args);
  const drafted = hearth([...args, '--draft', TINY_SPM, '--draft-max', '4']);
  expect(drafted.status).toBe(0);
  expect(drafted.stdout).toBe(plain.stdout);
  expect(drafted.stderr).toMatch(/draft (\d+)\/\1 accepted/);
  // llama-server's names for the same options
  const named = hearth([...args, '-md', TINY_SPM, '--spec-draft-n-max', '4']);
  expect(named.stdout).toBe(drafted.stdout);
  expect(/draft \d+\/\d+ accepted/.exec(named.stderr)?.[0]).toBe(/draft \d+\/\d+ accepted/.exec(drafted.stderr)?.[0]);
  const weights = (r: ReturnType<typeof hearth>) => JSON.parse(r.stdout).devices.reduce((n: number, d: { weights: number }) => n + d.weights, 0);
  const fitArgs = ['fit', TINY_SPM, '--ctx', '512', '--json'];
  const alone = hearth(fitArgs);
  const withDraft = hearth([...fitArgs, '--draft', TINY_SPM]);
  expect(withDraft.status).toBe(0);
  expect(weights(withDraft)).toBe(2 * weights(alone));
  // the kind "draft" without a draft model: a usage error in the options' words
  const noDraft = hearth([...args, '--speculative', 'draft']);
  expect(noDraft.status).toBe(1);
  expect(noDraft.stderr).toBe('hearth: --speculative draft needs --draft FILE: a smaller model with the same vocabulary that drafts the tokens\n');
});

test("hearth run's speculative limits take llama-server's names: --spec-ngram-* set the n-gram kinds' limits, a bad value is refused naming its option", () => {
  const args = ['run', TINY_SPM, '-p', Array(24).fill('red green blue yellow').join(' '), '-n', '120', '--temp', '0', '--ctx', '512', '--speculative', 'ngram-mod'];
  const drafted = (r: ReturnType<typeof hearth>) => Number(/draft \d+\/(\d+) accepted/.exec(r.stderr)?.[1] ?? 0);
  const byDefault = hearth(args);
  expect(byDefault.status).toBe(0);
  expect(drafted(byDefault)).toBeGreaterThan(0);
  // a match longer than the text: nothing to draft from
  const never = hearth([...args, '--spec-ngram-mod-n-match', '1024']);
  expect(never.status).toBe(0);
  expect(drafted(never)).toBe(0);
  expect(never.stdout).toBe(byDefault.stdout); // greedy output unchanged
  const shorter = hearth([...args, '--spec-ngram-mod-n-match', '16']);
  expect(drafted(shorter)).not.toBe(drafted(byDefault));
  for (const [flag, value] of [['--spec-ngram-size-n', '0'], ['--draft-min', '1.5'], ['--draft-p-min', '2'], ['--spec-ngram-mod-n-max', 'x']]) {
    const bad = hearth([...args, flag, value]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`^hearth: ${flag} must be `));
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  }
  expect(hearth(['--help']).stdout).toContain('[--spec-ngram-mod-n-match N]');
});

test('hearth run says when a draft\'s acceptance is poor, and how to stop it slowing the reply; a good one is not flagged', async () => {
  const other = path.join(tempDir('cli-draft-'), 'draft-spm-seed2.gguf');
  await writeTestModel({ out: other, size: 'tiny', vocab: 'llama-spm', seed: 2, untied: true });
  const args = ['run', TINY_SPM, '-p', 'Once upon a time', '-n', '64', '--temp', '0', '--ctx', '512', '--draft-max', '16'];
  const poor = hearth([...args, '--draft', other]);
  expect(poor.status).toBe(0);
  const [, accepted, drafted] = /draft (\d+)\/(\d+) accepted/.exec(poor.stderr)!.map(Number);
  expect(drafted).toBeGreaterThanOrEqual(POOR_DRAFT_ACCEPTANCE.minDrafted);
  expect(accepted / drafted).toBeLessThan(0.1);
  expect(poor.stderr).toContain('hearth: Few drafted tokens were accepted, so speculative decoding likely costs more time than it saves here: with a draft model, choose one closer to this model (the same family, a smaller size); or run without --draft and --speculative.\n');
  // the model drafting for itself: (nearly) every drafted token accepted, never flagged (a reply long
  // enough that its drafts are judged)
  const good = hearth([...args.map((a) => (a === '64' ? '200' : a)), '--draft', TINY_SPM]);
  const [, kept, tried] = /draft (\d+)\/(\d+) accepted/.exec(good.stderr)!.map(Number);
  expect(tried).toBeGreaterThanOrEqual(POOR_DRAFT_ACCEPTANCE.minDrafted);
  expect(kept / tried).toBeGreaterThan(0.5);
  expect(good.stderr).not.toContain('Few drafted tokens');
});

test('hearth fit with experts placed by hand names only the options given, counted right', () => {
  const ot = hearth(['fit', TINY_MOE, '--ctx', '512', '--gpu-layers', 'max', '-ot', 'ffn_.*_exps=CPU']);
  expect(ot.status).toBe(0);
  expect(ot.stdout).toMatch(/MoE \(\d+ experts per layer\): 1 tensor override \(-ot\)\n/);
  const both = hearth(['fit', TINY_MOE, '--ctx', '512', '--gpu-layers', 'max', '--n-cpu-moe', '2', '-ot', 'blk\\.0\\.ffn_.*_exps=CPU,blk\\.1\\.ffn_.*_exps=CPU']);
  expect(both.status).toBe(0);
  expect(both.stdout).toMatch(/MoE \(\d+ experts per layer\): experts of 2 layers on the CPU \(--n-cpu-moe\), 2 tensor overrides \(-ot\)\n/);
});

test('errors exit 1 with one line on stderr, never a signal', () => {
  const dir = tempDir();
  const bad = path.join(dir, 'bad.gguf');
  fs.writeFileSync(bad, 'not a gguf file at all');
  const r = hearth(['info', bad]);
  expect(r.signal).toBeNull();
  expect(r.status).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^hearth: .*magic/);
  const usage = hearth(['run', TINY_SPM]);
  expect(usage.status).toBe(1);
  expect(usage.stderr).toMatch(/usage: hearth run/);
  const unknown = hearth(['frobnicate']);
  expect(unknown.status).toBe(1);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('hearth --version and -v print the version and the llama.cpp commit of the addon (read from it, no engine), exit 0; without the addon the version still', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const devices = JSON.parse(hearth(['devices', '--json']).stdout) as { llamaCommit: string };
  expect(devices.llamaCommit).toMatch(/\S/);
  for (const flag of ['--version', '-v']) {
    const r = hearth([flag]);
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: `hearth ${pkg.version}\nllama.cpp ${devices.llamaCommit}\n`, stderr: '' });
  }
  // the addon missing: Hearth's version still, the commit's absence a note, exit 0
  const missing = path.join(tempDir(), 'hearth.node');
  const r = hearth(['--version'], { HEARTH_ADDON: missing });
  expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: `hearth ${pkg.version}\n` });
  expect(r.stderr).toBe(`hearth: note: the llama.cpp commit is unknown: the native addon is missing at ${missing}: run npm run build:native\n`);
});

/** A failed run: exit 1, exactly one line on stderr (matching `line`), no stack trace. */
function expectOneLine(r: ReturnType<typeof hearth>, line: RegExp): void {
  expect(r.signal).toBeNull();
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 1, stderr: expect.stringMatching(/^hearth: [^\n]+\n$/) });
  expect(r.stderr.trimEnd()).toMatch(line);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

describe('errors are one line that says what to do', () => {
  let dataDir: string;
  beforeAll(() => (dataDir = tempDir()));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => hearth([...args, '--data-dir', dataDir], env);

  test('serve: a port out of range, not a number, or missing', () => {
    expectOneLine(run(['serve', '--port', '70000']), /^hearth: --port 70000 is not a port: give one from 0 to 65535 \(0 picks a free one\)$/);
    expectOneLine(run(['serve', '--port', '-1']), /^hearth: --port -1 is not a port: give one from 0 to 65535/);
    expectOneLine(run(['serve', '--port', 'http']), /^hearth: --port must be a whole number, not "http"$/);
    // the next option is not the port
    expectOneLine(run(['serve', '--port']), /^hearth: --port needs a value \(see hearth --help\)$/);
    expectOneLine(hearth(['serve', '--port', '--data-dir', dataDir]), /^hearth: --port needs a value/);
    // an unknown option is named as one, with or without a value after it
    expectOneLine(run(['info', TINY_SPM, '--jsn']), /^hearth: hearth info has no option --jsn: see hearth --help$/);
  });

  test('serve: a port in use names the port and the option to choose another', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      expectOneLine(run(['serve', '--port', String(port)]), new RegExp(`^hearth: port ${port} is in use: choose another with --port N \\(--port 0 picks a free one\\)$`));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  test('serve: a host that is not this machine, or not a name at all', () => {
    expectOneLine(run(['serve', '--port', '0', '--host', 'no-such-host.invalid', '--allow-remote']), /^hearth: --host no-such-host\.invalid is not a known host name: give an address such as 127\.0\.0\.1$/);
    // TEST-NET-1 (RFC 5737): never an address of this machine
    expectOneLine(run(['serve', '--port', '0', '--host', '192.0.2.1', '--allow-remote']), /^hearth: 192\.0\.2\.1 is not an address of this machine: choose one of its addresses with --host/);
  });

  test('a data folder that cannot be made is named, and the run ends (Node 20 loops on /proc)', () => {
    const blocker = path.join(dataDir, 'a-file');
    fs.writeFileSync(blocker, '');
    expectOneLine(hearth(['serve', '--port', '0', '--data-dir', path.join(blocker, 'data')]), /^hearth: cannot create folder .*a-file[/\\]data: .*a-file is not a folder: choose another folder with --data-dir$/);
    if (process.platform === 'linux') {
      expectOneLine(hearth(['serve', '--port', '0', '--data-dir', '/proc/hearth-no-such/data']), /^hearth: cannot create folder \/proc\/hearth-no-such\/data \(ENOENT\): choose another folder with --data-dir$/);
    }
  });

  test('options the engine would refuse are named with their bounds or choices, before anything loads', () => {
    expectOneLine(run(['fit', TINY_SPM, '--cache-type', 'q9_9']), /^hearth: --cache-type q9_9 is not one of: f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1$/);
    expectOneLine(run(['run', TINY_SPM, '-p', 'hi', '--threads', '0']), /^hearth: --threads must be at least 1$/);
    expectOneLine(run(['run', TINY_SPM, '-p', 'hi', '--temp', '9']), /^hearth: --temp must be at most 5$/);
    expectOneLine(run(['run', TINY_SPM, '-p', '']), /^hearth: -p must not be empty$/);
    expectOneLine(run(['run', TINY_SPM, '--prompt', '']), /^hearth: --prompt must not be empty$/);
    expectOneLine(run(['fit', TINY_SPM, '--margin', '-1']), /^hearth: --margin must be at least 0$/);
    expectOneLine(run(['fit', TINY_SPM, '--ctx', '-5']), /^hearth: --ctx -5 is out of range: give 0 \(the model's trained context\) or 1 to 16,777,216 tokens$/);
  });

  test('an option is named as the user typed it (the short form --help lists, or the long one)', () => {
    expectOneLine(run(['run', TINY_SPM, '-p', 'hi', '-n', '-5']), /^hearth: -n must be at least -1$/);
    expectOneLine(run(['run', TINY_SPM, '-p', 'hi', '--n-predict', '-5']), /^hearth: --n-predict must be at least -1$/);
    expectOneLine(run(['run', TINY_SPM, '-p', 'hi', '-n', 'many']), /^hearth: -n must be a whole number, not "many"$/);
    expectOneLine(run(['run', TINY_SPM, '-p', 'hi', '-t', '0']), /^hearth: -t must be at least 1$/);
    expectOneLine(run(['run', TINY_SPM, '-p', 'hi', '-c', '-3']), /^hearth: -c -3 is out of range: give 0/);
    expectOneLine(run(['run', TINY_SPM, '-p']), /^hearth: -p needs a value \(see hearth --help\)$/);
    expectOneLine(run(['run', TINY_SPM, '-p', 'hi', '--gpu-layers=some']), /^hearth: --gpu-layers must be an integer >= 0, max or auto$/);
  });

  test('a model is named by its path or by its name in the models folder (exactly one match); a miss says which names there are', () => {
    const models = path.join(dataDir, 'models');
    fs.mkdirSync(path.join(models, 'a'), { recursive: true });
    fs.mkdirSync(path.join(models, 'b'), { recursive: true });
    copyModel(TINY_SPM, path.join(models, 'tiny-spm.gguf'));
    copyModel(TINY_BPE, path.join(models, 'a', 'twice.gguf'));
    copyModel(TINY_BPE, path.join(models, 'b', 'twice.gguf'));
    for (const name of ['tiny-spm', 'tiny-spm.gguf']) {
      const r = run(['info', name, '--json']);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      expect(JSON.parse(r.stdout).path).toBe(path.join(models, 'tiny-spm.gguf'));
    }
    expect(run(['fit', 'tiny-spm', '--json']).status).toBe(0);
    expectOneLine(run(['info', 'twice']), new RegExp(`^hearth: twice names 2 models in ${models}: give the path of one \\(${path.join(models, 'a', 'twice.gguf')}, ${path.join(models, 'b', 'twice.gguf')}\\)$`));
    expectOneLine(run(['run', 'nosuch', '-p', 'hi']), new RegExp(`^hearth: nosuch is no file, nor the name of a model in ${models}: give a \\.gguf file's path or a model's name \\(tiny-spm, twice\\)$`));
    fs.rmSync(models, { recursive: true });
  });

  test('an unknown command or option (a typo) is refused, not ignored', () => {
    expectOneLine(run(['frobnicate']), /^hearth: unknown command frobnicate: the commands are info, run, fit, devices, rpc-server, models, discover, pull, import, chats, serve \(see hearth --help\)$/);
    expectOneLine(run(['serve', '--prot', '8080']), /^hearth: hearth serve has no option --prot: see hearth --help$/);
    expectOneLine(run(['info', TINY_SPM, '--ctx', '512']), /^hearth: hearth info has no option --ctx/);
  });

  test('engine errors are worded without their code and add what to check; --verbose adds the stack trace', () => {
    const missing = path.join(dataDir, 'missing.gguf');
    expectOneLine(run(['info', missing]), new RegExp(`^hearth: model file not found: .*missing\\.gguf: check the path$`));
    expect(run(['info', missing]).stderr).not.toMatch(/\[|not_found/);
    const verbose = run(['info', missing, '--verbose']);
    expect(verbose.status).toBe(1);
    expect(verbose.stderr).toMatch(/^hearth: model file not found: .*missing\.gguf: check the path$/m);
    expect(verbose.stderr).toMatch(/^EngineError: model file not found/m);
    expect(verbose.stderr).toMatch(/^\s+at /m);
  });
});

test('--ctx is rounded up to what llama.cpp creates, with a one-line note saying so', () => {
  const r = hearth(['run', TINY_SPM, '-p', 'Once', '-n', '2', '--ctx', '300']);
  expect(r.status).toBe(0);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines[0]).toBe('hearth: note: --ctx 300 becomes 512: llama.cpp sizes a context in whole multiples of 256 tokens');
  // the context the engine really created
  expect(lines[1]).toMatch(/; context 512; /);
  // a multiple of 256 is used as given, without a note
  const exact = hearth(['run', TINY_SPM, '-p', 'Once', '-n', '2', '--ctx', '256']);
  expect(exact.stderr).not.toMatch(/note:/);
  expect(exact.stderr).toMatch(/; context 256; /);
  // fit estimates the size the load will create
  const fit = hearth(['fit', TINY_SPM, '--ctx', '10', '--json']);
  expect(fit.stderr).toBe('hearth: note: --ctx 10 becomes 256: llama.cpp sizes a context in whole multiples of 256 tokens\n');
  expect(JSON.parse(fit.stdout).contextSize).toBe(256);
});

test('hearth serve prints the URL with its token, serves the UI, and engine info only with the token', async () => {
  const dataDir = tempDir();
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^Hearth UI: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)$/m.exec(out);
        if (m) resolve(m[1]);
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
    const u = new URL(url);
    const get = (p: string, headers: http.OutgoingHttpHeaders = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        http.get({ host: u.hostname, port: u.port, path: p, headers }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      });
    const token = u.searchParams.get('token')!;
    // the bundle holds no secret: served without the token (browser-mode tests cover the rest)
    expect((await get('/api/info')).status).toBe(401);
    expect((await get(`/api/info?token=wrong${token}`)).status).toBe(401);
    const page = await get(`/?token=${token}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<div id="root">');
    expect((await get(`/?token=${token}`, { host: 'evil.example:80' })).status).toBe(403);
    expect((await get(`/?token=${token}`, { origin: 'http://evil.example' })).status).toBe(403);
    const info = JSON.parse((await get(`/api/info?token=${token}`)).body);
    expect(info.backends).toContain('CPU');
    expect(info.dataDir).toBe(dataDir);
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
