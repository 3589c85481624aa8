/**
 * The engine protocol's method map (main/engine/methods.ts), checked on both ends:
 * - the real host process (dist/engine-host.js with the real addon), fed raw requests that do not fit
 *   their method's params, answers each `invalid_argument` and goes on serving;
 * - the client rejects a result that does not fit its method's schema with `internal`, and drops an
 *   event that does not fit. For that the child process is a tiny fake host script written here (the
 *   process boundary is the only place a malformed result can come from: the real host's results are
 *   typed from the same map);
 * - the host's handler table must cover every method: TypeScript refuses one that does not (checked
 *   here on a snippet, and by `tsc` on host-methods.ts itself).
 */
import { ChildProcess, fork } from 'child_process';
import fs from 'fs';
import path from 'path';
import ts from 'typescript';
import { EngineClient } from '../../main/engine/client';
import { createHandlers } from '../../main/engine/host-methods';
import { ISSUES_CHARS, ISSUES_SHOWN, METHODS } from '../../main/engine/methods';
import { collectingLogger, errorOf, HOST_SCRIPT, tempDir } from '../helpers/engine';
import { REPO_ROOT, TINY_SPM } from '../helpers/models';

type Reply = { type: string; id?: number; ok?: boolean; result?: unknown; error?: { code: string; message: string } };

/** The real host, spoken to in raw messages (no client in between to type or check them). */
class RawHost {
  readonly child: ChildProcess;
  private readonly replies = new Map<number, (r: Reply) => void>();
  private pong: (() => void) | undefined;
  readonly ready: Promise<void>;
  exited: { code: number | null; signal: string | null } | undefined;
  private nextId = 1;

  constructor() {
    this.child = fork(HOST_SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    this.child.on('exit', (code, signal) => (this.exited = { code, signal }));
    this.ready = new Promise((resolve) => {
      this.child.on('message', (m: Reply) => {
        if (m.type === 'ready') resolve();
        if (m.type === 'pong') this.pong?.();
        if (m.type === 'response' && m.id !== undefined) this.replies.get(m.id)?.(m);
      });
    });
  }

  /** Sends a request as the wire carries it; resolves with its response. */
  request(method: string, params: unknown): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.replies.set(id, resolve);
      this.child.send({ type: 'request', id, method, params });
    });
  }

  ping(): Promise<void> {
    return new Promise((resolve) => {
      this.pong = resolve;
      this.child.send({ type: 'ping' });
    });
  }

  stop(): Promise<void> {
    if (this.exited) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGKILL');
    });
  }
}

describe('the host validates params before dispatch', () => {
  let host: RawHost;

  beforeAll(async () => {
    host = new RawHost();
    await host.ready;
  });

  afterAll(() => host.stop());

  test('a request that does not fit its method is answered invalid_argument, and the host serves the next one', async () => {
    const loaded = await host.request('load', { modelId: 'm', path: TINY_SPM, params: { contextSize: 512, threads: 1 } });
    expect(loaded).toMatchObject({ ok: true, result: { modelId: 'm', context: { contextSize: 512 } } });
    const pid = host.child.pid;

    const bad: [string, unknown, RegExp][] = [
      ['tokenize', { modelId: 5, text: 'hi' }, /^tokenize: modelId Expected string, received number/],
      ['tokenize', { modelId: 'm' }, /^tokenize: text Required/],
      ['load', {}, /^load: modelId Required; path Required/],
      ['load', { modelId: 'm2', path: TINY_SPM, params: { contextSize: 'big' } }, /^load: params\.contextSize Expected number/],
      ['load', { modelId: 'm2', path: TINY_SPM, params: { ubatchSize: 4096, batchSize: 512 } }, /ubatchSize must not exceed batchSize/],
      ['chat', { modelId: 'm', request: { messages: [] } }, /^chat: request\.messages /],
      ['complete', { modelId: 'm', request: { prompt: 'x', sampling: { topK: 'many' } } }, /^complete: request\.sampling\.topK /],
      ['embed', { modelId: 'm', texts: 'not a list' }, /^embed: texts Expected array/],
      ['saveSession', { modelId: 'm', path: '/tmp/x', seq: -1 }, /^saveSession: seq /],
      ['tokenize', { modelId: 'm', text: 'hi', extra: true }, /Unrecognized key/],
      ['tokenize', 'not an object', /^tokenize: value Expected object, received string/],
      ['tokenize', null, /^tokenize: modelId Required; text Required/],
      ['nope', {}, /^unknown method nope$/],
      ['toString', {}, /^unknown method toString$/],
      ['__proto__', {}, /^unknown method __proto__$/],
    ];
    for (const [method, params, message] of bad) {
      const r = await host.request(method, params);
      expect({ method, ok: r.ok, code: r.error?.code }).toEqual({ method, ok: false, code: 'invalid_argument' });
      expect(r.error!.message).toMatch(message);
    }
    // a request with very many bad values is answered in a line: its first issues, then how many more
    const many = await host.request('detokenize', { modelId: 'm', tokens: Array.from({ length: 200_000 }, () => 'x') });
    expect(many.error?.code).toBe('invalid_argument');
    expect(many.error!.message).toMatch(new RegExp(`^detokenize: tokens\\.0 Expected number, received string; tokens\\.1 .* \\(and ${200_000 - ISSUES_SHOWN} more\\)$`));
    expect(many.error!.message.length).toBeLessThan(ISSUES_CHARS + 100);
    // a message with no usable id gets no answer and ends nothing
    host.child.send({ type: 'request', method: 'tokenize', params: {} });
    host.child.send({ hello: 'world' });
    await host.ping();

    // the same process, alive, with its model still loaded, serves a good request
    expect(host.exited).toBeUndefined();
    expect(host.child.pid).toBe(pid);
    const good = await host.request('tokenize', { modelId: 'm', text: 'hello' });
    expect(good.ok).toBe(true);
    expect((good.result as number[]).length).toBeGreaterThan(0);
    expect(await host.request('loaded', {})).toMatchObject({ ok: true, result: [expect.objectContaining({ modelId: 'm', path: TINY_SPM })] });
  });
});

