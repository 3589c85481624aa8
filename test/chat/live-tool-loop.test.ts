/**
 * A live call loop whose reasoning and call the model writes itself, through the real app: the store,
 * the call loop with the built-in current_time tool (it runs without asking), the engine host and
 * llama.cpp's own parse of the model's output. The model is a scripted GLM-4.7 (Qwen2's vocab with GLM's
 * tokens and GLM-4.7-Flash's template, test/helpers/scripted-model.ts): after its generation prompt's
 * <think> it writes SCRIPT, reasoning then a call in the template's own form (no whitespace around
 * the reasoning, none between the tags), as a real GLM-4.7 may. So what llama.cpp parses out of the
 * model's tokens is stored, sent back by the app, written again by the template and tokenized again,
 * and the step after the call must find all of it in its cache (the other reasoning tests send
 * reasoning a test wrote, never one a model wrote). Output in another form is written back in the
 * template's (GLM-4.7's strips the reasoning), and the cache holds only up to where they differ: the
 * second test shows where, for reasoning that starts with a newline. The engine client is wrapped only
 * to record each request's messages.
 */
import path from 'path';
import type { ChatMessage } from '../../main/engine/protocol';
import type { MessageDTO } from '../../main/ipc/contract';
import { asData } from '../../main/params';
import { type ChatApp, chatApp, nextDone, recordingMessages } from '../helpers/chat';
import { makeEngine, tempDir } from '../helpers/engine';
import { writeGlm47Model, writeTokenizerModels } from '../helpers/models';
import { tokensAsText } from '../helpers/reasoning';
import { writeScriptedText } from '../helpers/scripted-model';

jest.setTimeout(180_000);

const THOUGHT = 'Let me check the clock';
/** What the model writes after <think>: its reasoning, then a call of current_time with no arguments. */
const SCRIPT = `<think>${THOUGHT}</think><tool_call>current_time</tool_call>`;

let chat: ChatApp;
let script: number[];
let dir: string;
let glm: string;
const sent: ChatMessage[][] = [];

/** A chat app on `glm` scripted to write `text`, recording its engine requests to `into`. */
async function scriptedChat(text: string, into: ChatMessage[][]): Promise<{ chat: ChatApp; script: number[] }> {
  const model = path.join(dir, `scripted-${into === sent ? 'main' : 'other'}.gguf`);
  const script = await writeScriptedText(glm, model, text);
  const chat = chatApp({ model, modelAs: 'glm.gguf', engine: recordingMessages(makeEngine(), into), chatDefaults: { temperature: 0, maxTokens: 64 } });
  // two steps: the call, then an answer that may not call
  await chat.call('settings.update', { tools: { ...chat.app.tools.settings(), maxSteps: 2 } });
  await chat.call('models.load', { path: chat.modelPath });
  return { chat, script };
}

beforeAll(async () => {
  dir = tempDir('live-tool-loop');
  glm = await writeGlm47Model((await writeTokenizerModels(dir)).qwen, dir);
  ({ chat, script } = await scriptedChat(SCRIPT, sent));
});

afterAll(() => chat?.close());

/** A thread whose assistant offers current_time alone (on `chat`). */
async function clockThread(on: ChatApp = chat): Promise<string> {
  const chat = on;
  const a = await chat.call<{ id: string }>('assistants.create', { name: 'Clock', tools: { builtins: ['current_time'], servers: [] } });
  return (await chat.call<{ id: string }>('threads.create', { assistantId: a.id })).id;
}

/** Sends `content` and waits for the turn's end; answers the thread's messages (on `chat`). */
async function turn(threadId: string, content: string, on: ChatApp = chat): Promise<MessageDTO[]> {
  const chat = on;
  const done = nextDone(chat.app, threadId);
  await chat.call('chat.send', { threadId, content });
  expect((await done).status).toBe('done');
  await chat.app.chat.idle();
  return (await chat.call<{ messages: MessageDTO[] }>('threads.get', { id: threadId })).messages;
}

test('the model thinks and calls; the step after the call is sent what it thought and reuses its whole cache', async () => {
  const threadId = await clockThread();
  sent.length = 0;
  const messages = await turn(threadId, 'What time is it?');
  expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
  const [, step, result, answer] = messages;

  // what llama.cpp parsed out of the model's own tokens: the reasoning, and the call
  expect(step).toMatchObject({ status: 'done', finishReason: 'toolCalls', reasoning: THOUGHT, content: '' });
  expect(step.toolCalls.map((c) => [c.name, JSON.parse(c.arguments)])).toEqual([['current_time', {}]]);
  expect(result.content).toMatch(/\d{4}/);

  // the step after the call was sent the step's reasoning, as data, and its call
  expect(sent).toHaveLength(2);
  const stepSent = sent[1].find((m) => m.role === 'assistant')!;
  expect(stepSent.reasoning_content).toBe(asData(THOUGHT));
  expect(stepSent.tool_calls?.map((c) => c.function.name)).toEqual(['current_time']);

  // the model wrote the script whole: its tokens after the generation prompt's <think> (the end token,
  // which ends the reply, is not counted)
  const first = step.metrics!;
  expect(first.generatedTokens).toBe(script.length - 2);
  // and the step after it reused every one of them: the prompt and all the model wrote, as the template
  // writes them again from what was parsed out (a token of difference would re-read from there)
  expect(answer.metrics!.cachedTokens).toBe(first.promptTokens + first.generatedTokens);
  expect(answer.metrics!.promptTokens).toBeGreaterThan(answer.metrics!.cachedTokens);

  // the next turn: GLM-4.7's template keeps earlier turns' reasoning (preserveReasoning, on by default),
  // so both steps are sent theirs, and the cache holds through the last one's: the answer step wrote the
  // same script (a call it may not make, so its text), and its text is sent as data, read as text, where
  // the model wrote <tool_call> and </tool_call> as their tokens: the cache holds up to there
  sent.length = 0;
  const next = await turn(threadId, 'And now?');
  expect(next).toHaveLength(8);
  expect(sent[0].filter((m) => m.role === 'assistant').map((m) => m.reasoning_content)).toEqual([asData(THOUGHT), asData(THOUGHT)]);
  expect(answer.content).toBe('<tool_call>current_time</tool_call>');
  const thought = await tokensAsText(chat.modelPath, THOUGHT);
  expect(next[5].metrics!.cachedTokens).toBe(answer.metrics!.promptTokens + thought + 1);
});

test('reasoning the model starts with a newline is written back stripped, as the template writes it: the step after the call re-reads the whole step', async () => {
  const other: ChatMessage[][] = [];
  const { chat: c } = await scriptedChat(`<think>\n${THOUGHT}</think><tool_call>current_time</tool_call>`, other);
  try {
    const messages = await turn(await clockThread(c), 'What time is it?', c);
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    const [, step, , answer] = messages;
    // parsed as before: the reasoning (without its newline), then the call
    expect(step.reasoning.trim()).toBe(THOUGHT);
    expect(step.toolCalls.map((m) => m.name)).toEqual(['current_time']);
    // GLM-4.7's template writes it back as <think>THOUGHT</think>: the tokens part right after the
    // prompt's <think>, so of the step the cache holds its prompt alone
    expect(answer.metrics!.cachedTokens).toBe(step.metrics!.promptTokens);
  } finally {
    await c.close();
  }
});
