/**
 * The reasoning budget (llama.cpp's reasoning-budget sampler, as llama-server applies it): once a
 * thinking model has reasoned for `reasoningBudget` tokens after the template's start tag, the end tag
 * is forced and the answer follows. TINY_THINK's template (THINKING_CHAT_TEMPLATE) opens `<think>` in
 * its generation prompt; its random weights never close it by themselves (greedy, they repeat `>`), so without a budget a
 * reply is reasoning only. And reasoningEffort reaches the template as reasoning_effort.
 */
import { EngineClient } from '../../main/engine/client';
import { readGgufHeader } from '../../main/gguf/read';
import { inAddon } from '../helpers/addon';
import { errorOf, makeEngine } from '../helpers/engine';
import { THINKING_CHAT_TEMPLATE, TINY_SPM, TINY_THINK } from '../helpers/models';

jest.setTimeout(120_000);

let engine: EngineClient;
const greedy = { temperature: 0 };
const messages = [{ role: 'user' as const, content: 'Why is the sky blue?' }];

beforeAll(async () => {
  engine = makeEngine();
  await engine.load('think', TINY_THINK, { contextSize: 512, threads: 2 });
});

afterAll(async () => {
  await engine.close();
});

/** Where `seq` starts in `tokens` (-1: nowhere). */
function indexOf(tokens: number[], seq: number[]): number {
  for (let i = 0; i + seq.length <= tokens.length; i++) if (seq.every((t, j) => tokens[i + j] === t)) return i;
  return -1;
}

describe('reasoning budget', () => {
  test('the template is a thinking one', async () => {
    const t = await engine.applyTemplate('think', { messages });
    expect(t.supportsThinking).toBe(true);
    expect(t.thinkingStart).toBe('<think>');
    expect(t.thinkingEnd).toEqual(['</think>']);
    expect(t.prompt.endsWith('<think>')).toBe(true);
  });

  test('without a budget the random model reasons until the limit', async () => {
    const r = await engine.chat('think', { messages, maxTokens: 40, ignoreEos: true, sampling: greedy });
    expect(r.tokens).toHaveLength(40);
    expect(r.text).not.toContain('</think>');
    expect(r.reasoning.length).toBeGreaterThan(0);
    expect(r.content).toBe('');
  });

  test('a budget forces the end of thinking after that many tokens, and the answer follows', async () => {
    const end = await engine.tokenize('think', '</think>', { addSpecial: false, parseSpecial: true });
    for (const budget of [0, 5, 12]) {
      const r = await engine.chat('think', { messages, maxTokens: 40, ignoreEos: true, reasoningBudget: budget, sampling: greedy });
      expect(indexOf(r.tokens, end)).toBe(budget);
      expect(r.content.length).toBeGreaterThan(0);
      if (budget > 0) expect(r.reasoning.length).toBeGreaterThan(0);
    }
    // -1: no budget, as if none were given
    const unlimited = await engine.chat('think', { messages, maxTokens: 40, ignoreEos: true, reasoningBudget: -1, sampling: greedy });
    expect(indexOf(unlimited.tokens, end)).toBe(-1);
  });

  test('a template without thinking tags ignores the budget', async () => {
    await engine.load('plain', TINY_SPM, { contextSize: 512, threads: 2 });
    const a = await engine.chat('plain', { messages, maxTokens: 12, ignoreEos: true, sampling: greedy });
    const b = await engine.chat('plain', { messages, maxTokens: 12, ignoreEos: true, reasoningBudget: 0, sampling: greedy });
    expect(b.tokens).toEqual(a.tokens);
    await engine.unload('plain');
  });

  test('a reply holding bytes that are no UTF-8 (a byte token alone) is still parsed: its reasoning is kept', async () => {
    // llama.cpp's chat parser fails on ill-formed UTF-8; the reply was then all content (a CI run's e2e saw it)
    // the reply's bytes, from the vocab's token texts (SPM: "<0xE4>" is a byte, "▁" a space)
    const texts = (await readGgufHeader(TINY_SPM)).metadata.get('tokenizer.ggml.tokens')!.value as string[];
    const bytesOf = (tokens: number[]) =>
      Buffer.concat(tokens.map((t) => (/^<0x[0-9A-F]{2}>$/.test(texts[t]) ? Buffer.from([parseInt(texts[t].slice(3, 5), 16)]) : Buffer.from(texts[t].replace(/\u2581/g, ' ')))));
    const illFormed = (b: Buffer) => {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(b);
        return false;
      } catch {
        return true;
      }
    };
    await engine.load('spm-think', TINY_SPM, { contextSize: 512, threads: 2, chatTemplate: THINKING_CHAT_TEMPLATE });
    try {
      let found = 0;
      for (let seed = 0; seed < 200 && found < 3; seed++) {
        let streamed = '';
        const r = await engine.chat('spm-think', { messages, maxTokens: 24, sampling: { seed } }, { onPiece: (_c, reasoning) => (streamed += reasoning) });
        if (!illFormed(bytesOf(r.tokens))) continue;
        found++;
        expect({ seed, reasoning: r.reasoning, content: r.content, streamed }).toEqual({ seed, reasoning: r.text, content: '', streamed: r.text });
      }
      expect(found).toBe(3);
    } finally {
      await engine.unload('spm-think');
    }
  });

  test('bytes are made UTF-8 as JavaScript decodes them: each ill-formed part one U+FFFD', async () => {
    // random bytes, weighted to the lead and continuation bytes where the decoder's rules are
    const pick = [0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff];
    let state = 7; // mulberry32
    const rand = (n: number) => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const cases = Array.from({ length: 5000 }, () => Array.from({ length: rand(12) }, () => pick[rand(pick.length)]));
    const got = await inAddon<number[][]>('return input.map((b) => [...addon.validUtf8(Buffer.from(b))]);', cases);
    const want = cases.map((b) => [...Buffer.from(new TextDecoder().decode(Uint8Array.from(b)))]);
    expect(got).toEqual(want);
    expect(want.some((b, i) => b.length !== cases[i].length)).toBe(true);
  });

  test('reasoningEffort reaches the template as reasoning_effort', async () => {
    const template = "{%- for m in messages -%}{{ m['role'] }}: {{ m['content'] }}\n{%- endfor -%}effort={{ reasoning_effort | default('none') }}";
    const high = await engine.applyTemplate('think', { messages, reasoningEffort: 'high' }, template);
    const none = await engine.applyTemplate('think', { messages }, template);
    expect(high.prompt).toContain('effort=high');
    expect(none.prompt).toContain('effort=none');
    const err = await errorOf(engine.chat('think', { messages, maxTokens: 1, reasoningEffort: 'extreme' as 'high' }));
    expect(err.code).toBe('invalid_argument');
  });
});
