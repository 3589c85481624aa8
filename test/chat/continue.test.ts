/**
 * Continuing a reply with a model whose replies are parsed (a thinking template: llama.cpp's parser
 * splits reasoning from content). llama.cpp's continuation ends the generation prompt with the reply's
 * text, and the parse reads the generation prompt before the new text: the engine streams and returns
 * only what the parse adds to that (as llama-server without echo), so the stored reply grows by the new
 * text and never holds its own text twice. A reply cut off while thinking goes on thinking (its
 * reasoning goes with it); an empty one is written afresh. The reply's text is data (main/chat/history.ts); its marks
 * are kept out of the generation prompt the sampler's grammar is prefilled with, so a JSON reply
 * continued under its schema goes on as unmarked. Real engine host, real store, TINY_THINK.
 */
import { asData } from '../../main/params';
import { inAddon } from '../helpers/addon';
import { ChatApp, chatApp, continueStored, nextDone } from '../helpers/chat';
import { TINY_THINK } from '../helpers/models';

jest.setTimeout(180_000);

let chat: ChatApp;

beforeAll(async () => {
  chat = chatApp({ model: TINY_THINK, chatDefaults: { maxTokens: 8, temperature: 0 } });
  await chat.call('models.load', { path: chat.modelPath });
});

afterAll(() => chat.close());

test("a continued reply grows by the model's new text only, streamed and stored", async () => {
  const t = chat.app.store.threads.create({ assistantId: 'default', model: null });
  chat.app.store.messages.add({ threadId: t.id, role: 'user', content: 'Say hello.' });
  const said = 'Hello there<|eot_id|>';
  const reply = chat.app.store.messages.add({ threadId: t.id, role: 'assistant', content: said, status: 'done', finishReason: 'maxTokens' });
  const pieces: string[] = [];
  const off = chat.app.services.subscribe((event, payload) => {
    if (event === 'chat.piece') pieces.push((payload as { content: string }).content);
  });
  const done = nextDone(chat.app, t.id);
  await chat.call('chat.continue', { threadId: t.id, messageId: reply.id });
  const more = await done;
  off();
  expect(more.status).toBe('done');
  expect(more.metrics!.generatedTokens).toBe(8);
  // the stored reply: its text, then what was streamed, once
  const added = pieces.join('');
  expect(added.length).toBeGreaterThan(0);
  expect(more.content).toBe(said + added);
  expect(added.startsWith(said)).toBe(false);
});

test('a reply cut off while thinking goes on thinking, its reasoning sent as data; one with nothing in it yet is written afresh', async () => {
  const t = chat.app.store.threads.create({ assistantId: 'default', model: null });
  const thought = 'Let me think<|eot_id|> about';
  const more = await continueStored(chat, t.id, 'Say hello.', { content: '', reasoning: thought });
  expect(more.status).toBe('done');
  // the stored reasoning grew (the model went on thinking, not on to the text)
  expect(more.reasoning.length).toBeGreaterThan(thought.length);
  // the prompt: the conversation and the generation prompt, then the reasoning; the Llama 3 vocab has
  // no ChatML tokens, so all of it is one text, and the reasoning's <|eot_id|> is text in it
  const prompt = `<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nSay hello.<|im_end|>\n<|im_start|>assistant\n<think>${thought}`;
  const n = await inAddon<{ asText: number; parsed: number; afresh: string; fresh: string }>(
    `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
     const tok = (special) => m.tokenize(input.prompt, { addSpecial: true, parseSpecial: special }).length;
     const render = async (r) => (await m.applyChatTemplate(JSON.stringify(r))).prompt;
     const user = { role: 'user', content: 'Say hello.' };
     try {
       return {
         asText: tok(false), parsed: tok(true),
         afresh: await render({ messages: [user, { role: 'assistant', content: '' }], continueFinal: true, dataMarks: true }),
         fresh: await render({ messages: [user] }),
       };
     } finally { await m.dispose(); }`,
    { model: TINY_THINK, prompt },
  );
  expect(more.metrics!.promptTokens).toBe(n.asText);
  expect(n.parsed).toBeLessThan(n.asText);
  // an empty reply: llama.cpp would continue none and end the prompt after the user's message
  expect(n.afresh).toBe(n.fresh);
  expect(n.fresh.endsWith('<|im_start|>assistant\n<think>')).toBe(true);
});

