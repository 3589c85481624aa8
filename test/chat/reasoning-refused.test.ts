/**
 * Which refusals a step is asked again with less reasoning for (main/chat/steps.ts refusedForReasoning):
 * too long for the context, a chat template refusing it; no other failure, so a request that fails for
 * another reason is not sent again. The engine's words are taken from where it says them; a
 * llama.cpp-family server's answers are the OpenAI SDK's errors for llama-server's bodies, as Hearth's
 * provider client words them (main/providers/errors.ts; test/providers/llama-server.test.ts refuses a
 * prompt too long for the real server's context).
 */
import fs from 'fs';
import path from 'path';
import OpenAI from 'openai';
import { refusedForReasoning } from '../../main/chat/steps';
import { providerError } from '../../main/providers/errors';

const source = (file: string) => fs.readFileSync(path.join(__dirname, '..', '..', file), 'utf8');

test("the engine's context overflow and template refusals are; other failures are not", () => {
  // the engine's refusal of a template, as chat_render.cpp words it
  const templateFailed = /"(chat template failed: )"/.exec(source('native/src/chat_render.cpp'))![1];
  expect(refusedForReasoning({ code: 'context_overflow', message: 'the prompt (2411 tokens) does not fit the context (1024)' })).toBe(true);
  expect(refusedForReasoning({ code: 'invalid_argument', message: `${templateFailed}thinking field` })).toBe(true);
  expect(refusedForReasoning({ code: 'invalid_argument', message: 'a reply that called tools cannot be continued; regenerate it instead' })).toBe(false);
  expect(refusedForReasoning({ code: 'invalid_argument', message: 'grammar: unexpected end of input' })).toBe(false);
  expect(refusedForReasoning({ code: 'aborted', message: 'aborted' })).toBe(false);
  expect(refusedForReasoning({ code: 'engine_crashed', message: 'the engine stopped' })).toBe(false);
});

test("a llama.cpp-family server's answers: a prompt over its context, llama.cpp's Jinja errors; not another failure, nor the provider's own name", () => {
  const who = 'Context Template Server';
  const server = { name: who, baseUrl: 'http://127.0.0.1:8080/v1' };
  const answer = (status: number, error: Record<string, unknown>) => {
    const e = providerError(server, OpenAI.APIError.generate(status, { error }, undefined, new Headers()), null);
    return { code: e.code, message: e.message };
  };
  // llama-server's body for a prompt over its context (tools/server: exceed_context_size_error)
  const tooLong = answer(400, { code: 400, message: 'request (2411 tokens) exceeds the available context size (1024 tokens), try increasing it', type: 'exceed_context_size_error', n_prompt_tokens: 2411, n_ctx: 1024 });
  expect(tooLong.code).toBe('context_overflow');
  expect(refusedForReasoning(tooLong, who)).toBe(true);
  // a template's raise_exception, as llama.cpp's Jinja runtime words it (common/jinja), answered as a server error
  const jinja = /"(Jinja Exception: )"/.exec(source('build/llama.cpp/common/jinja/value.cpp'))![1];
  const refused = answer(500, { code: 500, message: `While executing CallExpression at line 1, column 5 in source:\n...\nError: ${jinja}thinking field`, type: 'server_error' });
  expect(refused.code).toBe('provider_error');
  expect(refusedForReasoning(refused, who)).toBe(true);
  // other answers are not, though the provider's name says "Context" and "Template"
  for (const other of [answer(500, { code: 500, message: 'Internal Server Error', type: 'server_error' }), answer(400, { code: 400, message: 'invalid tool_choice', type: 'invalid_request_error' })]) {
    expect(other.code).toBe('provider_error');
    expect(refusedForReasoning(other, who)).toBe(false);
  }
});
