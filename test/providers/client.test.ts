/**
 * The remote clients (main/providers/client.ts) against a stand-in provider on loopback (a real HTTP
 * server speaking each API's streaming shape; a double of OpenAI's and Anthropic's hosted services,
 * which this machine cannot reach): what each kind sends (the capability table: only the settings
 * the kind accepts, under its names; the key and the extra headers), how a stream becomes the
 * engine's result (pieces, reasoning, tool calls, usage, stop reasons), and the errors a user reads —
 * 401 (check the key), 429 (the wait the provider gave), a refused connection, a provider that goes
 * silent (Hearth's timeout) — never carrying the key.
 */
import type http from 'http';
import type { IpcError } from '../../main/ipc/contract';
import { asData, CHAT_DEFAULTS, PROVIDER_CAPABILITIES, PROVIDER_KINDS, RANDOM_SEED, remoteSettings, type ProviderConfig } from '../../main/params';
import { listRemoteModels, remoteChat, type ProviderAccess } from '../../main/providers/client';
import { retryAfterSeconds } from '../../main/providers/errors';
import { describeMessageError } from '../../renderer/src/app/errors';
import { webServer, type WebServer } from '../helpers/web-server';

const KEY = 'sk-test-0123456789abcdef';
let server: WebServer;
/** what the stand-in does with the next request */
let respond: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;
const seen: { path: string; headers: http.IncomingHttpHeaders; body: Record<string, unknown> }[] = [];

beforeAll(async () => {
  server = await webServer((req, res, body) => {
    seen.push({ path: req.url ?? '', headers: req.headers, body: body ? (JSON.parse(body) as Record<string, unknown>) : {} });
    respond(req, res, body);
  });
});
afterAll(() => server?.close());
beforeEach(() => {
  seen.length = 0;
});

function provider(kind: ProviderConfig['kind'], over: Partial<ProviderConfig> = {}): ProviderAccess {
  const base = kind === 'anthropic' ? server.url('') : server.url('/v1');
  return { config: { id: 'p1', name: 'Stand-in', kind, baseUrl: base, headers: { 'X-Team': 'blue' }, models: [], enabled: true, ...over }, apiKey: KEY };
}

const sse = (res: http.ServerResponse, events: unknown[], named = false) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const e of events) res.write(named ? `event: ${(e as { type: string }).type}\ndata: ${JSON.stringify(e)}\n\n` : `data: ${JSON.stringify(e)}\n\n`);
  if (!named) res.write('data: [DONE]\n\n');
  res.end();
};

const chunk = (delta: Record<string, unknown>, finish: string | null = null, usage?: Record<string, number>) => ({
  id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}),
});

const run = (p: ProviderAccess, settings: Record<string, unknown> = {}, extra: { tools?: unknown[]; toolChoice?: 'auto' | 'none'; timeoutMs?: number; signal?: AbortSignal } = {}) => {
  const pieces: [string, string][] = [];
  const result = remoteChat(
    p,
    { model: 'm', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], settings, ...(extra.tools ? { tools: extra.tools as never, toolChoice: extra.toolChoice } : {}) },
    { signal: extra.signal ?? new AbortController().signal, onPiece: (c, r) => pieces.push([c, r]), ...(extra.timeoutMs ? { timeoutMs: extra.timeoutMs } : {}) },
  );
  return { pieces, result };
};

const settings = { ...CHAT_DEFAULTS, seed: 7, stop: ['END'], maxTokens: 100, temperature: 1.5, mirostat: 2 };