/**
 * A fake engine host: answers version correctly, devices, tokenize and detokenize with results that
 * do not fit, a load with a bad progress event before a good one, and a load of model 'bad' with a
 * result that does not fit. It appends every request it gets to the file FAKE_HOST_LOG names.
 */
const FAKE_HOST = `
if (process.argv.includes('--probe')) {
  console.log(JSON.stringify({ backends: ['CPU'], devices: [], systemInfo: '', modules: [] }));
  process.exit(0);
}
process.on('disconnect', () => process.exit(0));
const meta = { path: '/m.gguf', architecture: 'llama', name: 'm', description: '', fileSize: 1, size: 1, parameters: 1, fileType: null, layers: 1,
  embeddingSize: 1, heads: 1, trainedContext: 512, vocabSize: 1, chatTemplate: null, pooling: 'none', isEmbedding: false, specialTokens: {},
  addBos: true, tokenizer: 'llama', fingerprint: 'f' };
const context = { contextSize: 512, batchSize: 512, ubatchSize: 512, parallel: 1, threads: 1, threadsBatch: 1, cacheTypeK: 'f16', cacheTypeV: 'f16',
  flashAttention: 'off', embeddings: false, swaFull: false, slidingWindow: 0, sequenceTokens: [0] };
const answers = {
  version: { llamaCommit: 'fake', backends: ['CPU'], systemInfo: '', defaultThreads: 1, pid: process.pid, modules: [] },
  devices: [{ backend: 'CPU', name: 'CPU' }],
  tokenize: ['not', 'numbers'],
  detokenize: 42,
  load: { modelId: 'm', metadata: meta, context, fit: null },
  unload: true,
};
process.on('message', (m) => {
  if (m.type === 'ping') return process.send({ type: 'pong' });
  if (m.type !== 'request') return;
  require('fs').appendFileSync(process.env.FAKE_HOST_LOG, JSON.stringify({ method: m.method, params: m.params }) + '\\n');
  if (m.method === 'load' && m.params.modelId === 'bad') return process.send({ type: 'response', id: m.id, ok: true, result: { modelId: 'bad' } });
  if (m.method === 'load') {
    process.send({ type: 'event', id: m.id, event: { kind: 'progress', progress: 'half' } });
    process.send({ type: 'event', id: m.id, event: { kind: 'piece', content: 'x', reasoning: '' } });
    process.send({ type: 'event', id: m.id, event: { kind: 'progress', progress: 0.5 } });
  }
  process.send({ type: 'response', id: m.id, ok: true, result: answers[m.method] });
});
process.send({ type: 'ready', pid: process.pid, llamaCommit: 'fake', backends: ['CPU'] });
`;

