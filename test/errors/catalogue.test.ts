/**
 * The error catalogue (main/errors/catalogue.ts) is the one list of codes. Each code has its meaning
 * and its hint; the addon's codes (native/src/error_codes.h) are exactly the catalogue's native ones,
 * and the C++ uses each; every code the TypeScript makes is in the catalogue, and every catalogue code
 * is made somewhere; each error class carries catalogue codes; and the real addon's failures carry
 * them: bad arguments, a file that is not GGUF, parameters of the wrong type, a disposed model, and a
 * context that does not fit in memory (out_of_memory, under an address-space limit). The addon runs in
 * child processes (test/helpers/addon.ts).
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { errorLine } from '../../main/cli/errors';
import { UsageError } from '../../main/cli/args';
import { ModelFileChanged } from '../../main/engine/model-file';
import { EngineError } from '../../main/engine/protocol';
import { CLI_LOG_HINT, codesOf, ERROR_CODES, ERRORS, ErrorSpec, hintFor, isErrorCode, toCode } from '../../main/errors/catalogue';
import { GgufError } from '../../main/gguf/types';
import { GgufWriter } from '../../main/gguf/write';
import { IPC_ERROR_CODES, IpcError } from '../../main/ipc/contract';
import { toIpcError } from '../../main/services';
import { StoreError } from '../../main/store';
import { BridgeError } from '../../renderer/src/app/bridge';
import { describeError, describeMessageError } from '../../renderer/src/app/errors';
import { inAddon } from '../helpers/addon';
import { tempDir } from '../helpers/engine';
import { REPO_ROOT, TINY_SPM } from '../helpers/models';

const SPECS: [string, ErrorSpec][] = Object.entries(ERRORS);
const NATIVE_SRC = path.join(REPO_ROOT, 'native', 'src');

function sourceFiles(dir: string, ext: RegExp): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p, ext);
    return ext.test(e.name) ? [p] : [];
  });
}

/** The codes native/src/error_codes.h declares, each as its constant's name and its string. */
function headerCodes(): { name: string; code: string }[] {
  const text = fs.readFileSync(path.join(NATIVE_SRC, 'error_codes.h'), 'utf8');
  return [...text.matchAll(/static constexpr Code (\w+)\{"([^"]*)"\};/g)].map((m) => ({ name: m[1], code: m[2] }));
}

/** The TypeScript sources that make errors (not the catalogue itself). */
const TS_FILES = [...sourceFiles(path.join(REPO_ROOT, 'main'), /\.tsx?$/), ...sourceFiles(path.join(REPO_ROOT, 'renderer', 'src'), /\.tsx?$/)].filter(
  (f) => !f.startsWith(path.join(REPO_ROOT, 'main', 'errors') + path.sep),
);
const TS_TEXT = TS_FILES.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
const CPP_TEXT = sourceFiles(NATIVE_SRC, /\.(cpp|h)$/)
  .filter((f) => path.basename(f) !== 'error_codes.h')
  .map((f) => fs.readFileSync(f, 'utf8'))
  .join('\n');

test('every code has its meaning, whether it is the user’s to fix, a hint and the layers that use it', () => {
  expect(SPECS.length).toBeGreaterThan(30);
  for (const [code, spec] of SPECS) {
    expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
    expect(spec.meaning.length).toBeGreaterThan(10);
    expect(typeof spec.userFixable).toBe('boolean');
    expect(spec.layers.length).toBeGreaterThan(0);
    // a hint is a sentence; the only placeholders are {message} and {Message}, and they are filled
    expect(spec.hint.replace(/\{[mM]essage\}/g, '')).not.toMatch(/[{}]/);
    const shown = hintFor(code, 'the model is busy $& $1');
    expect(shown).not.toMatch(/\{[mM]essage\}/);
    if (spec.hint.includes('{message}')) expect(shown).toContain('the model is busy $& $1');
    if (spec.hint.includes('{Message}')) expect(shown).toContain('The model is busy $& $1.');
    if (spec.cli !== undefined) expect(spec.cli.length).toBeGreaterThan(5);
  }
  // the layers a code crosses are what the code types are made of
  expect([...IPC_ERROR_CODES].sort()).toEqual(SPECS.filter(([, s]) => s.layers.includes('ipc')).map(([c]) => c).sort());
  expect(new Set(ERROR_CODES).size).toBe(SPECS.length);
  // a load's context failure reaches the pages as load_failed (main/models/library.ts): its entry words it as that, no hint of its own nobody sees
  expect(ERRORS.context_failed.layers).not.toContain('ipc');
  expect(ERRORS.context_failed.hint).toBe(ERRORS.load_failed.hint);
});

test('the addon’s codes are the catalogue’s native codes, both ways, and the C++ uses each', () => {
  const header = headerCodes();
  expect(header.length).toBeGreaterThan(5);
  // the constant is named as its code, so `codes::out_of_memory` reads as what JS receives
  for (const h of header) expect(h.name).toBe(h.code);
  expect(header.map((h) => h.code).sort()).toEqual([...codesOf('native')].sort());
  // nothing declares a code the addon cannot produce
  const unused = header.filter((h) => !CPP_TEXT.includes(`codes::${h.name}`)).map((h) => h.code);
  expect(unused).toEqual([]);
  // and a code reaches an error only as a constant: HearthError and makeError take a Code, not a string
  expect(CPP_TEXT).not.toMatch(/(HearthError|makeError\(env,|failRun\([^,]+,)\s*\(?\s*"/);
});

test('every code the TypeScript makes is in the catalogue, and every catalogue code is made somewhere', () => {
  const made = new Set(
    [...TS_TEXT.matchAll(/new (?:IpcError|EngineError|StoreError|BridgeError|GgufError)\(\s*'([A-Za-z_]+)'|\bcode(?::| =) '([A-Za-z_]+)'/g)].map((m) => m[1] ?? m[2]),
  );
  expect(made.size).toBeGreaterThan(20);
  expect([...made].filter((c) => !isErrorCode(c))).toEqual([]);
  // a code nothing mentions outside the catalogue (the TypeScript quoting it, or the C++ using its
  // constant) is one nothing can produce
  const orphans = ERROR_CODES.filter((c) => !TS_TEXT.includes(`'${c}'`) && !CPP_TEXT.includes(`codes::${c}`));
  expect(orphans).toEqual([]);
});

test('each error class carries catalogue codes, and a foreign code becomes internal where it enters', () => {
  const engineCodes = [...codesOf('engine'), ...codesOf('native')];
  expect(new UsageError('--port needs a value').code).toBe('invalid_input');
  expect(codesOf('ipc')).toContain(new UsageError('x').code);
  expect(engineCodes).toContain(new ModelFileChanged('/m/a.gguf').code);
  expect(codesOf('gguf')).toContain(new GgufError('bad_magic', '/m/a.gguf', 'not GGUF').code);
  expect(codesOf('store')).toContain(new StoreError('write_failed', 'disk full').code);
  expect(codesOf('ipc')).toContain(new IpcError('busy', 'a reply is being written').code);
  // codes that arrive from outside the types: a process's reply, a socket's frame, a library's error
  expect(toCode('ENOENT', 'engine', 'native')).toBe('internal');
  expect(toCode('out_of_memory', 'engine', 'native')).toBe('out_of_memory');
  expect(toCode('write_failed', 'ipc')).toBe('internal'); // a store code that does not cross IPC
  expect(toCode(undefined, 'ipc')).toBe('internal');
  expect(new BridgeError('SQLITE_ERROR', 'x').code).toBe('internal');
  expect(new BridgeError('disconnected', 'x').code).toBe('disconnected');
  expect(new BridgeError('engine_hung', 'x').code).toBe('engine_hung');
  // an engine error crossing IPC keeps its code when the catalogue lets it cross, else it is internal (a bug)
  expect(toIpcError(new EngineError('out_of_memory', 'not enough memory for a context')).code).toBe('out_of_memory');
  expect(toIpcError(new EngineError('decode_failed', 'llama_decode failed')).code).toBe('internal');
});

test('the renderer and the hearth command word a code from its catalogue entry', () => {
  expect(describeError({ code: 'out_of_memory', message: 'not enough memory for a context of 8388608 tokens' })).toBe(ERRORS.out_of_memory.hint);
  expect(describeError({ code: 'load_failed', message: 'llama.cpp could not load a.gguf' })).toBe('This model could not be loaded: llama.cpp could not load a.gguf');
  expect(describeError({ code: 'no_such_code', message: 'boom' })).toBe('Something went wrong: boom');
  expect(describeMessageError('out_of_memory: not enough memory for this batch')).toBe(ERRORS.out_of_memory.hint);
  expect(describeMessageError('store_write_failed: the reply could not be saved (SQLITE_FULL); generation was stopped')).toBe(ERRORS.write_failed.replyHint);
  // a code only inside the text is not the reply's code
  expect(describeMessageError('the engine said engine_crashed somewhere')).toBe('The reply failed: the engine said engine_crashed somewhere');
  // the command: the code's own hint, else the log for what is not the user's to fix, else nothing
  expect(errorLine(new EngineError('out_of_memory', 'not enough memory'))).toBe(`not enough memory: ${ERRORS.out_of_memory.cli}`);
  expect(errorLine(new EngineError('decode_failed', 'llama_decode failed'))).toBe(`llama_decode failed: ${CLI_LOG_HINT}`);
  expect(errorLine(new EngineError('aborted', 'the request was aborted'))).toBe('the request was aborted');
});

describe('the real addon', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('hearth-errors-');
    fs.writeFileSync(path.join(dir, 'notes.gguf'), 'these are notes, not a model\n'.repeat(100));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('fails bad input with catalogue codes, as JS exceptions, without ending the process', async () => {
    const got = await inAddon<Record<string, { code: string; message: string } | null>>(
      `
      const codeOf = async (f) => { try { await f(); return null; } catch (e) { return { code: e.code, message: e.message }; } };
      const out = {};
      out.noPath = await codeOf(() => addon.loadModel());
      out.missing = await codeOf(() => addon.loadModel(input.missing, { gpuLayers: 0 }).promise);
      out.notGguf = await codeOf(() => addon.loadModel(input.notGguf, { gpuLayers: 0 }).promise);
      out.loadType = await codeOf(() => addon.loadModel(input.model, { gpuLayers: 'lots' }).promise);
      out.samplingType = await codeOf(() => addon.echoParams('sampling', { temperature: 'hot' }));
      const model = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
      out.contextType = await codeOf(() => addon.createContext(model, { contextSize: 'big' }));
      out.notAModel = await codeOf(() => addon.createContext({}, {}));
      const ctx = await addon.createContext(model, { contextSize: 256 });
      out.requestType = await codeOf(() => ctx.generate(JSON.stringify({ prompt: 'hi', seq: 'first' })));
      out.notJson = await codeOf(() => ctx.generate('{'));
      out.fine = await codeOf(() => ctx.generate(JSON.stringify({ prompt: 'hi', maxTokens: 2 })));
      out.abortNoId = await codeOf(() => ctx.abort());
      out.abortNotANumber = await codeOf(() => ctx.abort('7'));
      out.abortNaN = await codeOf(() => ctx.abort(NaN));
      out.abortFraction = await codeOf(() => ctx.abort(1.5));
      out.abortUnknown = (await ctx.abort(123456)) === 'unknown' ? null : { code: 'wrong' };
      await ctx.dispose();
      out.disposedContext = await codeOf(() => ctx.generate(JSON.stringify({ prompt: 'hi' })));
      await model.dispose();
      out.disposedModel = await codeOf(() => model.tokenize('hi'));
      out.disposedTemplate = await codeOf(() => model.applyChatTemplate(JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] })));
      return out;`,
      { model: TINY_SPM, missing: path.join(dir, 'missing.gguf'), notGguf: path.join(dir, 'notes.gguf') },
    );
    const codes = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, v?.code ?? null]));
    expect(codes).toEqual({
      noPath: 'invalid_argument',
      missing: 'load_failed',
      notGguf: 'load_failed',
      loadType: 'invalid_argument',
      samplingType: 'invalid_argument',
      contextType: 'invalid_argument',
      notAModel: 'invalid_argument',
      requestType: 'invalid_argument',
      notJson: 'invalid_argument',
      fine: null,
      abortNoId: 'invalid_argument',
      abortNotANumber: 'invalid_argument',
      abortNaN: 'invalid_argument',
      abortFraction: 'invalid_argument',
      abortUnknown: null,
      disposedContext: 'disposed',
      disposedModel: 'disposed',
      disposedTemplate: 'disposed',
    });
    const native = new Set<string>(codesOf('native'));
    for (const v of Object.values(got)) if (v) expect(native.has(v.code)).toBe(true);
    expect(got.notGguf!.message).toMatch(/notes\.gguf/);
  });

  test('words a model file puts in llama.cpp\'s error lines are not an allocation failure: load_failed, not out_of_memory', async () => {
    const dir = tempDir();
    try {
      // llama.cpp quotes the architecture in its error line: "unknown model architecture: 'out of memory'"
      const files: Record<string, string> = {};
      for (const arch of ['out of memory', 'x: failed to allocate', 'nonesuch']) {
        const file = path.join(dir, `${arch.replace(/\W+/g, '-')}.gguf`);
        await new GgufWriter().setString('general.architecture', arch).write(file);
        files[arch] = file;
      }
      const got = await inAddon<Record<string, string>>(
        `const out = {};
        for (const [arch, file] of Object.entries(input.files)) {
          try { await addon.loadModel(file, { gpuLayers: 0 }).promise; out[arch] = 'loaded'; } catch (e) { out[arch] = e.code; }
        }
        return out;`,
        { files },
      );
      expect(got).toEqual({ 'out of memory': 'load_failed', 'x: failed to allocate': 'load_failed', nonesuch: 'load_failed' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  // an address-space limit (prlimit, util-linux) makes the allocation fail for real; Linux only
  const linuxWithPrlimit = process.platform === 'linux' && (() => {
    try {
      execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  (linuxWithPrlimit ? test : test.skip)('a context llama.cpp cannot allocate is out_of_memory, and one that fits still loads', async () => {
    const got = await inAddon<{ big: { code: string; message: string } | null; small: number }>(
      `
      const model = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
      const vm = Number(/VmSize:\\s+(\\d+) kB/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      // 512 MiB more address space than the process has now: the KV cache of 8M tokens (2 GiB on this model) is not
      require('child_process').execFileSync('prlimit', ['--pid', String(process.pid), '--as=' + (vm + 512 * 2 ** 20)]);
      let big = null;
      try { await addon.createContext(model, { contextSize: 1 << 23 }); } catch (e) { big = { code: e.code, message: e.message }; }
      const ctx = await addon.createContext(model, { contextSize: 256 });
      const small = ctx.info().contextSize;
      await ctx.dispose();
      return { big, small };`,
      { model: TINY_SPM },
    );
    expect(got.big).toEqual({ code: 'out_of_memory', message: expect.stringMatching(/^not enough memory for a context of 8388608 tokens/) });
    expect(got.small).toBe(256);
  });
});
