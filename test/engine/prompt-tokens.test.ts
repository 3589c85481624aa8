/**
 * A follow-up turn tokenizes only what it adds (native/src/prompt_tokens.cpp): where the previous
 * prompt's text and the new one agree, their tokens are reused up to a cut that llama.cpp's tokenizer
 * rules make safe, and the rest is tokenized alone. These tests hold the result to a whole tokenize of
 * the new text: conversations growing turn by turn, an edit in the middle, and bounded random texts
 * built to land cuts beside spaces, special tokens, byte-fallback characters and runs of whitespace,
 * on SentencePiece (Llama 2) and BPE (Llama 3) vocabs. Then through the engine: a sequence's chat turns
 * (with the test hooks on, every reused prompt is checked against a whole tokenize inside the addon)
 * give the same prompts and the same greedy replies as a fresh context given each conversation whole.
 * Real addon, generated models.
 */
import path from 'path';
import { writeTestModel } from '../../scripts/make-test-model';
import { inAddon } from '../helpers/addon';
import { tempDir } from '../helpers/engine';
import { TEST_MODEL_SEED, TINY_BPE, TINY_SPM, writeTokenizerModels } from '../helpers/models';

/** Llama 3's turn format: every message opens and closes with special tokens of the Llama 3 vocab. */
const LLAMA3_TEMPLATE =
  "{%- for message in messages -%}" +
  "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' -}}" +
  "{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}{%- endif -%}";

let LLAMA3: string;
let QWEN: string;
let PHI3: string;
let QWEN_USER_DEFINED: string;

beforeAll(async () => {
  const dir = tempDir('prompt-tokens');
  LLAMA3 = path.join(dir, 'tiny-llama3.gguf');
  await writeTestModel({ out: LLAMA3, size: 'tiny', vocab: 'llama-bpe', seed: TEST_MODEL_SEED, chatTemplate: LLAMA3_TEMPLATE });
  ({ qwen: QWEN, phi3: PHI3, qwenUserDefined: QWEN_USER_DEFINED } = await writeTokenizerModels(dir));
});

type Msg = { role: string; content: string };
const para = 'The river ran past the old mill, where the miller kept his books of accounts and his letters. ';

/** A conversation of `turns` question/answer pairs after a system message. */
function conversation(turns: number, edit = -1): Msg[] {
  const msgs: Msg[] = [{ role: 'system', content: 'You are a helpful assistant.' }];
  for (let i = 0; i < turns; i++) {
    msgs.push({ role: 'user', content: `Question ${i}: ${i === edit ? 'something else entirely. ' : para.repeat(2)}` });
    msgs.push({ role: 'assistant', content: `Answer ${i}: ${para}  and  then\n\nsome more  — naïve café 日本 🙂` });
  }
  return msgs;
}

interface Pair {
  before: string;
  after: string;
}
interface Checked {
  reused: number;
  tokens: number;
  same: boolean;
  /** the whole tokenize of `before`: how many of its tokens precede the first difference of the texts */
  agreeing: number;
}

/**
 * For each pair: the incremental tokens of `after` (after `before`) against a whole tokenize of `after`
 * (model.tokenize, special tokens added and parsed; texts with data marks: addon.markedTokens, the
 * marked text tokenized as text), and how many tokens were reused.
 */
function checkPairs(model: string, pairs: Pair[]): Promise<Checked[]> {
  return inAddon<Checked[]>(
    `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
     const whole = (t) => /[\ufdd0\ufdd1]/.test(t) ? Array.from(addon.markedTokens(m, t)) : Array.from(m.tokenize(t, { addSpecial: true, parseSpecial: true }));
     try {
       return input.pairs.map(({ before, after }) => {
         const r = addon.promptTokens(m, before, after);
         const all = whole(after);
         const old = whole(before);
         let agreeing = 0;
         while (agreeing < old.length && agreeing < all.length && old[agreeing] === all[agreeing]) agreeing++;
         return { reused: r.reused, tokens: all.length, same: JSON.stringify(r.tokens) === JSON.stringify(all), agreeing };
       });
     } finally { await m.dispose(); }`,
    { model, pairs },
    120_000,
  );
}

/** The rendered prompts of a conversation growing turn by turn (each with the generation prompt). */
function renders(model: string, convs: Msg[][]): Promise<string[]> {
  return inAddon<string[]>(
    `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
     try {
       const out = [];
       for (const messages of input.convs) out.push((await m.applyChatTemplate(JSON.stringify({ messages }))).prompt);
       return out;
     } finally { await m.dispose(); }`,
    { model, convs },
  );
}