describe('the client checks results against the method map', () => {
  let dir: string;
  let engine: EngineClient;
  const logger = collectingLogger();
  let crashes = 0;
  let requestLog: string;
  const requests = () => fs.readFileSync(requestLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { method: string; params: Record<string, unknown> });

  beforeAll(() => {
    dir = tempDir();
    const script = path.join(dir, 'fake-host.js');
    fs.writeFileSync(script, FAKE_HOST);
    requestLog = path.join(dir, 'requests.jsonl');
    engine = new EngineClient({ hostScript: script, backend: 'cpu', logger, env: { FAKE_HOST_LOG: requestLog } });
    engine.onCrash = () => crashes++;
  });

  afterAll(async () => {
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a result that does not fit rejects with internal; one that fits resolves; the host is not restarted', async () => {
    expect(await engine.version()).toMatchObject({ llamaCommit: 'fake', modules: [] });
    const pid = engine.pid;
    const devices = await errorOf(engine.devices());
    expect(devices.code).toBe('internal');
    expect(devices.message).toMatch(/^the engine host answered devices with a malformed result: 0\.description Required/);
    const loaded = await engine.load('m', '/m.gguf', {});
    expect(loaded.context.contextSize).toBe(512);
    expect(await errorOf(engine.tokenize('m', 'hi'))).toMatchObject({ code: 'internal', message: expect.stringMatching(/tokenize with a malformed result: value expected a list of integers/) });
    expect(await errorOf(engine.detokenize('m', [1]))).toMatchObject({ code: 'internal', message: expect.stringMatching(/detokenize with a malformed result: value Expected string/) });
    // the same host still answers: a malformed result is a bug to report, not a crash
    expect(await engine.version()).toMatchObject({ pid });
    expect(engine.pid).toBe(pid);
    expect(crashes).toBe(0);
    expect(logger.lines.filter((l) => /engine (devices|tokenize|detokenize) #\d+ failed: internal/.test(l))).toHaveLength(3);
  });

  test('a load whose result does not fit rejects with internal, and the model is unloaded in the host again', async () => {
    const before = requests().length;
    expect(await errorOf(engine.load('bad', '/m.gguf', {}))).toMatchObject({ code: 'internal', message: expect.stringMatching(/answered load with a malformed result/) });
    expect(engine.isLoaded('bad')).toBe(false);
    // the unload is sent without waiting for its answer: the next request to the host follows it
    await engine.version();
    expect(requests().slice(before).map((r) => [r.method, r.params.modelId])).toEqual([['load', 'bad'], ['unload', 'bad'], ['version', undefined]]);
    expect(crashes).toBe(0);
  });

  test('an event that does not fit its method is dropped with a warning; one that fits arrives', async () => {
    await engine.unload('m');
    const before = logger.lines.length;
    const progress: number[] = [];
    await engine.load('m', '/m.gguf', { contextSize: 512 }, (p) => progress.push(p));
    expect(progress).toEqual([0.5]);
    expect(logger.lines.slice(before).filter((l) => l.startsWith('engine host sent an invalid load event'))).toEqual([
      'engine host sent an invalid load event: progress Expected number, received string',
      expect.stringMatching(/^engine host sent an invalid load event: kind Invalid literal value, expected "progress"/),
    ]);
  });
});

describe('the handler table covers the method map', () => {
  test('every method has a handler, and nothing else does', () => {
    const handlers = createHandlers({} as never);
    expect(Object.keys(handlers).sort()).toEqual(Object.keys(METHODS).sort());
  });

  test('TypeScript refuses a table that leaves a method out or answers the wrong type', () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'table.ts');
      const hostMethods = path.join(REPO_ROOT, 'main', 'engine', 'host-methods');
      fs.writeFileSync(
        file,
        [
          `import type { Handlers } from ${JSON.stringify(hostMethods)};`,
          'declare const full: Handlers;',
          'const { stats: _stats, ...rest } = full;',
          'export const missing: Handlers = rest;',
          "export const wrong: Handlers = { ...full, tokenize: async () => 'text' };",
          'export const right: Handlers = { ...full };',
        ].join('\n'),
      );
      const program = ts.createProgram([file], { strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022, moduleResolution: ts.ModuleResolutionKind.Node10, types: ['node'] });
      const diags = program.getSemanticDiagnostics(program.getSourceFile(file)).map((d) => ({
        line: program.getSourceFile(file)!.getLineAndCharacterOfPosition(d.start!).line + 1,
        text: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
      }));
      expect(diags).toEqual([
        { line: 4, text: expect.stringContaining("Property 'stats' is missing") },
        { line: 5, text: expect.stringMatching(/Type '.*' is not assignable to type .*number\[\]/s) },
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
