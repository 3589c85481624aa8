/**
 * What the tests of reasoning sent back share (test/chat/tool-reasoning.test.ts, keep-reasoning.test.ts):
 * a suite's chat app on a generated thinking model with its engine requests recorded, a context size
 * loaded for a while, the engine alone measuring the cache a request after a thinking reply reuses,
 * and what llama.cpp's template renders for a conversation (beside a server's prompt).
 */
import type { ChatMessage } from '../../main/engine/protocol';
import { asData } from '../../main/params';
import { inAddon } from './addon';
import type { ThreadDTO } from '../../main/ipc/contract';
import { type ChatApp, chatApp, nextDone, recordingMessages } from './chat';
import { makeEngine, tempDir } from './engine';
import { writeTokenizerModels } from './models';

/**
 * A suite's chat app on a generated model (`write`: its writer, given writeTokenizerModels' Qwen2 vocab
 * and a folder), loaded before the suite and closed after; each engine request's messages go to `sent`.
 * Greedy replies of 2 tokens.
 */
export function useThinkingChat(prefix: string, write: (qwen: string, dir: string) => Promise<string>): { chat: ChatApp; model: string; sent: ChatMessage[][] } {
  const suite = { chat: undefined as unknown as ChatApp, model: '', sent: [] as ChatMessage[][] };
  beforeAll(async () => {
    const dir = tempDir(prefix);
    suite.model = await write((await writeTokenizerModels(dir)).qwen, dir);
    suite.chat = chatApp({ model: suite.model, engine: recordingMessages(makeEngine(), suite.sent), chatDefaults: { maxTokens: 2, temperature: 0 } });
    await suite.chat.call('models.load', { path: suite.chat.modelPath });
  });
  afterAll(() => suite.chat?.close());
  return suite;
}

/** Runs `fn` with the chat model loaded at a context of `size` tokens (its setting applies at a load), then loads it as before. */
export async function withContextSize<T>(chat: ChatApp, size: number, fn: () => Promise<T>): Promise<T> {
  await chat.call('models.settings.update', { path: chat.modelPath, settings: { contextSize: size } });
  await chat.call('models.load', { path: chat.modelPath });
  try {
    return await fn();
  } finally {
    await chat.call('models.settings.reset', { path: chat.modelPath });
    await chat.call('models.load', { path: chat.modelPath });
  }
}

/** A request after a thinking reply: what follows it (a tool's result, or the next question), whether the reply goes with its reasoning, and the request's preserveReasoning. */
export interface AfterThought {
  next: 'tool' | 'user';
  send: boolean;
  preserveReasoning?: boolean;
}

/**
 * The engine alone (one context, greedy): for each case, a reply that thinks `thought` (its reasoning given
 * as data, as a reply cut off while thinking, and continued by 4 tokens), then the case's request after it.
 * Answers the thought's tokens read as text, and for each case the first request's prompt tokens and the
 * tokens the request after it reused from the cache.
 */
export async function reuseAfterThought(model: string, thought: string, cases: Record<string, AfterThought>): Promise<{ thought: number; first: Record<string, number>; cached: Record<string, number> }> {
  return inAddon(
    `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
     const c = await addon.createContext(m, { contextSize: 1024, threads: 2 });
     let id = 1;
     const gen = (req) => c.generate(JSON.stringify({ id: id++, sampling: { temperature: 0 }, dataMarks: true, ...req }), () => {});
     const user = { role: 'user', content: 'What is the weather in Paris?' };
     const follows = { tool: { role: 'tool', content: 'Sunny' }, user: { role: 'user', content: 'And in Rome?' } };
     const out = { thought: m.tokenize(input.thought, { addSpecial: false, parseSpecial: false }).length, first: {}, cached: {} };
     try {
       for (const [name, k] of Object.entries(input.cases)) {
         const flag = k.preserveReasoning === undefined ? {} : { preserveReasoning: k.preserveReasoning };
         await c.clearSequence(0);
         const first = await gen({ continueFinal: true, maxTokens: 4, ...flag, messages: [user, { role: 'assistant', content: '', reasoning_content: input.marked }] });
         out.first[name] = first.timings.promptTokens;
         const reply = { role: 'assistant', content: first.content, ...(k.send ? { reasoning_content: input.marked } : {}) };
         const next = await gen({ maxTokens: 1, ...flag, messages: [user, reply, follows[k.next]] });
         out.cached[name] = next.timings.cachedTokens;
       }
       return out;
     } finally { await c.dispose(); await m.dispose(); }`,
    { model, thought, marked: asData(thought), cases },
  );
}

