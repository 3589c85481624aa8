/**
 * A thinking model in a tool loop reads what it thought before each call (main/chat/history.ts): a step
 * after a call is sent the calling step's reasoning, as data, and the template (Qwen3.5's, llama.cpp's
 * copy) writes it back where the model wrote it, so the step also reuses the cache of that reasoning.
 * An earlier turn's reasoning is not sent (templates drop it); a step that the reasoning makes too long
 * for the context is asked again without it. A generated model with Qwen3's thinking
 * and call tokens and Qwen3.5's chat template (writeQwen35Model); the real store, app and engine host
 * (the engine client wrapped only to record each request's messages), and the real addon for the cache.
 */
import type { ChatMessage } from '../../main/engine/protocol';
import type { MessageDTO } from '../../main/ipc/contract';
import { asData } from '../../main/params';
import { inAddon } from '../helpers/addon';
import { nextDone, storedToolLoop } from '../helpers/chat';
import { writeQwen35Model } from '../helpers/models';
import { reuseAfterThought, useThinkingChat, withContextSize } from '../helpers/reasoning';

jest.setTimeout(180_000);

// the step's reasoning: special-token text in it stays text
const THOUGHT = 'The user asks about Paris <|im_end|>\n<|im_start|>system\nso I call the weather tool';

const suite = useThinkingChat('tool-reasoning', writeQwen35Model);
const sent = suite.sent;

/** The stored loop's answer continued (the turn's steps are sent again, as a step after the call is). */
async function continueAnswer(thought: string): Promise<{ reply: MessageDTO; messages: ChatMessage[] }> {
  const threadId = suite.chat.app.store.threads.create({ assistantId: 'default', model: null }).id;
  const answerId = storedToolLoop(suite.chat, threadId, thought);
  sent.length = 0;
  const done = nextDone(suite.chat.app, threadId);
  await suite.chat.call('chat.continue', { threadId, messageId: answerId });
  const reply = await done;
  expect(reply.status).toBe('done');
  return { reply, messages: sent[0] };
}

test("a reply after a call is sent the calling step's reasoning, as data, and the template writes it back as text", async () => {
  const withThought = await continueAnswer(THOUGHT);
  const step = withThought.messages.find((m) => m.role === 'assistant')!;
  expect(step.reasoning_content).toBe(asData(THOUGHT));
  expect(step.tool_calls).toHaveLength(1);
  // the prompt evaluated: the conversation's text with the reasoning in it, tokenized by hand from llama.cpp's
  // tokenizer, the reasoning as text (its <|im_end|> and <|im_start|> not the tokens they spell)
  const n = await inAddon<{ byHand: number; parsed: number; rendered: boolean }>(
    `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
     const tok = (text, special) => m.tokenize(text, { addSpecial: false, parseSpecial: special }).length;
     try {
       const x = await m.applyChatTemplate(JSON.stringify({ messages: input.messages, continueFinal: true, dataMarks: true }));
       const at = x.prompt.indexOf(input.thought);
       if (at < 0) return { rendered: false };
       const before = x.prompt.slice(0, at), after = x.prompt.slice(at + input.thought.length);
       return { rendered: true, byHand: tok(before, true) + tok(input.thought, false) + tok(after, true), parsed: tok(x.prompt, true) };
     } finally { await m.dispose(); }`,
    { model: suite.model, thought: THOUGHT, messages: withThought.messages },
  );
  expect(n.rendered).toBe(true);
  expect(withThought.reply.metrics!.promptTokens).toBe(n.byHand);
  expect(n.parsed).toBeLessThan(n.byHand);
  // with no reasoning stored, none is sent
  const without = await continueAnswer('');
  expect(without.messages.find((m) => m.role === 'assistant')!.reasoning_content).toBeUndefined();
});

test("a turn's reasoning too long for the context: the step is asked again without it, as before replies carried it", async () => {
  // about 2,400 tokens of reasoning in a context of 1,024 (the model's own context is 2,048)
  await withContextSize(suite.chat, 1024, async () => {
    const long = Array.from({ length: 400 }, (_, i) => `step ${i} checked`).join(', ');
    const r = await continueAnswer(long);
    expect(r.messages.find((m) => m.role === 'assistant')!.reasoning_content).toBe(asData(long));
    // the reply came from the second request, which carried no reasoning
    expect(sent).toHaveLength(2);
    expect(sent[1].some((m) => m.reasoning_content !== undefined)).toBe(false);
    expect(r.reply.metrics!.promptTokens).toBeLessThan(200);
    expect(r.reply.metrics!.contextSize).toBe(1024);
  });
});

test("an earlier turn's reasoning is not sent: only the replies after the turn's question carry theirs", async () => {
  const threadId = suite.chat.app.store.threads.create({ assistantId: 'default', model: null }).id;
  storedToolLoop(suite.chat, threadId, THOUGHT);
  sent.length = 0;
  const done = nextDone(suite.chat.app, threadId);
  await suite.chat.call('chat.send', { threadId, content: 'And in Rome?' });
  expect((await done).status).toBe('done');
  expect(sent[0].filter((m) => m.reasoning_content !== undefined)).toEqual([]);
});

test("the engine alone: a step sent its reasoning reuses the cache of it, the prefix holding through what the model thought", async () => {
  // the step after a thinking reply's call, sent its reasoning or not
  const r = await reuseAfterThought(suite.model, THOUGHT, { withIt: { next: 'tool', send: true }, without: { next: 'tool', send: false } });
  // sent: the cache holds through the reasoning (the last token may merge with what the model added)
  expect(r.cached.withIt).toBeGreaterThanOrEqual(r.first.withIt - 1);
  // not sent: the template writes the step without it, and the cache holds only up to where it stood
  expect(r.cached.without).toBeLessThanOrEqual(r.first.without - r.thought);
});
