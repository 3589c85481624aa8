/**
 * Earlier turns' reasoning kept, for chat templates that can keep it while the preserveReasoning
 * setting is on (its default, as llama-server's --reasoning-preserve): the engine passes it to the
 * template as llama-server does (chat_template_kwargs.preserve_reasoning), and the app sends every
 * reply's reasoning to a model whose template keeps it (main/engine/template-probes.ts templateKeepsReasoning,
 * history.ts scope 'all'). The next turn then reuses the cache of what the model thought.
 * A generated model with GLM's tokens and GLM-4.7-Flash's template (writeGlm47Model), llama.cpp's copies
 * of the other templates; the real store, app and engine host (the engine client wrapped only to
 * record each request's messages), and the real addon for the cache.
 */
import type { ChatMessage } from '../../main/engine/protocol';
import { asData } from '../../main/params';
import { inAddon } from '../helpers/addon';
import { nextDone } from '../helpers/chat';
import { llamaTemplate, writeGlm47Model } from '../helpers/models';
import { reuseAfterThought, tokensAsText, useThinkingChat, withContextSize } from '../helpers/reasoning';

jest.setTimeout(180_000);

// an earlier reply's reasoning: special-token text in it stays text
const THOUGHT = 'The user asks about Paris <|user|> so I say it is sunny';

const suite = useThinkingChat('keep-reasoning', writeGlm47Model);
const sent = suite.sent;