/** The tokens of `text` read as text (special-token text in it not parsed), by the model's own tokenizer. */
export async function tokensAsText(model: string, text: string): Promise<number> {
  return inAddon(
    `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
     try { return m.tokenize(input.text, { addSpecial: false, parseSpecial: false }).length; } finally { await m.dispose(); }`,
    { model, text },
  );
}

/** What llama.cpp's template renders (the addon, the same tree's chat code) for each conversation, with the request's `extra` fields. */
export function renderedBy(model: string, conversations: object[][], extra: Record<string, unknown>): Promise<{ tokens: number; prompt: string }[]> {
  return inAddon(
    `const m = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
     try {
       const out = [];
       for (const messages of input.conversations) out.push(await m.applyChatTemplate(JSON.stringify({ messages, ...input.extra })));
       return out.map((x) => ({ tokens: x.tokens, prompt: x.prompt }));
     } finally { await m.dispose(); }`,
    { model, conversations, extra },
  );
}

/** The earlier reply's reasoning of remoteFollowUp's threads. */
export const EARLIER_THOUGHT = 'The user asks about Paris so I look at the sky';

/**
 * A follow-up in `chat` on the remote model `ref` (a provider's), in a thread whose stored earlier reply
 * thought EARLIER_THOUGHT, with the thread's setting `overrides`: the follow-up's prompt tokens, as
 * the server counted them.
 */
export async function remoteFollowUp(chat: ChatApp, ref: string, overrides: Record<string, unknown>): Promise<number> {
  const thread = await chat.call<ThreadDTO>('threads.create', { modelPath: ref });
  chat.app.store.threads.update(thread.id, { overrides: { sampling: overrides } });
  chat.app.store.messages.add({ threadId: thread.id, role: 'user', content: 'What is the weather in Paris?' });
  chat.app.store.messages.add({ threadId: thread.id, role: 'assistant', content: 'It is sunny.', reasoning: EARLIER_THOUGHT, status: 'done', finishReason: 'stop' });
  const done = nextDone(chat.app, thread.id);
  await chat.call('chat.send', { threadId: thread.id, content: 'And in Rome?' });
  const reply = await done;
  expect(reply.error).toBeNull();
  return reply.metrics!.promptTokens;
}

/**
 * What the earlier reply's reasoning adds to the prompt of remoteFollowUp's conversation, rendered by
 * `model`'s template with preserve_reasoning on (as Hearth asks a server whose template keeps it): the
 * tokens with it less those without (the thread's prompts also hold the system prompt and the tools the
 * app offers, the same with and without).
 */
export async function earlierThoughtTokens(model: string): Promise<number> {
  const conversation = (reasoning: string) => [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'What is the weather in Paris?' },
    { role: 'assistant', content: 'It is sunny.', ...(reasoning ? { reasoning_content: reasoning } : {}) },
    { role: 'user', content: 'And in Rome?' },
  ];
  const rendered = await renderedBy(model, [conversation(EARLIER_THOUGHT), conversation('')], { preserveReasoning: true });
  expect(rendered[0].prompt).toContain(EARLIER_THOUGHT);
  expect(rendered[0].tokens).toBeGreaterThan(rendered[1].tokens);
  return rendered[0].tokens - rendered[1].tokens;
}