describe('what each kind sends', () => {
  test('OpenAI: only the settings it takes, under its names; the key as a bearer token and the extra headers', async () => {
    respond = (_q, res) => sse(res, [chunk({ content: 'Hel' }), chunk({ content: 'lo' }, 'stop'), { ...chunk({}), choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } }]);
    const { pieces, result } = run(provider('openai'), settings);
    const r = await result;
    expect(pieces).toEqual([['Hel', ''], ['lo', '']]);
    expect(r).toMatchObject({ content: 'Hello', stopReason: 'eos', toolCalls: [], timings: { promptTokens: 9, generatedTokens: 2 } });
    const q = seen[0];
    expect(q.path).toBe('/v1/chat/completions');
    expect(q.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(q.headers['x-team']).toBe('blue');
    expect(q.body).toMatchObject({ model: 'm', stream: true, stream_options: { include_usage: true }, temperature: 1.5, top_p: CHAT_DEFAULTS.topP, seed: 7, stop: ['END'], max_tokens: 100 });
    expect(q.body.messages).toEqual([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }]);
    // llama.cpp's samplers are not OpenAI's: never sent to it
    for (const k of ['top_k', 'min_p', 'repeat_penalty', 'mirostat']) expect(q.body).not.toHaveProperty(k);
  });

  test("a llama.cpp-family server: llama.cpp's sampler names too; a random seed and no limit are left out", async () => {
    respond = (_q, res) => sse(res, [chunk({ content: 'ok' }, 'length')]);
    const r = await run(provider('openai-server'), { ...settings, seed: RANDOM_SEED, maxTokens: -1 }).result;
    expect(r.stopReason).toBe('length');
    expect(seen[0].body).toMatchObject({ top_k: CHAT_DEFAULTS.topK, min_p: CHAT_DEFAULTS.minP, repeat_penalty: CHAT_DEFAULTS.repeatPenalty, mirostat: 2 });
    expect(seen[0].body).not.toHaveProperty('seed');
    expect(seen[0].body).not.toHaveProperty('max_tokens');
  });

  test('Mistral: no stream_options (it refuses unknown fields), the seed as random_seed; the usage it sends anyway is read', async () => {
    respond = (_q, res) => sse(res, [chunk({ content: 'Bonjour' }), chunk({}, 'stop', { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 })]);
    const r = await run(provider('mistral'), settings).result;
    expect(r).toMatchObject({ content: 'Bonjour', timings: { promptTokens: 5, generatedTokens: 1 } });
    expect(seen[0].body).not.toHaveProperty('stream_options');
    expect(seen[0].body).toMatchObject({ random_seed: 7, temperature: 1.5, max_tokens: 100, stop: ['END'] });
    for (const k of ['seed', 'top_k', 'min_p', 'repeat_penalty']) expect(seen[0].body).not.toHaveProperty(k);
  });

  test('Anthropic: the key, the system prompt apart, stop_sequences, temperature within 0–1, max_tokens always', async () => {
    respond = (_q, res) =>
      sse(
        res,
        [
          { type: 'message_start', message: { id: 'm1', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } } },
          { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
          { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Hmm.' } },
          { type: 'content_block_stop', index: 0 },
          { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
          { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Hi there' } },
          { type: 'content_block_stop', index: 1 },
          { type: 'message_delta', delta: { stop_reason: 'stop_sequence', stop_sequence: 'END' }, usage: { output_tokens: 5 } },
          { type: 'message_stop' },
        ],
        true,
      );
    const { pieces, result } = run(provider('anthropic'), { ...settings, maxTokens: -1 });
    const r = await result;
    expect(pieces).toEqual([['', 'Hmm.'], ['Hi there', '']]);
    expect(r).toMatchObject({ content: 'Hi there', reasoning: 'Hmm.', stopReason: 'stop', timings: { promptTokens: 12, generatedTokens: 5 } });
    const q = seen[0];
    expect(q.path).toBe('/v1/messages');
    // the official client (1.x) sends the key as a bearer token, with the API version
    expect(q.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(q.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(q.headers['x-team']).toBe('blue');
    expect(q.body).toMatchObject({ model: 'm', system: 'Be brief.', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], stop_sequences: ['END'], temperature: 1, top_k: CHAT_DEFAULTS.topK, max_tokens: 4096 });
    for (const k of ['seed', 'min_p', 'repeat_penalty', 'stop', 'presence_penalty']) expect(q.body).not.toHaveProperty(k);
  });

  test('the capability table is the one definition: every kind sends exactly its listed settings', () => {
    const all = { temperature: 0.5, topK: 5, topP: 0.5, minP: 0.1, typicalP: 0.9, repeatPenalty: 1.2, repeatLastN: 32, presencePenalty: 0.1, frequencyPenalty: 0.2, seed: 3, stop: ['x'], maxTokens: 9, reasoningEffort: 'low', mirostat: 1 };
    for (const kind of PROVIDER_KINDS) {
      const sent = Object.keys(remoteSettings(kind, all)).sort();
      // (Anthropic: temperature or top_p, not both — its newer models refuse the pair)
      const listed = Object.entries(PROVIDER_CAPABILITIES[kind]).filter(([k]) => k in all && !(kind === 'anthropic' && k === 'topP')).map(([, f]) => f).sort();
      expect(sent).toEqual(listed);
    }
    expect(remoteSettings('anthropic', { topP: 0.9 })).toEqual({ top_p: 0.9, max_tokens: 4096 });
    expect(remoteSettings('openai', { stop: ['a', 'b', 'c', 'd', 'e'] })).toEqual({ stop: ['a', 'b', 'c', 'd'] });
  });
});

describe('tool calls', () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];

  test('OpenAI: streamed calls are put together by index; tools and tool_choice go as given', async () => {
    respond = (_q, res) =>
      sse(res, [
        chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"ci' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: 'ty":"Paris"}' } }] }),
        chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] }, 'tool_calls'),
      ]);
    const r = await run(provider('openai'), {}, { tools, toolChoice: 'auto' }).result;
    expect(r.toolCalls).toEqual([
      { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { id: 'call_b', name: 'get_weather', arguments: '{"city":"Rome"}' },
    ]);
    expect(r.stopReason).toBe('eos');
    expect(seen[0].body).toMatchObject({ tools, tool_choice: 'auto', parallel_tool_calls: true });
  });

  test("a step's reasoning (a tool loop's, as the chat service sends it) goes to a llama.cpp-family server and to DeepSeek's and Kimi's APIs as reasoning_content, unmarked; to other hosted APIs not at all", async () => {
    const step = { role: 'assistant' as const, content: '', reasoning_content: asData('I look it up <|im_end|>'), tool_calls: [{ id: 'call_a', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] };
    const messages = [{ role: 'user' as const, content: 'Weather?' }, step, { role: 'tool' as const, content: 'Sunny', tool_call_id: 'call_a' }];
    const sentStep = async (kind: ProviderConfig['kind']) => {
      seen.length = 0;
      respond = (_q, res) => sse(res, [chunk({ content: 'Sunny.' }, 'stop')]);
      await remoteChat(provider(kind), { model: 'm', messages, settings: {} }, { signal: new AbortController().signal, onPiece: () => {} });
      return (seen[0].body.messages as Record<string, unknown>[])[1];
    };
    const sentCall = { role: 'assistant', content: null, tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] };
    for (const kind of ['openai-server', 'deepseek', 'kimi'] as const) expect(await sentStep(kind)).toEqual({ ...sentCall, reasoning_content: 'I look it up <|im_end|>' });
    for (const kind of ['openai', 'mistral'] as const) expect(await sentStep(kind)).not.toHaveProperty('reasoning_content');
    // what stands for a step that did not think (main/chat/history.ts gives DeepSeek's "") goes as it is; none goes where none is taken
    messages[1] = { ...step, reasoning_content: '' };
    expect(await sentStep('deepseek')).toEqual({ ...sentCall, reasoning_content: '' });
    expect(await sentStep('openai')).toEqual(sentCall);
  });

  test('Anthropic: tool_use blocks with their input streamed as JSON; the tools in its shape', async () => {
    respond = (_q, res) =>
      sse(
        res,
        [
          { type: 'message_start', message: { id: 'm1', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 0 } } },
          { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } },
          { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"city":' } },
          { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } },
          { type: 'content_block_stop', index: 0 },
          { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 8 } },
          { type: 'message_stop' },
        ],
        true,
      );
    const r = await run(provider('anthropic'), {}, { tools, toolChoice: 'none' }).result;
    expect(r.toolCalls).toEqual([{ id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' }]);
    expect(seen[0].body).toMatchObject({ tools: [{ name: 'get_weather', description: 'Weather', input_schema: tools[0].function.parameters }], tool_choice: { type: 'none' } });
  });
});