test("which templates keep earlier turns' reasoning, and the request's preserveReasoning decides", async () => {
  const files = {
    glm47: 'GLM-4.7-Flash.jinja',
    deepseekV4: 'deepseek-ai-DeepSeek-V4.jinja',
    nemotron3: 'NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.jinja',
    minimaxM3: 'MiniMax-M3.jinja',
    kimiK3: 'Kimi-K3.jinja',
    qwen35: 'Qwen3.5-4B.jinja',
    qwen3: 'Qwen-Qwen3-0.6B.jinja',
    llama31: 'meta-llama-Llama-3.1-8B-Instruct.jinja',
    // its format's handler moves the reasoning to the `thinking` its template reads (llama.cpp's caps check misses it)
    lfm25: 'LFM2.5-8B-A1B.jinja',
    // it keeps it while thinking is on, whatever it is told
    laguna: 'poolside-Laguna-S-2.1.jinja',
  };
  const templates = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, llamaTemplate(f)]));
  const r = await inAddon<Record<string, { on: boolean; off: boolean; unset: boolean }>>(
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
         out[k] = {
           unset: (await render({})).prompt.includes('EARLIER-THOUGHT'),
           on: (await render({ preserveReasoning: true })).prompt.includes('EARLIER-THOUGHT'),
           off: (await render({ preserveReasoning: false })).prompt.includes('EARLIER-THOUGHT'),
         };
       }
       return out;
     } finally { await m.dispose(); }`,
    { model: suite.model, templates },
  );
  // the templates that can keep it keep it when asked (the engine asks unless told not to, as llama-server)
  for (const k of ['glm47', 'deepseekV4', 'nemotron3', 'lfm25'] as const) expect([k, r[k]]).toEqual([k, { unset: true, on: true, off: false }]);
  // these keep every turn's reasoning whatever they are told
  for (const k of ['minimaxM3', 'kimiK3', 'laguna'] as const) expect([k, r[k]]).toEqual([k, { unset: true, on: true, off: true }]);
  // these write a reply's reasoning only after the last user message
  for (const k of ['qwen35', 'qwen3', 'llama31'] as const) expect([k, r[k]]).toEqual([k, { unset: false, on: false, off: false }]);
});

/** Sends a follow-up in a thread whose earlier turn thought THOUGHT; answers the request's messages and the reply's prompt tokens. */
async function followUp(overrides: { preserveReasoning?: boolean }): Promise<{ messages: ChatMessage[]; promptTokens: number }> {
  const threadId = suite.chat.app.store.threads.create({ assistantId: 'default', model: null }).id;
  suite.chat.app.store.threads.update(threadId, { overrides: { sampling: overrides } });
  suite.chat.app.store.messages.add({ threadId, role: 'user', content: 'What is the weather in Paris?' });
  suite.chat.app.store.messages.add({ threadId, role: 'assistant', content: 'It is sunny.', reasoning: THOUGHT, status: 'done', finishReason: 'stop' });
  sent.length = 0;
  const done = nextDone(suite.chat.app, threadId);
  await suite.chat.call('chat.send', { threadId, content: 'And in Rome?' });
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
  expect(kept.promptTokens - off.promptTokens).toBeGreaterThanOrEqual(await tokensAsText(suite.model, THOUGHT));
});

test("every reply's reasoning too long for the context: the turn's alone, chosen before asking or after a refusal", async () => {
  await withContextSize(suite.chat, 1024, async () => {
    const threadWith = (earlier: string, said = 'It is sunny.') => {
      const threadId = suite.chat.app.store.threads.create({ assistantId: 'default', model: null }).id;
      suite.chat.app.store.messages.add({ threadId, role: 'user', content: 'What is the weather in Paris?' });
      suite.chat.app.store.messages.add({ threadId, role: 'assistant', content: said, reasoning: earlier, status: 'done', finishReason: 'stop' });
      // the turn being answered: a step that thought and called, its result, and the answer being continued
      suite.chat.app.store.messages.add({ threadId, role: 'user', content: 'And in Rome?' });
      suite.chat.app.store.messages.add({ threadId, role: 'assistant', content: '', reasoning: 'Rome is south', status: 'done', finishReason: 'toolCalls', toolCalls: [{ id: 'c1', name: 'weather', arguments: '{"city": "Rome"}' }] });
      suite.chat.app.store.messages.add({ threadId, role: 'tool', content: 'Sunny.', toolCallId: 'c1', status: 'done' });
      const cut = suite.chat.app.store.messages.add({ threadId, role: 'assistant', content: 'It', status: 'done', finishReason: 'maxTokens' });
      return { threadId, cut: cut.id };
    };
    const continued = async (t: { threadId: string; cut: string }) => {
      sent.length = 0;
      const done = nextDone(suite.chat.app, t.threadId);
      await suite.chat.call('chat.continue', { threadId: t.threadId, messageId: t.cut });
      const reply = await done;
      expect(reply.status).toBe('done');
      expect(reply.metrics!.contextSize).toBe(1024);
      return sent.map((messages) => messages.filter((m) => m.role === 'assistant').map((m) => m.reasoning_content));
    };
    // about 2,400 tokens of reasoning, about as many by its characters: the turn's alone is asked, once
    const words = Array.from({ length: 400 }, (_, i) => `step ${i} checked`).join(', ');
    expect(await continued(threadWith(words))).toEqual([[undefined, asData('Rome is south'), undefined]]);
    // 1,500 digits (a token each, where the estimate counts one per 3 characters): asked with every reply's,
    // refused for the context, asked again with the turn's alone
    const digits = '0123456789'.repeat(150);
    expect(await continued(threadWith(digits))).toEqual([
      [asData(digits), asData('Rome is south'), undefined],
      [undefined, asData('Rome is south'), undefined],
    ]);
    // no earlier reasoning, and a long earlier reply the estimate counts high (400 tokens, 3,200 characters):
    // the turn's reasoning still goes, and the request fits
    expect(await continued(threadWith('', 'weather '.repeat(400)))).toEqual([[undefined, asData('Rome is south'), undefined]]);
  });
});

test('the engine alone: the turn after a reply that thought reuses the cache of its reasoning when the template keeps it', async () => {
  // the next turn after a thinking reply, sent its reasoning, with preserveReasoning on or off
  const r = await reuseAfterThought(suite.model, THOUGHT, { kept: { next: 'user', send: true, preserveReasoning: true }, dropped: { next: 'user', send: true, preserveReasoning: false } });
  // kept: the cache holds through the reasoning (the last token may merge with what the model added)
  expect(r.cached.kept).toBeGreaterThanOrEqual(r.first.kept - 1);
  // dropped: the template writes the earlier reply without it, and the cache holds only up to where it stood
  expect(r.cached.dropped).toBeLessThanOrEqual(r.first.dropped - r.thought);
});
