/**
 * McpConnection against real MCP servers: the SDK's reference server (server-everything) and a
 * fixture over stdio, a Streamable HTTP server wanting a header, commands that fail to start or never
 * answer. Every test stops what it started; a stopped stdio server's process is gone.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { McpConnection } from '../../main/tools/mcp/connection';
import { McpServerConfig } from '../../main/params/tools';
import { EVERYTHING, everything, fixture, HTTP_HEADER, HTTP_KEY, nodeServer, recordingLogger, startHttpMcp, until, type HttpMcp } from '../helpers/mcp';

const open: McpConnection[] = [];
function connect(config: McpServerConfig, startTimeoutMs?: number) {
  const logger = recordingLogger();
  const c = new McpConnection(config, { logger, startTimeoutMs });
  open.push(c);
  return { c, logger };
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.stop()));
});

const never = () => new AbortController().signal;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the reference server (stdio)', () => {
  test('lists its tools and answers echo; bad arguments, images and resources become text', async () => {
    const { c } = connect(everything());
    await c.start();
    const s = c.status();
    expect(s).toMatchObject({ state: 'ready', error: null });
    const echo = s.tools.find((t) => t.name === 'echo');
    expect(echo).toMatchObject({ description: 'Echoes back the input string', inputSchema: { type: 'object', required: ['message'] } });

    expect(await c.call('echo', { message: 'hello' }, never())).toEqual({ text: 'Echo: hello', isError: false });
    const bad = await c.call('echo', { message: 42 }, never());
    expect(bad.isError).toBe(true);
    expect(bad.text).toMatch(/message/);
    const missing = await c.call('no-such-tool', {}, never());
    expect(missing.isError).toBe(true);
    expect(missing.text).toMatch(/no-such-tool/);

    const image = await c.call('get-tiny-image', {}, never());
    // the image the server sends, read from its source, in bytes
    const source = fs.readFileSync(path.join(path.dirname(EVERYTHING), 'tools', 'get-tiny-image.js'), 'utf8');
    const bytes = Buffer.from(/MCP_TINY_IMAGE = "([^"]+)"/.exec(source)![1], 'base64').length;
    expect(bytes).toBeGreaterThan(1000);
    expect(image).toEqual({ text: `Here's the image you requested:\n[image: image/png, ${bytes} bytes]\nThe image above is the MCP logo.`, isError: false });
    const links = await c.call('get-resource-links', { count: 2 }, never());
    expect(links.text.split('\n')).toEqual([
      'Here are 2 resource links to resources available in this server:',
      expect.stringMatching(/^demo:\/\/resource\/dynamic\/blob\/1 \(Blob Resource 1\)$/),
      expect.stringMatching(/^demo:\/\/resource\/dynamic\/text\/2 \(Text Resource 2\)$/),
    ]);
  });

  test("the server's environment: the minimal safe one with the configured variables over it", async () => {
    process.env.HEARTH_TEST_PARENT_ONLY = 'must-not-leak';
    try {
      const { c } = connect(fixture('envtest', { env: { HEARTH_TEST_GIVEN: 'given-value', HOME: '/tmp/hearth-home' } }));
      await c.start();
      expect((await c.call('env', { name: 'HEARTH_TEST_GIVEN' }, never())).text).toBe('given-value');
      expect((await c.call('env', { name: 'HOME' }, never())).text).toBe('/tmp/hearth-home');
      expect((await c.call('env', { name: 'PATH' }, never())).text).toBe(process.env.PATH);
      expect((await c.call('env', { name: 'HEARTH_TEST_PARENT_ONLY' }, never())).text).toBe('(unset)');
    } finally {
      delete process.env.HEARTH_TEST_PARENT_ONLY;
    }
  });
});

describe('a server that misbehaves (the fixture)', () => {
  test('its stderr is kept; a tool error is an outcome; stop ends its process', async () => {
    const { c } = connect(fixture());
    const states: string[] = [];
    c.onChange(() => states.push(c.status().state));
    await c.start();
    expect(states).toEqual(['starting', 'ready']);
    expect(await c.call('shout', { text: 'hi' }, never())).toEqual({ text: 'HI', isError: false });
    await until(() => c.status().stderrTail.includes('shouted: hi'));
    expect(await c.call('fail', {}, never())).toEqual({ text: 'it went wrong', isError: true });
    const pid = Number((await c.call('pid', {}, never())).text);
    expect(alive(pid)).toBe(true);
    await c.stop();
    expect(c.status()).toEqual({ state: 'stopped', error: null, stderrTail: expect.any(String), tools: [] });
    await until(() => !alive(pid));
    expect(await c.call('shout', { text: 'x' }, never())).toEqual({ text: 'the MCP server "fixture" is not running', isError: true });
  });

  test('a server that crashes during a call: the call is an outcome quoting its stderr, the server failed, restart brings it back', async () => {
    const { c } = connect(fixture());
    await c.start();
    const out = await c.call('crash', {}, never());
    expect(out.isError).toBe(true);
    expect(out.text).toMatch(/^the server ended: .*fatal: the fixture crashed on purpose/s);
    expect(c.status()).toMatchObject({ state: 'failed', error: 'the server ended', tools: [] });
    expect(c.status().stderrTail).toContain('fatal: the fixture crashed on purpose');
    expect(await c.call('shout', { text: 'x' }, never())).toEqual({ text: 'the MCP server "fixture" is not running (the server ended)', isError: true });
    await c.restart();
    expect(c.status().state).toBe('ready');
    expect(c.status().stderrTail).toBe('');
    expect((await c.call('shout', { text: 'again' }, never())).text).toBe('AGAIN');
  });

  test('a call past its time limit is an outcome, and the server stays ready', async () => {
    const { c } = connect(fixture());
    await c.start();
    const t0 = Date.now();
    expect(await c.call('hang', {}, never(), 1)).toEqual({ text: 'the server did not answer within 1 s', isError: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(c.status().state).toBe('ready');
    expect((await c.call('shout', { text: 'still' }, never())).text).toBe('STILL');
  });

  test('an aborted call rejects; one pending when the server is stopped ends as an outcome', async () => {
    const { c } = connect(fixture());
    await c.start();
    const ac = new AbortController();
    const pending = c.call('hang', {}, ac.signal);
    setTimeout(() => ac.abort(new Error('the user stopped it')), 100);
    await expect(pending).rejects.toThrow('the user stopped it');
    const aborted = new AbortController();
    aborted.abort(new Error('already'));
    await expect(c.call('shout', { text: 'x' }, aborted.signal)).rejects.toThrow('already');

    const cut = c.call('hang', {}, never());
    await new Promise((r) => setTimeout(r, 100));
    await c.stop();
    expect(await cut).toEqual({ text: 'the server was stopped during the call', isError: true });
  });

  test('tools/list_changed: the tools are listed again and listeners told', async () => {
    const { c } = connect(fixture());
    await c.start();
    expect(c.status().tools.map((t) => t.name)).not.toContain('late');
    let changes = 0;
    c.onChange(() => changes++);
    expect((await c.call('add_tool', { name: 'late' }, never())).text).toBe('added late');
    await until(() => c.status().tools.some((t) => t.name === 'late'));
    expect(changes).toBeGreaterThanOrEqual(1);
    expect(await c.call('late', {}, never())).toEqual({ text: 'late ran', isError: false });
  });

  test('a listener that throws is logged, and changes nothing', async () => {
    const { c, logger } = connect(fixture());
    c.onChange(() => {
      throw new Error('listener bug');
    });
    await c.start();
    expect(c.status().state).toBe('ready');
    expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'error', meta: expect.objectContaining({ error: 'listener bug' }) }));
  });
});

describe('servers that do not start', () => {
  test('a command that does not exist fails with its name', async () => {
    const { c } = connect(McpServerConfig.parse({ transport: 'stdio', name: 'nothing', command: 'hearth-no-such-command-xyz' }));
    await c.start();
    expect(c.status()).toMatchObject({ state: 'failed', error: 'could not run "hearth-no-such-command-xyz": no such command (ENOENT)' });
  });

  test('a server that exits before it is ready: failed, with what it wrote to stderr', async () => {
    const { c } = connect(fixture('early', { env: { FIXTURE_EXIT_AT_START: 'config error: API_KEY is missing' } }));
    await c.start();
    expect(c.status()).toMatchObject({ state: 'failed', error: 'the server ended before it was ready' });
    await until(() => c.status().stderrTail.includes('config error: API_KEY is missing'));
  });

  test('a server that never answers: failed after the start time limit, its process ended', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-mcp-'));
    const pidFile = path.join(dir, 'pid');
    const script = `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`;
    const { c } = connect(nodeServer('silent', '-e', [script]), 1000);
    try {
      await c.start();
      expect(c.status()).toMatchObject({ state: 'failed', error: 'the server did not start within 1 s' });
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      await until(() => !alive(pid));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Streamable HTTP', () => {
  let http: HttpMcp;
  beforeAll(async () => {
    http = await startHttpMcp();
  });
  afterAll(() => http.close());

  const config = (headers: Record<string, string>) => McpServerConfig.parse({ transport: 'http', name: 'remote', url: http.url, headers });

  test('with its header: ready, and calls answer', async () => {
    const { c } = connect(config({ [HTTP_HEADER]: HTTP_KEY }));
    await c.start();
    expect(c.status()).toMatchObject({ state: 'ready', tools: [{ name: 'add', description: 'Adds two numbers' }] });
    expect(await c.call('add', { a: 2, b: 3 }, never())).toEqual({ text: '5', isError: false });
  });

  test('with a wrong or missing header: failed, saying what the server answered', async () => {
    for (const headers of [{ [HTTP_HEADER]: 'wrong' }, {}] as Record<string, string>[]) {
      const { c } = connect(config(headers));
      await c.start();
      expect(c.status().state).toBe('failed');
      expect(c.status().error).toBe('the server answered HTTP 401: Error POSTing to endpoint: {"error":"no key"}');
    }
  });
});