/** Conversation prompts: turn n, then turn n + 1 (the follow-up), several turns deep; then an edit in the middle. */
async function conversationPairs(model: string): Promise<Pair[]> {
  const convs: Msg[][] = [];
  for (let t = 1; t <= 6; t++) {
    const c = conversation(t);
    convs.push(c, [...c, { role: 'user', content: 'And then?' }]);
  }
  convs.push(conversation(6, 2)); // question 2 rewritten: the prefix breaks in the middle
  const p = await renders(model, convs);
  const pairs: Pair[] = [];
  for (let i = 1; i < p.length; i++) pairs.push({ before: p[i - 1], after: p[i] });
  return pairs;
}

/**
 * Pieces that put cuts beside spaces, runs of whitespace, punctuation, byte-fallback characters, SPM's
 * own space mark and every special token the vocabs split out of a chat prompt.
 */
const RANDOM_PIECES = [
  'the', ' ', '  ', '   ', 'river', 'mill', ',', '.', '\n', '\n\n', '\t', ' \n ', 'naïve', 'café', '日本語', '🙂', '\u2581', 'x',
  '<s>', '</s>', '<unk>', '<|im_start|>', '<|im_end|>', '<|eot_id|>', '<|start_header_id|>', '<|end_header_id|>', '<|begin_of_text|>',
  '<|endoftext|>', '<|end|>', '<|user|>', '<|assistant|>', 'table', ' table ',
  '<', '|', '>', 's>', '<|eot', 'id|>', 'Question 1: ', 'assistant', '1234567', "'s", "n't",
];

/**
 * 250 pairs of texts of random pieces (the same each run): mostly a follow-up (the text kept nearly to
 * its end, more after it), sometimes an earlier cut; a fifth with the kept text's data marks dropped
 * (the same text to tokenize, but none of it data).
 */
function randomPairs(pieces: string[]): Pair[] {
  let seed = 12345;
  const next = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 0x100000000;
  };
  const text = (n: number) => Array.from({ length: n }, () => pieces[Math.floor(next() * pieces.length)]).join('');
  const pairs: Pair[] = [];
  for (let i = 0; i < 250; i++) {
    const before = text(50 + Math.floor(next() * 250));
    const keep = next() < 0.7 ? before.length - Math.floor(next() * 12) : Math.floor(next() * before.length);
    const kept = before.slice(0, Math.max(0, keep));
    pairs.push({ before, after: (next() < 0.2 ? kept.replace(/[\ufdd0\ufdd1]/g, '') : kept) + text(Math.floor(next() * 40)) });
  }
  return pairs;
}

describe.each([
  ['SentencePiece (Llama 2 vocab, ChatML as plain text)', () => TINY_SPM, true],
  ['BPE (Llama 3 vocab, ChatML as plain text: no safe cut)', () => TINY_BPE, false],
  ['BPE (Llama 3 vocab, Llama 3 turns of special tokens)', () => LLAMA3, true],
])('%s', (_name, model, reuses) => {
  test('a conversation growing turn by turn, then edited in the middle: the same tokens as a whole tokenize', async () => {
    const pairs = await conversationPairs(model());
    const r = await checkPairs(model(), pairs);
    for (const c of r) expect(c.same).toBe(true);
    const follow = r.slice(0, -1);
    if (reuses) {
      // every follow-up reuses all but the last few tokens of the previous prompt
      for (const c of follow) {
        expect(c.reused).toBeGreaterThan(0);
        expect(c.reused).toBeLessThanOrEqual(c.agreeing);
        expect(c.agreeing - c.reused).toBeLessThan(40);
      }
    } else {
      for (const c of follow) expect(c.reused).toBe(0);
    }
    // the edit: nothing is reused past the first token that differs
    const edit = r[r.length - 1];
    expect(edit.reused).toBeLessThanOrEqual(edit.agreeing);
    expect(edit.agreeing).toBeLessThan(edit.tokens / 2);
  });

});

describe.each([
  ['SentencePiece (Llama 2 vocab)', () => TINY_SPM],
  ['BPE (Llama 3 vocab)', () => LLAMA3],
  ['BPE (Qwen2 vocab)', () => QWEN],
  ["Phi-3's SentencePiece (its special tokens strip the whitespace after them)", () => PHI3],
  ['BPE (Qwen2 vocab, <|im_start|> and "table" user-defined: split out of any text, and broken up in data)', () => QWEN_USER_DEFINED],
])('%s', (_name, model) => {
  test.each([
    ['random texts', RANDOM_PIECES],
    // data marks (U+FDD0 … U+FDD1) among them: special-token text between a pair is text (a user-defined
    // one the template uses gets a word joiner), a mark alone is dropped; no cut is made where the two
    // texts' marked text differs, nor after a special token's text inside it
    ['random texts with data marks', [...RANDOM_PIECES, '\ufdd0', '\ufdd1', '\ufdd0', '\ufdd1', ' \ufdd0', '\ufdd1 ']],
  ])('%s cut anywhere: the same tokens as a whole tokenize', async (_kind, pieces) => {
    const pairs = randomPairs(pieces);
    const r = await checkPairs(model(), pairs);
    const wrong = r.map((c, i) => ({ ...c, ...pairs[i] })).filter((c) => !c.same);
    expect(wrong).toEqual([]);
    for (const c of r) expect(c.reused).toBeLessThanOrEqual(c.agreeing);
    // the check can fail: plenty of these pairs reused tokens (the SentencePiece vocabs cut at spaces, the
    // BPE ones at special tokens)
    expect(r.filter((c) => c.reused > 0).length).toBeGreaterThan(50);
  });
});

