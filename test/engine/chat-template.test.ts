/**
 * A model's chatTemplate setting (common_chat_templates_init's override): a chat renders with it
 * instead of the file's own; a template that fails refuses the load with llama.cpp's reason; and the
 * settings' preview renders a sample with any template for a model file that is not loaded (its
 * vocabulary only), or the file's own when none is given. Real engine, TINY_SPM (ChatML in the file).
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { SAMPLE_CONVERSATION } from '../../main/models/template-preview';
import { errorOf, makeEngine } from '../helpers/engine';
import { TINY_SPM } from '../helpers/models';

jest.setTimeout(120_000);

let engine: EngineClient;
const greedy = { temperature: 0 };
const messages = [{ role: 'user' as const, content: 'Hi there' }];
const CUSTOM = "{%- for m in messages -%}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor -%}{%- if add_generation_prompt -%}[assistant]{%- endif -%}";
const BROKEN = '{% for m in messages %}{{ m.content }'; // an unclosed expression

beforeAll(async () => {
  engine = makeEngine();
});

afterAll(async () => {
  await engine.close();
});

describe('chatTemplate', () => {
  test("a chat renders with the setting's template instead of the file's", async () => {
    await engine.load('own', TINY_SPM, { contextSize: 512, threads: 2 });
    await engine.load('custom', TINY_SPM, { contextSize: 512, threads: 2, chatTemplate: CUSTOM });
    const own = await engine.applyTemplate('own', { messages });
    const custom = await engine.applyTemplate('custom', { messages });
    expect(own.prompt).toContain('<|im_start|>user\nHi there<|im_end|>');
    expect(custom.prompt).toBe('[user] Hi there\n[assistant]');
    // the chat reads what the template rendered: its prompt tokens are those of the custom prompt
    const r = await engine.chat('custom', { messages, maxTokens: 2, sampling: greedy });
    expect(r.timings.promptTokens).toBe(custom.tokens);
    expect(custom.tokens).toBe((await engine.tokenize('custom', custom.prompt, { addSpecial: true, parseSpecial: true })).length);
    // blank: the file's own
    await engine.load('blank', TINY_SPM, { contextSize: 512, threads: 2, chatTemplate: '' });
    expect((await engine.applyTemplate('blank', { messages })).prompt).toBe(own.prompt);
    for (const id of ['own', 'custom', 'blank']) await engine.unload(id);
  });

  test("a template that fails refuses the load with llama.cpp's reason", async () => {
    const err = await errorOf(engine.load('bad', TINY_SPM, { contextSize: 512, threads: 2, chatTemplate: BROKEN }));
    expect(err.code).toBe('invalid_argument');
    expect(err.message).toMatch(/the chat template setting failed/);
  });

  test("a template nested past what llama.cpp's Jinja engine's stack holds is refused before it parses; llama.cpp's own templates pass", async () => {
    const deep = [
      { tmpl: `{{ ${'('.repeat(20000)}1${')'.repeat(20000)} }}`, why: /the template has a tag with more than 256 operators and brackets \(line 1\)/ },
      { tmpl: `{{ 1${' + 1'.repeat(5000)} }}`, why: /more than 256 operators/ },
      { tmpl: `\n${'{% if true %}'.repeat(65)}x${'{% endif %}'.repeat(65)}`, why: /the template has blocks more than 64 deep inside each other, elif counted as a level \(line 2\)/ },
      // what closes no block in llama.cpp's parser lowers no count, a block set with arguments is a
      // block, and each elif is an if inside the one before
      { tmpl: `${'{% if true %}{% endgeneration %}'.repeat(65)}x${'{% endif %}'.repeat(65)}`, why: /more than 64 deep/ },
      { tmpl: `${'{% set x(a=1) %}'.repeat(65)}x${'{% endset %}'.repeat(65)}`, why: /more than 64 deep/ },
      { tmpl: `{% if false %}${'{% elif false %}'.repeat(64)}{% endif %}`, why: /more than 64 deep/ },
      // llama.cpp's parser skips the one token after generation unread: a tag closed by }} (the lexer
      // ends a tag there too) or with more in it could hide what follows
      { tmpl: `${'{% generation }}{% if 1 %}'.repeat(100)}`, why: /a \{% generation %\} tag with more in it than the word \(line 1\)/ },
      { tmpl: `{% if 1 %}{% generation{# %}{% endif %} #}x`, why: /a \{% generation %\} tag with more in it/ },
      { tmpl: `{%endgeneration}}{%for x in y%}{%endfor%}`, why: /a \{% endgeneration %\} tag with more in it/ },
    ];
    for (const { tmpl, why } of deep) {
      const preview = await errorOf(engine.previewTemplate(TINY_SPM, tmpl, { messages }));
      expect(preview.code).toBe('invalid_argument');
      expect(preview.message).toMatch(why);
      const load = await errorOf(engine.load('deep', TINY_SPM, { contextSize: 512, threads: 2, chatTemplate: tmpl }));
      expect(load.message).toMatch(/^the chat template setting failed: /);
      expect(load.message).toMatch(why);
    }
    // a plain generation tag is no block
    expect((await engine.previewTemplate(TINY_SPM, `{%- generation -%}${'{% if true %}'.repeat(64)}x${'{% endif %}'.repeat(64)}{% endgeneration %}`, { messages })).prompt).toBe('x');
    // at the bounds: rendered
    expect((await engine.previewTemplate(TINY_SPM, `{{ ${'('.repeat(100)}1${')'.repeat(100)} }}${'{% if true %}'.repeat(64)}x${'{% endif %}'.repeat(64)}`, { messages })).prompt).toBe('1x');
    // every template in llama.cpp's models/templates (the checkout this build cloned) is under the bounds
    const dir = path.join(__dirname, '../../build/llama.cpp/models/templates');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.jinja'));
    expect(files.length).toBeGreaterThan(40);
    for (const f of files) {
      const r = await engine.previewTemplate(TINY_SPM, fs.readFileSync(path.join(dir, f), 'utf8'), { messages }).then(() => null, (e: Error) => e.message);
      expect([f, r]).not.toEqual([f, expect.stringMatching(/run out of stack/)]);
    }
  });

  test('the preview renders a sample with any template, or the file\'s own, without loading the model', async () => {
    const custom = await engine.previewTemplate(TINY_SPM, CUSTOM, SAMPLE_CONVERSATION);
    expect(custom.prompt).toBe(
      '[system] You are a helpful assistant.\n[user] Hello! Who are you?\n[assistant] I am an assistant running on your computer.\n[user] What can you do?\n[assistant]',
    );
    expect(custom.template).toBe(CUSTOM);
    const own = await engine.previewTemplate(TINY_SPM, undefined, SAMPLE_CONVERSATION);
    expect(own.prompt).toContain('<|im_start|>system\nYou are a helpful assistant.<|im_end|>');
    expect(own.template).toContain('<|im_start|>');
    const err = await errorOf(engine.previewTemplate(TINY_SPM, BROKEN, SAMPLE_CONVERSATION));
    expect(err.code).toBe('invalid_argument');
    expect(err.message).toMatch(/chat template failed/);
    // why, as llama.cpp's parser says it (its own rethrow keeps only "std::exception")
    expect(err.message).not.toMatch(/std::exception/);
    expect(err.message).toMatch(/Parser Error|Unexpected/);
  });

  test('applyTemplate renders with a template given for one call, the model keeping its own', async () => {
    await engine.load('m', TINY_SPM, { contextSize: 512, threads: 2 });
    expect((await engine.applyTemplate('m', { messages }, CUSTOM)).prompt).toBe('[user] Hi there\n[assistant]');
    expect((await engine.applyTemplate('m', { messages })).prompt).toContain('<|im_start|>user');
    await engine.unload('m');
  });
});
