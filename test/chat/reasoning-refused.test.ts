/**
 * Which refusals a step is asked again with less reasoning for (main/chat/steps.ts refusedForReasoning):
 * too long for the context, a chat template refusing it (the engine's words, and a llama.cpp-family
 * server's answer naming the context or the template); no other failure, so a request that fails for
 * another reason is not sent again. The engine's words are taken from where it says them.
 */
import fs from 'fs';
import path from 'path';
import { refusedForReasoning } from '../../main/chat/steps';

const renderSource = fs.readFileSync(path.join(__dirname, '..', '..', 'native', 'src', 'chat_render.cpp'), 'utf8');

test("the engine's context overflow and template refusals are; other failures are not", () => {
  // the engine's refusal of a template, as chat_render.cpp words it
  const templateFailed = /"(chat template failed: )"/.exec(renderSource)![1];
  expect(refusedForReasoning({ code: 'context_overflow', message: 'the prompt (2411 tokens) does not fit the context (1024)' })).toBe(true);
  expect(refusedForReasoning({ code: 'invalid_argument', message: `${templateFailed}thinking field` })).toBe(true);
  expect(refusedForReasoning({ code: 'invalid_argument', message: 'a reply that called tools cannot be continued; regenerate it instead' })).toBe(false);
  expect(refusedForReasoning({ code: 'invalid_argument', message: 'grammar: unexpected end of input' })).toBe(false);
  expect(refusedForReasoning({ code: 'aborted', message: 'aborted' })).toBe(false);
  expect(refusedForReasoning({ code: 'engine_crashed', message: 'the engine stopped' })).toBe(false);
});

test("a llama.cpp-family server's answer: when it names the context or the template", () => {
  expect(refusedForReasoning({ code: 'provider_error', message: 'request (2411 tokens) exceeds the available context size (1024 tokens), try increasing it' })).toBe(true);
  expect(refusedForReasoning({ code: 'provider_error', message: 'Failed to apply the chat template: thinking field' })).toBe(true);
  expect(refusedForReasoning({ code: 'provider_error', message: '502 Bad Gateway' })).toBe(false);
  expect(refusedForReasoning({ code: 'provider_error', message: 'the stream ended without an answer' })).toBe(false);
});