test("a special token's text inside data is text: no cut after it, though the same token outside data was one", async () => {
  // As text, "<|eot_id|>" ends in ">", which Llama 3's BPE merges with a newline after it (">\n"). The
  // texts agree through the second "<|eot_id|>", inside data in both; a cut there would put ">" and "\nx"
  // apart.
  const before = '<|eot_id|>\ufdd0a<|eot_id|> x\ufdd1';
  const after = '<|eot_id|>\ufdd0a<|eot_id|>\nx\ufdd1';
  const [r] = await checkPairs(LLAMA3, [{ before, after }]);
  expect(r.same).toBe(true);
  expect(r.reused).toBeLessThanOrEqual(2); // BOS and the first <|eot_id|>, at most
});

test('through the engine: a sequence\'s chat turns, with data in them or not, get the prompts and replies of each conversation given whole', async () => {
  // HEARTH_TEST_HOOKS=1: the addon also checks every prompt whose tokens it reused against a whole
  // tokenize (a difference fails the request). With `marked`, each question holds data (a passage with
  // special-token text, dataMarks on), as the app's chats with documents or tool results do.
  const run = (model: string, marked: boolean) =>
    inAddon<{ turns: { prompt: number; cached: number; tokenized: number; tokens: number[] }[]; fresh: { prompt: number; tokens: number[] }[] }>(
      `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
       const c = await addon.createContext(m, { contextSize: 2048, threads: 2 });
       const fresh = await addon.createContext(m, { contextSize: 2048, threads: 2 });
       let id = 1;
       const gen = (ctx, messages) => ctx.generate(JSON.stringify({ id: id++, messages, maxTokens: 4, ignoreEos: true, sampling: { temperature: 0 }, dataMarks: input.marked }));
       const data = input.marked ? ' \ufdd0' + input.para + '<|im_end|><|eot_id|></s>\ufdd1 and' : '';
       try {
         const turns = [], whole = [];
         let messages = [{ role: 'system', content: 'You are a helpful assistant.' }];
         for (let i = 0; i < 5; i++) {
           messages = [...messages, { role: 'user', content: 'Question ' + i + ':' + data + ' ' + input.para }];
           const r = await gen(c, messages);
           turns.push({ prompt: r.timings.promptTokens, cached: r.timings.cachedTokens, tokenized: r.timings.tokenizedTokens, tokens: r.tokens });
           await fresh.clearSequence(0);
           const f = await gen(fresh, messages);
           whole.push({ prompt: f.timings.promptTokens, tokens: f.tokens });
           messages = [...messages, { role: 'assistant', content: r.text + ' ' + input.para }];
         }
         // an edit in the middle, then the conversation as it was
         const edited = messages.map((x, j) => (j === 3 ? { ...x, content: 'Something else.' } : x));
         for (const ms of [edited, messages]) {
           const r = await gen(c, ms);
           turns.push({ prompt: r.timings.promptTokens, cached: r.timings.cachedTokens, tokenized: r.timings.tokenizedTokens, tokens: r.tokens });
           await fresh.clearSequence(0);
           const f = await gen(fresh, ms);
           whole.push({ prompt: f.timings.promptTokens, tokens: f.tokens });
         }
         return { turns, fresh: whole };
       } finally { await c.dispose(); await fresh.dispose(); await m.dispose(); }`,
      { model, para, marked },
      120_000,
      { HEARTH_TEST_HOOKS: '1' },
    );
  for (const model of [TINY_SPM, LLAMA3]) {
    for (const marked of [false, true]) {
      const { turns, fresh } = await run(model, marked);
      expect(turns.map((t) => ({ prompt: t.prompt, tokens: t.tokens }))).toEqual(fresh);
      expect(turns[0].tokenized).toBe(turns[0].prompt);
      for (let i = 1; i < 5; i++) {
        // each follow-up read only the new turn from the cache's end, and tokenized little more than it
        expect(turns[i].cached).toBeGreaterThan(turns[i - 1].prompt - 8);
        expect(turns[i].tokenized).toBeLessThan(turns[i].prompt - turns[i - 1].prompt + 40);
      }
    }
  }
});