describe('errors the user reads', () => {
  const fail = async (p: ProviderAccess, timeoutMs?: number) => {
    const e = (await run(p, {}, timeoutMs ? { timeoutMs } : {}).result.then(
      () => null,
      (x: unknown) => x,
    )) as IpcError;
    expect(e).not.toBeNull();
    expect(e.message).not.toContain(KEY);
    return e;
  };

  test('401: provider_auth with the provider’s own words', async () => {
    respond = (_q, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Incorrect API key provided: sk-test-****cdef.', type: 'invalid_request_error', code: 'invalid_api_key' } }));
    };
    const e = await fail(provider('openai'));
    expect(e.code).toBe('provider_auth');
    expect(e.message).toContain('Incorrect API key provided');
    expect(e.message).toContain('Stand-in');
    // Anthropic's shape too
    respond = (_q, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }));
    };
    const a = await fail(provider('anthropic'));
    expect(a.code).toBe('provider_auth');
    expect(a.message).toContain('invalid x-api-key');
  });

  test('what the user reads: the hint says what to do, with the provider’s words', async () => {
    respond = (_q, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } }));
    };
    const auth = await fail(provider('openai'));
    expect(describeMessageError(`${auth.code}: ${auth.message}`)).toBe('The provider refused the API key — check it in Settings → Providers (Stand-in answered 401 Incorrect API key provided).');
    respond = (_q, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '30' });
      res.end(JSON.stringify({ error: { message: 'Slow down' } }));
    };
    const limited = await fail(provider('openai'));
    expect(describeMessageError(`${limited.code}: ${limited.message}`)).toBe('The provider is limiting requests — Stand-in answered 429 Slow down; try again in 30 s.');
  });

  test('429: provider_rate_limited, with the wait the provider gave; nothing retried behind the user', async () => {
    respond = (_q, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '17' });
      res.end(JSON.stringify({ error: { message: 'Rate limit reached for requests', type: 'requests' } }));
    };
    const e = await fail(provider('openai'));
    expect(e.code).toBe('provider_rate_limited');
    expect(e.message).toContain('Rate limit reached');
    expect(e.message).toContain('try again in 17 s');
    expect(seen).toHaveLength(1);
    expect(retryAfterSeconds(new Headers({ 'retry-after': new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString() }), Date.UTC(2030, 0, 1))).toBe(30);
    expect(retryAfterSeconds(new Headers({ 'retry-after-ms': '1500' }))).toBe(2);
    expect(retryAfterSeconds(new Headers({}))).toBeNull();
  });

  test('another refusal: provider_error with its words (a 400 about the model)', async () => {
    respond = (_q, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'The model `m` does not exist', type: 'invalid_request_error' } }));
    };
    const e = await fail(provider('openai'));
    expect(e.code).toBe('provider_error');
    expect(e.message).toContain('does not exist');
  });

  test('a provider that answers nothing: provider_offline after the timeout; one that goes silent mid-stream likewise', async () => {
    respond = () => undefined; // never answers
    const t0 = Date.now();
    const e = await fail(provider('openai'), 400);
    expect(e.code).toBe('provider_offline');
    expect(Date.now() - t0).toBeLessThan(5000);
    respond = (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(chunk({ content: 'Hel' }))}\n\n`); // then silence
    };
    const m = await fail(provider('openai'), 400);
    expect(m.code).toBe('provider_offline');
    expect(m.message).toMatch(/sent nothing for \d+ s|did not answer in time/);
  });

  test('an error event in the middle of an Anthropic stream: overloaded is a rate limit', async () => {
    respond = (_q, res) =>
      sse(
        res,
        [
          { type: 'message_start', message: { id: 'm1', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 0 } } },
          { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
        ],
        true,
      );
    const e = await fail(provider('anthropic'));
    expect(e.code).toBe('provider_rate_limited');
    expect(e.message).toContain('Overloaded');
  });

  test('no server at the address: provider_offline naming it', async () => {
    const gone = await webServer(() => undefined);
    const url = gone.url('/v1');
    await gone.close();
    const e = await fail({ ...provider('openai'), config: { ...provider('openai').config, baseUrl: url } });
    expect(e.code).toBe('provider_offline');
    expect(e.message).toContain(url);
  });

  test('a stop mid-stream ends the reply as aborted with what came, and closes the connection', async () => {
    let closed = false;
    respond = (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(chunk({ content: 'partial' }))}\n\n`);
      req.socket.on('close', () => (closed = true));
    };
    const ctl = new AbortController();
    const { pieces, result } = run(provider('openai'), {}, { signal: ctl.signal });
    while (pieces.length === 0) await new Promise((r) => setTimeout(r, 10));
    ctl.abort();
    const r = await result;
    expect(r).toMatchObject({ stopReason: 'aborted', content: 'partial' });
    for (let i = 0; i < 100 && !closed; i++) await new Promise((res) => setTimeout(res, 20));
    expect(closed).toBe(true);
  });
});

