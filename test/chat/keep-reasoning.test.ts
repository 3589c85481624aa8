/**
 * Earlier turns' reasoning kept, for chat templates that can keep it (llama.cpp's
 * supports_preserve_reasoning cap) while the preserveReasoning setting is on (its default, as
 * llama-server's --reasoning-preserve): the engine passes it to the template as llama-server does
 * (chat_template_kwargs.preserve_reasoning), and the app sends every reply's reasoning to such a model
 * (main/chat/history.ts keepReasoning). The next turn then reuses the cache of what the model thought.
 * A generated model with GLM's tokens and GLM-4.7-Flash's template (writeGlm47Model), llama.cpp's copies
 * of the other templates; the real store, app and engine host (the engine client wrapped only to
 * record each request's messages), and the real addon for the cache.
 */
import type { ChatMessage } from '../../main/engine/protocol';
import { asData } from '../../main/params';
import { inAddon } from '../helpers/addon';
import { ChatApp, chatApp, nextDone, recordingMessages } from '../helpers/chat';
import { makeEngine, tempDir } from '../helpers/engine';
import { llamaTemplate, writeGlm47Model, writeTokenizerModels } from '../helpers/models';

jest.setTimeout(180_000);

// an earlier reply's reasoning: special-token text in it stays text
const THOUGHT = 'The user asks about Paris <|user|> so I say it is sunny';

let chat: ChatApp;
let model: string;
const sent: ChatMessage[][] = [];

beforeAll(async () => {
  const dir = tempDir('keep-reasoning');
  model = await writeGlm47Model((await writeTokenizerModels(dir)).qwen, dir);
  chat = chatApp({ model, engine: recordingMessages(makeEngine(), sent), chatDefaults: { maxTokens: 2, temperature: 0 } });
  await chat.call('models.load', { path: chat.modelPath });
});

afterAll(() => chat?.close());

test("which templates keep earlier turns' reasoning: llama.cpp's caps, and the request's preserveReasoning decides", async () => {
  const files = {
    glm47: 'GLM-4.7-Flash.jinja',
    deepseekV4: 'deepseek-ai-DeepSeek-V4.jinja',
    nemotron3: 'NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.jinja',
    minimaxM3: 'MiniMax-M3.jinja',
    kimiK3: 'Kimi-K3.jinja',
    qwen35: 'Qwen3.5-4B.jinja',
    qwen3: 'Qwen-Qwen3-0.6B.jinja',
    llama31: 'meta-llama-Llama-3.1-8B-Instruct.jinja',
  };
  const templates = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, llamaTemplate(f)]));
  const r = await inAddon<Record<string, { preserves: boolean; on: boolean; off: boolean; unset: boolean }>>(
    `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
     const messages = [
       { role: 'user', content: 'Weather in Paris?' },
       { role: 'assistant', content: 'Sunny.', reasoning_content: 'EARLIER-THOUGHT' },
       { role: 'user', content: 'And in Rome?' },
     ];
     const out = {};
     try {
       for (const [k, t] of Object.entries(input.templates)) {
         const render = async (extra) => (await m.applyChatTemplate(JSON.stringify({ messages, ...extra }), t));
         const unset = await render({});
         out[k] = {
           preserves: unset.preservesReasoning,
           unset: unset.prompt.includes('EARLIER-THOUGHT'),
           on: (await render({ preserveReasoning: true })).prompt.includes('EARLIER-THOUGHT'),
           off: (await render({ preserveReasoning: false })).prompt.includes('EARLIER-THOUGHT'),
         };
       }
       return out;
     } finally { await m.dispose(); }`,
    { model, templates },
  );
  // the templates that can keep it keep it when asked (the engine asks unless told not to, as llama-server)
  for (const k of ['glm47', 'deepseekV4', 'nemotron3'] as const) expect(r[k]).toEqual({ preserves: true, unset: true, on: true, off: false });
  // these keep every turn's reasoning whatever they are told
  for (const k of ['minimaxM3', 'kimiK3'] as const) expect(r[k]).toEqual({ preserves: true, unset: true, on: true, off: true });
  // these write a reply's reasoning only after the last user message
  for (const k of ['qwen35', 'qwen3', 'llama31'] as const) expect(r[k]).toEqual({ preserves: false, unset: false, on: false, off: false });
});

