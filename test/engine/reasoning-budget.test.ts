/**
 * The reasoning budget (llama.cpp's reasoning-budget sampler, as llama-server applies it): once a
 * thinking model has reasoned for `reasoningBudget` tokens after the template's start tag, the end tag
 * is forced and the answer follows. TINY_THINK's template (THINKING_CHAT_TEMPLATE) opens `<think>` in
 * its generation prompt; its random weights never close it by themselves (greedy, they repeat `>`), so without a budget a
 * reply is reasoning only. And reasoningEffort reaches the template as reasoning_effort.
 */
import { EngineClient } from '../../main/engine/client';
import { errorOf, makeEngine } from '../helpers/engine';
import { TINY_SPM, TINY_THINK } from '../helpers/models';

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