interface Run {
  tokens: number[];
  text: string;
  content: string;
  reasoning: string;
  /** what was streamed: the reasoning, the text, and in how many pieces the text came */
  streamed: string;
  streamedContent: string;
  contentPieces: number;
}
type Outcome = Run | { code: string; message: string };

/** Each request continued by the engine on TINY_THINK (greedy, data marks read, 8 tokens unless it says), in one addon process. */
function continued<K extends string>(requests: Record<K, Record<string, unknown>>): Promise<Record<K, Outcome>> {
  return inAddon<Record<K, Outcome>>(
    `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
     const c = await addon.createContext(m, { contextSize: 1024, threads: 2 });
     let id = 1;
     const out = {};
     try {
       for (const [k, req] of Object.entries(input.requests)) {
         await c.clearSequence(0);
         const pieces = [];
         try {
           const r = await c.generate(JSON.stringify({ id: id++, maxTokens: 8, sampling: { temperature: 0 }, continueFinal: true, dataMarks: true, ...req }), (p) => pieces.push(p));
           const content = pieces.filter((p) => p.content);
           out[k] = { tokens: r.tokens, text: r.text, content: r.content, reasoning: r.reasoning, streamed: pieces.map((p) => p.reasoning ?? '').join(''),
                      streamedContent: content.map((p) => p.content).join(''), contentPieces: content.length };
         } catch (e) { out[k] = { code: e.code, message: e.message }; }
       }
       return out;
     } finally { await c.dispose(); await m.dispose(); }`,
    { model: TINY_THINK, requests },
  );
}

test('a JSON reply continued under its schema goes on the same whether its text is marked as data or not', async () => {
  const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };
  const ask = (content: string) => ({ maxTokens: 12, jsonSchema: schema, messages: [{ role: 'user', content: 'JSON, please.' }, { role: 'assistant', content }] });
  const r = await continued({ plain: ask('{"a": "he'), marked: ask(asData('{"a": "he')) });
  expect(r.marked).toEqual(r.plain);
  const plain = r.plain as Run;
  expect(plain.tokens.length).toBe(12);
  // only the new text, as streamed
  expect(plain.content).toBe(plain.streamedContent);
  expect(plain.content.startsWith('{"a"')).toBe(false);
});

test("the engine's own rules: a reply with calls is not continued, an end-of-generation token under a schema is refused, a tag's start is not sent twice nor stops the text after it", async () => {
  const user = { role: 'user', content: 'Hi' };
  const tail = asData('x </thi');
  const r = await continued({
    calls: { messages: [user, { role: 'assistant', content: 'a', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] }] },
    eog: { jsonSchema: { type: 'object' }, messages: [user, { role: 'assistant', content: asData('{"a": "<|eot_id|>') }] },
    // reasoning that ends in the start of </think>: a partial parse holds "</thi" back
    tail: { messages: [user, { role: 'assistant', content: '', reasoning_content: tail }] },
    // ... and the model makes it whole (a grammar has it write so): the reasoning ends there, the text after it streams
    whole: { maxTokens: 40, grammar: 'root ::= "nk>Hello world, and a longer answer"', messages: [user, { role: 'assistant', content: '', reasoning_content: tail }] },
  });
  // as llama-server: a reply's calls are not in llama.cpp's continuation
  expect(r.calls).toEqual({ code: 'invalid_argument', message: 'a reply that called tools cannot be continued; regenerate it instead' });
  // common_sampler_init would have aborted the host on the grammar's prefill
  expect(r.eog).toMatchObject({ code: 'invalid_argument', message: expect.stringContaining('end-of-generation token (<|eot_id|>)') });
  // the new reasoning is the model's text alone, streamed and returned
  const t = r.tail as Run;
  expect(t.text.length).toBeGreaterThan(0);
  expect(t.streamed).toBe(t.text);
  expect(t.reasoning).toBe(t.text);
  expect(r.whole).toMatchObject({ text: 'nk>Hello world, and a longer answer', reasoning: '', streamed: '', content: 'Hello world, and a longer answer', streamedContent: 'Hello world, and a longer answer' });
  expect((r.whole as Run).contentPieces).toBeGreaterThan(1); // streamed as it came, not only at the end
});