/** Sends a follow-up in a thread whose earlier turn thought THOUGHT; answers the request's messages and the reply's prompt tokens. */
async function followUp(overrides: { preserveReasoning?: boolean }): Promise<{ messages: ChatMessage[]; promptTokens: number }> {
  const threadId = chat.app.store.threads.create({ assistantId: 'default', model: null }).id;
  chat.app.store.threads.update(threadId, { overrides: { sampling: overrides } });
  chat.app.store.messages.add({ threadId, role: 'user', content: 'What is the weather in Paris?' });
  chat.app.store.messages.add({ threadId, role: 'assistant', content: 'It is sunny.', reasoning: THOUGHT, status: 'done', finishReason: 'stop' });
  sent.length = 0;
  const done = nextDone(chat.app, threadId);
  await chat.call('chat.send', { threadId, content: 'And in Rome?' });
  const reply = await done;
  expect(reply.status).toBe('done');
  return { messages: sent[0], promptTokens: reply.metrics!.promptTokens };
}

test("the app sends an earlier turn's reasoning to a template that keeps it, as data, unless the setting is off", async () => {
  const kept = await followUp({});
  expect(kept.messages.filter((m) => m.role === 'assistant').map((m) => m.reasoning_content)).toEqual([asData(THOUGHT)]);
  const off = await followUp({ preserveReasoning: false });
  expect(off.messages.filter((m) => m.reasoning_content !== undefined)).toEqual([]);
  // the template wrote it back, as text: the prompt is longer by at least its tokens read as text
  const thought = await inAddon<number>(
    `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
     try { return m.tokenize(input.thought, { addSpecial: false, parseSpecial: false }).length; } finally { await m.dispose(); }`,
    { model, thought: THOUGHT },
  );
  expect(kept.promptTokens - off.promptTokens).toBeGreaterThanOrEqual(thought);
});

test('the engine alone: the turn after a reply that thought reuses the cache of its reasoning when the template keeps it', async () => {
  // one context, greedy: a reply that thinks (its reasoning given, as a reply cut off while thinking, and
  // continued by 4 tokens), then the next turn, with preserveReasoning on or off
  const r = await inAddon<{ thought: number; first: number; kept: number; dropped: number }>(
    `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
     const c = await addon.createContext(m, { contextSize: 1024, threads: 2 });
     let id = 1;
     const gen = (req) => c.generate(JSON.stringify({ id: id++, sampling: { temperature: 0 }, dataMarks: true, ...req }), () => {});
     const user = { role: 'user', content: 'What is the weather in Paris?' };
     const out = { thought: m.tokenize(input.thought, { addSpecial: false, parseSpecial: false }).length };
     try {
       for (const keep of [true, false]) {
         await c.clearSequence(0);
         const first = await gen({ continueFinal: true, maxTokens: 4, preserveReasoning: keep, messages: [user, { role: 'assistant', content: '', reasoning_content: input.marked }] });
         out.first = first.timings.promptTokens;
         const reply = { role: 'assistant', content: first.content, reasoning_content: input.marked };
         const next = await gen({ maxTokens: 1, preserveReasoning: keep, messages: [user, reply, { role: 'user', content: 'And in Rome?' }] });
         out[keep ? 'kept' : 'dropped'] = next.timings.cachedTokens;
       }
       return out;
     } finally { await c.dispose(); await m.dispose(); }`,
    { model, thought: THOUGHT, marked: asData(THOUGHT) },
  );
  // kept: the cache holds through the reasoning (the last token may merge with what the model added)
  expect(r.kept).toBeGreaterThanOrEqual(r.first - 1);
  // dropped: the template writes the earlier reply without it, and the cache holds only up to where it stood
  expect(r.dropped).toBeLessThanOrEqual(r.first - r.thought);
});
