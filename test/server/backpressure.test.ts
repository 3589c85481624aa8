/**
 * A streaming client that keeps its connection open but reads nothing: what it leaves unread is held
 * by the server, and its generation would go on as long as it asked (n_keep's context shift, a large
 * max_tokens). Past STREAM_UNREAD_MAX waiting, a client that reads none of it in STREAM_STALL_MS is
 * closed, which stops the generation as a client leaving does and frees the slot. A client that reads
 * is not closed, even when one event alone is past the limit. Real server,
 * real engine (the tiny model), a raw socket that is paused (Node stops reading it from the kernel, so
 * the server's writes back up).
 */
import net from 'net';
import { STREAM_STALL_MS, STREAM_UNREAD_MAX } from '../../main/server/http';
import { apiApp, type ApiApp } from '../helpers/api-server';
import { untilValue } from '../helpers/engine';

jest.setTimeout(330_000);

let api: ApiApp;
beforeAll(async () => {
  api = await apiApp();
}, 60_000);
afterAll(() => api?.close());

test('a client that reads nothing of its stream: the connection is closed once more than STREAM_UNREAD_MAX waits and none of it was read in STREAM_STALL_MS, the generation stops, the slot is free', async () => {
  const MAX_TOKENS = 1_000_000;
  const body = JSON.stringify({
    model: api.modelName,
    messages: [{ role: 'user', content: 'Tell me everything.' }],
    stream: true,
    max_tokens: MAX_TOKENS,
    ignore_eos: true,
    n_keep: 0,
    logprobs: true,
    top_logprobs: 20,
  });
  const sock = net.connect(api.port, '127.0.0.1');
  let closed = false;
  sock.on('close', () => (closed = true));
  sock.on('error', () => undefined);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:${api.port}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  sock.pause();
  try {
    const model = () => api.status().models.find((m) => m.name === api.modelName);
    await untilValue(() => (model()?.busy ?? 0) === 1, 'the generation to start', 60_000);
    // each token's chunk carries 20 alternatives (~2 KB): tens of thousands of tokens fill the limit
    await untilValue(() => model()?.busy === 0, 'the slot to be freed', 240_000);
    const entry = api.status().requests.find((r) => r.path === '/v1/chat/completions')!;
    // closed by the server, and the log says why
    expect(entry.status).toBe(499);
    expect(entry.error).toBe(`the client left more than ${STREAM_UNREAD_MAX >> 20} MiB of the stream unread and read none of it for ${STREAM_STALL_MS / 1000} s: closed`);
    expect(entry.tokens).toBeGreaterThan(0);
    expect(entry.tokens!).toBeLessThan(MAX_TOKENS);
    // what it generated is at least what fills the limit (a chunk per token is well under 16 KB)
    expect(entry.tokens! * 16 * 1024).toBeGreaterThan(STREAM_UNREAD_MAX);
    // the server closed the connection: reading again finds its end
    sock.resume();
    await untilValue(() => closed, 'the connection to close', 30_000);
  } finally {
    sock.destroy();
  }
});

test('a client that reads is not closed, even when one event alone is past STREAM_UNREAD_MAX (a Responses stream repeats its instructions in its first events)', async () => {
  // each of the first two events repeats the instructions and the tools: together past the limit, written at once
  const instructions = 'Be brief. '.repeat(Math.ceil((STREAM_UNREAD_MAX * 0.4) / 10));
  const tools = [{ type: 'function', name: 'f', description: 'A tool. '.repeat(Math.ceil((STREAM_UNREAD_MAX * 0.2) / 8)), parameters: { type: 'object' } }];
  const res = await fetch(`${api.url}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: api.modelName, input: 'hi', instructions, tools, stream: true, max_output_tokens: 4 }),
  });
  expect([res.status, res.status === 200 ? '' : await res.text()]).toEqual([200, '']);
  const text = await res.text(); // read to its end: a close mid-stream would throw here
  const events = [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
  expect(events[0]).toBe('response.created');
  expect(text.length).toBeGreaterThan(STREAM_UNREAD_MAX);
  // the instructions do not fit the tiny model's context: the stream ends with its failure, written whole
  expect(events[events.length - 1]).toMatch(/^response\.(failed|completed|incomplete)$/);
  expect(api.status().requests[0]).toMatchObject({ path: '/v1/responses', status: 200 });
});
