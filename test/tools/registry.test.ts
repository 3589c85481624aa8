/**
 * ToolRegistry (the tools a chat is offered, from every source, by the assistant's choice; a call
 * routed to the source that listed it) over two plain sources, and withinBudget (a tool's text cut to
 * its budget of tokens) with counters standing in for the model's tokenizer.
 */
import { type ToolDefinition, type ToolSource } from '../../main/tools/types';
import { COUNTED_CHARS, ToolRegistry, withinBudget } from '../../main/tools/registry';

const def = (name: string, source: string): ToolDefinition => ({
  name, key: `${source}:${name}`, description: `${name} of ${source}`, parameters: { type: 'object', properties: {} }, source, readsWebOnly: false, resultBudgetTokens: 100,
});
function source(defs: ToolDefinition[], tag: string): ToolSource & { calls: string[] } {
  const calls: string[] = [];
  return { calls, tools: () => defs, call: async (name) => (calls.push(name), { text: `${tag} ran ${name}`, isError: false }) };
}
const never = () => new AbortController().signal;

describe('ToolRegistry', () => {
  const builtins = source([def('current_time', 'builtin'), def('fetch_url', 'builtin')], 'builtins');
  const mcp = source([def('fx__shout', 'fx'), def('ev__echo', 'ev'), def('current_time', 'ev')], 'mcp');
  const registry = new ToolRegistry([builtins, mcp]);

  test('without a choice every tool is offered once (a name two sources give is the first one\'s); a call goes to its source', async () => {
    const offered = registry.offered(null);
    expect(offered.definitions.map((d) => `${d.source}/${d.name}`)).toEqual(['builtin/current_time', 'builtin/fetch_url', 'fx/fx__shout', 'ev/ev__echo']);
    expect(offered.engine[2]).toEqual({ type: 'function', function: { name: 'fx__shout', description: 'fx__shout of fx', parameters: { type: 'object', properties: {} } } });
    expect(await offered.call('fx__shout', {}, never())).toEqual({ text: 'mcp ran fx__shout', isError: false });
    expect(await offered.call('current_time', {}, never())).toEqual({ text: 'builtins ran current_time', isError: false });
    expect(registry.all()).toEqual(offered.definitions);
  });

  test('an assistant\'s choice offers its built-ins by name and its servers\' tools; others are unknown to the call', async () => {
    const offered = registry.offered({ builtins: ['fetch_url'], servers: ['fx'] });
    expect(offered.definitions.map((d) => d.name)).toEqual(['fetch_url', 'fx__shout']);
    expect(offered.byName('fx__shout')?.source).toBe('fx');
    expect(offered.byName('ev__echo')).toBeUndefined();
    const before = mcp.calls.length;
    expect(await offered.call('ev__echo', {}, never())).toEqual({ text: 'There is no tool named "ev__echo". The tools: fetch_url, fx__shout.', isError: true });
    expect(mcp.calls.length).toBe(before);
    expect(registry.offered({ builtins: [], servers: [] }).definitions).toEqual([]);
    expect((await registry.offered({ builtins: [], servers: [] }).call('x', {}, never())).text).toBe('There is no tool named "x". The tools: none.');
  });
});

describe('withinBudget', () => {
  /** words as tokens */
  const words = async (t: string) => t.split(/\s+/).filter(Boolean).length;
  const long = Array.from({ length: 1000 }, (_, i) => `w${i}`).join(' ');

  test('a text within the budget is unchanged', async () => {
    expect(await withinBudget('a few short words', 4, words)).toEqual({ text: 'a few short words', truncated: null });
    expect(await withinBudget(long, 1000, words)).toEqual({ text: long, truncated: null });
  });

  test('a longer text is cut to the budget, with a note of what was kept of how much', async () => {
    const out = await withinBudget(long, 100, words);
    expect(out.truncated).not.toBeNull();
    const { keptTokens, totalTokens } = out.truncated!;
    expect(totalTokens).toBe(1000);
    expect(keptTokens).toBeLessThanOrEqual(100);
    expect(keptTokens).toBeGreaterThanOrEqual(80);
    const note = `\n[truncated: ${keptTokens} of 1000 tokens shown]`;
    expect(out.text.endsWith(note)).toBe(true);
    const kept = out.text.slice(0, -note.length);
    expect(long.startsWith(kept)).toBe(true);
    expect(await words(kept)).toBe(keptTokens);
  });

  test('the cut stays within the budget when tokens are not spread evenly (denser at the start)', async () => {
    // a dense head (each character a token) before sparse prose: a cut in proportion keeps too much
    const text = 'x'.repeat(2000) + ' word'.repeat(20_000);
    const dense = async (t: string) => {
      const head = t.slice(0, 2000).length;
      return head + (t.length > 2000 ? (t.slice(2000).match(/word/g)?.length ?? 0) : 0);
    };
    const grow = async (t: string) => Math.ceil(Math.sqrt(t.length) * 10); // sublinear: every cut in proportion overshoots
    for (const [count, budget] of [[dense, 100], [grow, 100], [grow, 57]] as const) {
      const out = await withinBudget(text, budget, count);
      expect(out.truncated!.totalTokens).toBe(await count(text));
      expect(out.truncated!.keptTokens).toBeLessThanOrEqual(budget);
      expect(out.truncated!.keptTokens).toBeGreaterThan(budget * 0.8);
    }
  });
});

test('a huge text is cut before it is counted: no count sees more than COUNTED_CHARS, and the total is estimated from the part counted', async () => {
  const huge = 'word '.repeat(1_000_000); // 5,000,000 characters, 1,000,000 words
  let longest = 0;
  const count = async (t: string) => {
    longest = Math.max(longest, t.length);
    return t.split(' ').length - 1;
  };
  const out = await withinBudget(huge, 100, count);
  expect(longest).toBeLessThanOrEqual(COUNTED_CHARS);
  expect(out.truncated!.keptTokens).toBeLessThanOrEqual(100);
  expect(Math.abs(out.truncated!.totalTokens - 1_000_000)).toBeLessThan(1000); // an estimate: the cut's last word is split
});