describe('a hostile or broken provider', () => {
  const failWith = async (p: ProviderAccess, timeoutMs?: number) =>
    (await run(p, {}, timeoutMs ? { timeoutMs } : {}).result.then(
      () => null,
      (x: unknown) => x,
    )) as IpcError;

  test('an error that echoes the request’s headers shows neither the key nor the extra headers’ values', async () => {
    respond = (req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `bad request; you sent ${req.headers.authorization} and X-Team ${req.headers['x-team']}` } }));
    };
    for (const kind of ['openai', 'anthropic'] as const) {
      const e = await failWith(provider(kind, { headers: { 'X-Team': 'blue-team-token' } }));
      expect(e.code).toBe('provider_error');
      expect(e.message).toContain('you sent Bearer ••••');
      expect(e.message).not.toContain(KEY);
      expect(e.message).not.toContain('blue-team-token');
    }
  });

  test('tool calls with a hostile index, too many, or too long: the reply is stopped, nothing else is touched', async () => {
    for (const index of [4294967294, '__proto__', -1, 1.5]) {
      respond = (_q, res) => sse(res, [chunk({ tool_calls: [{ index, id: 'x', type: 'function', function: { name: 'f', arguments: '{}' } }] }, 'tool_calls')]);
      const t0 = Date.now();
      const e = await failWith(provider('openai'));
      expect(e.code).toBe('provider_error');
      expect(e.message).toContain('tool call with the index');
      expect(Date.now() - t0).toBeLessThan(2000);
    }
    expect(([] as unknown as Record<string, unknown>).name).toBeUndefined();
    respond = (_q, res) => sse(res, Array.from({ length: 300 }, (_, i) => chunk({ tool_calls: [{ index: i, id: `c${i}`, type: 'function', function: { name: 'f', arguments: '{}' } }] })));
    expect((await failWith(provider('openai'))).message).toContain('more than 256 tool calls');
    const piece = 'x'.repeat(1024 * 1024);
    respond = (_q, res) => sse(res, Array.from({ length: 6 }, () => chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] })));
    expect((await failWith(provider('openai'))).message).toMatch(/tool call longer than \d+ characters/);
  });

  test('empty chunks forever are silence: the timeout still ends the reply', async () => {
    let timer: NodeJS.Timeout | undefined;
    respond = (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      timer = setInterval(() => res.write(`data: ${JSON.stringify({ ...chunk({}), choices: [] })}\n\n`), 50);
      res.on('close', () => clearInterval(timer));
    };
    const t0 = Date.now();
    const e = await failWith(provider('openai'), 500);
    clearInterval(timer);
    expect(e.code).toBe('provider_offline');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test('a redirect is not followed (the extra headers would go to another host)', async () => {
    const other = await webServer((_q, res) => res.end('{}'));
    try {
      respond = (_q, res) => {
        res.writeHead(307, { location: other.url('/v1/chat/completions') });
        res.end();
      };
      const e = await failWith(provider('openai'));
      expect(e.code).toBe('provider_offline');
      expect(other.paths).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

test('model lists: OpenAI’s and Anthropic’s GET /v1/models, every page', async () => {
  respond = (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url?.startsWith('/v1/models') && req.headers['anthropic-version']) {
      const after = new URL(req.url, 'http://x').searchParams.get('after_id');
      res.end(JSON.stringify(after ? { data: [{ id: 'claude-b', type: 'model' }], has_more: false, first_id: 'claude-b', last_id: 'claude-b' } : { data: [{ id: 'claude-a', type: 'model' }], has_more: true, first_id: 'claude-a', last_id: 'claude-a' }));
    } else res.end(JSON.stringify({ object: 'list', data: [{ id: 'gpt-x', object: 'model' }, { id: 'gpt-y', object: 'model' }] }));
  };
  expect(await listRemoteModels(provider('openai'), new AbortController().signal, 5000)).toEqual(['gpt-x', 'gpt-y']);
  expect(await listRemoteModels(provider('anthropic'), new AbortController().signal, 5000)).toEqual(['claude-a', 'claude-b']);
});
