/**
 * A model file's own chat template that crashes the engine only on some chats (a macro that recurses
 * without end when a message holds a phrase: llama.cpp's Jinja engine has no depth limit, so the stack
 * overflows and the host ends with SIGSEGV). The load's check of the template passes; the render mark
 * the addon keeps while the template renders a chat (main/engine/render-marks.ts) tells the client
 * which file's template was running, and after two hosts died so that template is not run again
 * while the file is unchanged. Real host, real addon, generated models; no double.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { renderCrashFile } from '../../main/engine/render-marks';
import { DEFAULT_CHAT_TEMPLATE, writeTestModel } from '../../scripts/make-test-model';
import { errorOf, hostStats, killHost, makeEngine, tempDir } from '../helpers/engine';
import { HANG_TRIGGER, HOSTILE_RENDER, TINY_SPM } from '../helpers/models';

jest.setTimeout(120_000);

const SMALL = { contextSize: 256, threads: 1 };
const TRIGGER = 'please recurse';
const RECURSING = `{%- macro f() -%}{{ f() }}{%- endmacro -%}{%- for message in messages -%}{%- if message['content'] is string and '${TRIGGER}' in message['content'] -%}{{ f() }}{%- endif -%}{%- endfor -%}${DEFAULT_CHAT_TEMPLATE}`;
const hi = { messages: [{ role: 'user' as const, content: 'Hi' }], maxTokens: 2, ignoreEos: true };
const trigger = { messages: [{ role: 'user' as const, content: `Now ${TRIGGER}.` }], maxTokens: 2, ignoreEos: true };

let engine: EngineClient;
let file: string;
let lost: string[] = [];

beforeAll(async () => {
  file = path.join(tempDir(), 'recursing-chat.gguf');
  await writeTestModel({ out: file, size: 'tiny', vocab: 'llama-spm', seed: 1, chatTemplate: RECURSING });
  engine = makeEngine({}, undefined, { maxRestarts: 100 });
  engine.onModelLost((id, e) => lost.push(`${id}: ${e.code}`));
});

afterAll(async () => {
  await engine.close();
});

beforeEach(() => {
  lost = [];
});

test("a file's own template that crashes the engine on some chats: each crash names it; after the second its models are dropped and it is not run again until the file changes", async () => {
  await engine.load('rec', file, SMALL);
  expect((await engine.chat('rec', hi)).tokens).toHaveLength(2);
  const first = await errorOf(engine.chat('rec', trigger));
  expect(first.code).toBe('engine_crashed');
  expect(first.message).toMatch(/^the engine host stopped \(signal SIGSEGV\) while rendering a chat with the chat template of "recursing-chat\.gguf"$/);
  // once is not yet the template's doing: the model loads again for the next chat, which works
  expect(lost).toEqual([]);
  expect((await engine.chat('rec', hi)).tokens).toHaveLength(2);
  const second = await errorOf(engine.chat('rec', trigger));
  expect(second.message).toBe(first.message);
  // the second crash: the model is dropped (the library hears why), not loaded again by itself
  expect(lost).toEqual(['rec: engine_crashed']);
  expect((await errorOf(engine.chat('rec', hi))).code).toBe('not_loaded');
  // its loads and its own template's previews are refused at once: nothing reaches the host
  const before = (await hostStats(engine)).loadsStarted;
  const refused = await errorOf(engine.load('rec', file, SMALL));
  expect(refused.code).toBe('engine_crashed');
  expect(refused.message).toMatch(/^the engine crashed twice while rendering a chat with the chat template of "recursing-chat\.gguf" .*set a Chat template of your own in the model's load settings, or pick another model$/);
  expect(await errorOf(engine.previewTemplate(file, undefined, hi))).toEqual(refused);
  expect((await hostStats(engine)).loadsStarted).toBe(before);
  // a template of the user's renders its chats, the one that crashed too
  await engine.load('rec', file, { ...SMALL, chatTemplate: '{% for m in messages %}{{ m.content }}{% endfor %}' });
  expect((await engine.chat('rec', trigger)).tokens).toHaveLength(2);
  expect((await engine.previewTemplate(file, '{{ messages[0].content }}', hi)).prompt).toBe('Hi');
  await engine.unload('rec');
  // the file changed (its time): it is another file, whose template runs again
  const later = new Date(Date.now() + 5_000);
  fs.utimesSync(file, later, later);
  await engine.load('rec', file, SMALL);
  expect((await engine.chat('rec', hi)).tokens).toHaveLength(2);
  await engine.unload('rec');
});

test('a crash outside a render counts against no template, and a render that ended leaves no mark', async () => {
  await engine.load('plain', TINY_SPM, SMALL);
  for (let i = 0; i < 2; i++) {
    // a chat rendered and answered in this host: its render's mark is gone
    expect((await engine.chat('plain', hi)).tokens).toHaveLength(2);
    let pieces = 0;
    const reply = engine.complete('plain', { prompt: 'Once', maxTokens: 200, ignoreEos: true }, { onPiece: () => pieces++ });
    while (pieces === 0) await new Promise((r) => setTimeout(r, 5));
    const how = await killHost(engine, 'SIGSEGV');
    expect(how).toBe('signal SIGSEGV');
    expect((await errorOf(reply)).message).toBe('the engine host stopped (signal SIGSEGV)');
  }
  expect(lost).toEqual([]);
  expect((await engine.chat('plain', hi)).tokens).toHaveLength(2);
  await engine.unload('plain');
});

test('a host killed while a template renders (no stack overflow: here SIGKILL) counts against no file', async () => {
  await engine.load('hang', HOSTILE_RENDER, SMALL);
  for (let i = 0; i < 2; i++) {
    const chat = engine.chat('hang', { messages: [{ role: 'user', content: HANG_TRIGGER }], maxTokens: 2 });
    chat.catch(() => undefined); // awaited below
    // inside the render (which would run for days; the watchdog's bound is 15 s)
    for (;;) {
      const st = await hostStats(engine);
      if (st.activities.some((a) => a.templateMs !== null)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await killHost(engine, 'SIGKILL')).toBe('signal SIGKILL');
    expect((await errorOf(chat)).message).toBe('the engine host stopped (signal SIGKILL)');
  }
  expect(lost).toEqual([]);
  expect((await engine.chat('hang', hi)).tokens).toHaveLength(2);
  await engine.unload('hang');
});

test("a death is the template's only as a stack overflow while exactly one file's template rendered", () => {
  const one = ['/m/a.gguf'];
  expect(renderCrashFile(one, { code: null, signal: 'SIGSEGV' })).toBe('/m/a.gguf');
  expect(renderCrashFile(one, { code: null, signal: 'SIGBUS' })).toBe('/m/a.gguf');
  // Windows' STATUS_STACK_OVERFLOW, as an unsigned and as a signed exit code
  expect(renderCrashFile(one, { code: 0xc00000fd, signal: null })).toBe('/m/a.gguf');
  expect(renderCrashFile(one, { code: -1073741571, signal: null })).toBe('/m/a.gguf');
  // other ends: killed (out of memory), aborted (an assert), an exit
  for (const end of [{ code: null, signal: 'SIGKILL' }, { code: null, signal: 'SIGABRT' }, { code: 1, signal: null }, { code: 0xc0000005, signal: null }]) {
    expect(renderCrashFile(one, end)).toBeUndefined();
  }
  // two templates rendering: which one overflowed is not known; none: not a render's
  expect(renderCrashFile(['/m/a.gguf', '/m/b.gguf'], { code: null, signal: 'SIGSEGV' })).toBeUndefined();
  expect(renderCrashFile([], { code: null, signal: 'SIGSEGV' })).toBeUndefined();
});

