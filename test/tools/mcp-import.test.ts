/**
 * Importing MCP servers from other apps' files (each app's documented shape: Claude Desktop, Jan,
 * Cursor / LM Studio, VS Code) and where those files are on each OS.
 */
import path from 'path';
import { McpServerConfig } from '../../main/params/tools';
import { knownConfigPaths } from '../../main/tools/mcp/import-paths';
import { parseMcpImport, sanitizeServerName, stripJsonComments } from '../../main/tools/mcp/import';

describe('parseMcpImport', () => {
  test("Claude Desktop's claude_desktop_config.json", () => {
    const text = JSON.stringify({
      mcpServers: {
        filesystem: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/Users/me/Desktop'] },
        github: { command: 'docker', args: ['run', '-i', '--rm', 'ghcr.io/github/github-mcp-server'], env: { GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_x' } },
      },
      globalShortcut: 'Ctrl+Space',
    });
    const r = parseMcpImport(text, 'claude_desktop_config.json');
    expect(r).toEqual({
      servers: [
        { transport: 'stdio', name: 'filesystem', enabled: true, command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/Users/me/Desktop'], env: {} },
        { transport: 'stdio', name: 'github', enabled: true, command: 'docker', args: ['run', '-i', '--rm', 'ghcr.io/github/github-mcp-server'], env: { GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_x' } },
      ],
      skipped: [],
      notes: [],
    });
    // what import gives is what settings take
    for (const s of r.servers) expect(McpServerConfig.safeParse(s).success).toBe(true);
  });

  test("Jan's mcp_config.json: active false is disabled, http kept, sse skipped", () => {
    const text = JSON.stringify({
      mcpServers: {
        exa: { command: 'npx', args: ['-y', 'exa-mcp-server'], env: { EXA_API_KEY: 'k' }, active: false },
        fetch: { command: 'uvx', args: ['mcp-server-fetch'], env: {}, active: true },
        remote: { type: 'http', url: 'https://mcp.example.com/mcp', headers: { Authorization: 'Bearer t' }, active: true },
        old: { type: 'sse', url: 'https://sse.example.com/sse', active: true },
      },
      mcpSettings: { toolCallTimeoutSeconds: 30, baseRestartDelayMs: 1000, maxRestartDelayMs: 30000, backoffMultiplier: 2.0 },
    });
    const r = parseMcpImport(text, 'mcp_config.json');
    expect(r.servers).toEqual([
      { transport: 'stdio', name: 'exa', enabled: false, command: 'npx', args: ['-y', 'exa-mcp-server'], env: { EXA_API_KEY: 'k' } },
      { transport: 'stdio', name: 'fetch', enabled: true, command: 'uvx', args: ['mcp-server-fetch'], env: {} },
      { transport: 'http', name: 'remote', enabled: true, url: 'https://mcp.example.com/mcp', headers: { Authorization: 'Bearer t' } },
    ]);
    expect(r.skipped).toEqual([{ name: 'old', reason: expect.stringMatching(/^an SSE server: Hearth speaks stdio and Streamable HTTP/) }]);
  });

  test("Cursor's / LM Studio's mcp.json: url for remote servers; names made valid and unique", () => {
    const text = JSON.stringify({
      mcpServers: {
        'Context 7': { url: 'https://mcp.context7.com/mcp', headers: { CONTEXT7_API_KEY: 'x' } },
        'context-7': { command: 'npx', args: ['-y', '@upstash/context7-mcp'] },
        '@scope/tool!': { command: 'tool' },
        'bad-url': { url: 'ftp://example.com' },
        empty: {},
        notAnObject: 'npx thing',
      },
    });
    const r = parseMcpImport(text, 'mcp.json', ['Scope-Tool']);
    expect(r.servers.map((s) => [s.name, s.transport])).toEqual([
      ['Context-7', 'http'],
      ['context-7-2', 'stdio'],
      ['scope-tool-2', 'stdio'],
    ]);
    expect(r.skipped).toEqual([
      { name: 'bad-url', reason: 'url: only http(s) URLs' },
      { name: 'empty', reason: 'neither a command nor a url' },
      { name: 'notAnObject', reason: expect.stringMatching(/^not a server entry/) },
    ]);
    expect(r.notes).toEqual([
      { name: 'Context-7', note: 'named "Context 7" in "mcp.json"' },
      { name: 'context-7-2', note: 'named "context-7" in "mcp.json"' },
      { name: 'scope-tool-2', note: 'named "@scope/tool!" in "mcp.json"' },
    ]);
  });

  test("VS Code's mcp.json: servers, types, comments; ${input:…} imported disabled with a note", () => {
    const text = `{
      // prompted secrets
      "inputs": [{ "type": "promptString", "id": "perplexity-key", "description": "Perplexity API Key", "password": true }],
      "servers": {
        "Perplexity": {
          "type": "stdio",
          "command": "npx",
          "args": ["-y", "server-perplexity-ask"],
          "env": { "PERPLEXITY_API_KEY": "\${input:perplexity-key}" }, /* a secret */
        },
        "github": { "type": "http", "url": "https://api.githubcopilot.com/mcp/", },
        "legacy": { "type": "sse", "url": "http://localhost:3000/sse" },
        "odd": { "type": "websocket", "url": "ws://x" },
        "url // not a comment": { "command": "x" },
      },
    }`;
    const r = parseMcpImport(text, 'mcp.json');
    expect(r.servers).toEqual([
      { transport: 'stdio', name: 'Perplexity', enabled: false, command: 'npx', args: ['-y', 'server-perplexity-ask'], env: { PERPLEXITY_API_KEY: '${input:perplexity-key}' } },
      { transport: 'http', name: 'github', enabled: true, url: 'https://api.githubcopilot.com/mcp/', headers: {} },
      { transport: 'stdio', name: 'url-not-a-comment', enabled: true, command: 'x', args: [], env: {} },
    ]);
    expect(r.notes[0]).toEqual({
      name: 'Perplexity',
      note: 'its values use ${input:perplexity-key}, which Hearth does not fill in: imported disabled; edit those values, then enable it',
    });
    expect(r.skipped.map((s) => s.name)).toEqual(['legacy', 'odd']);
    expect(r.skipped[1].reason).toBe('an unknown server type "websocket"');
  });

  test('a settings.json with mcp.servers; numbers in args and env become text', () => {
    const r = parseMcpImport(JSON.stringify({ mcp: { servers: { s: { command: 'srv', args: ['--port', 8080], env: { DEBUG: true } } } } }));
    expect(r.servers).toEqual([{ transport: 'stdio', name: 's', enabled: true, command: 'srv', args: ['--port', '8080'], env: { DEBUG: 'true' } }]);
  });

  test('not JSON, or no servers: a clear error', () => {
    expect(() => parseMcpImport('{ "mcpServers": ', 'claude_desktop_config.json')).toThrow(/^"claude_desktop_config.json" is not valid JSON: /);
    expect(() => parseMcpImport('{"theme":"dark"}')).toThrow('the file lists no MCP servers (it has neither "mcpServers" nor "servers")');
    expect(() => parseMcpImport('[1,2]')).toThrow(/lists no MCP servers/);
  });

  test('names: sanitized to the server-name rule', () => {
    expect(sanitizeServerName('  My Server (prod)  ')).toBe('My-Server-prod');
    expect(sanitizeServerName('__x')).toBe('x');
    expect(sanitizeServerName('日本語')).toBe('server');
    expect(sanitizeServerName('a'.repeat(60))).toHaveLength(40);
    expect(stripJsonComments('{"a":"//x",/*c*/"b":[1,2,],}')).toBe('{"a":"//x","b":[1,2]}');
  });
});

describe('knownConfigPaths', () => {
  test('Windows (path.win32), with %APPDATA%', () => {
    const home = 'C:\\Users\\me';
    const paths = knownConfigPaths('win32', { APPDATA: 'D:\\Roaming' }, home, path.win32);
    expect(Object.fromEntries(paths.map((p) => [p.app, p.path]))).toEqual({
      'claude-desktop': 'D:\\Roaming\\Claude\\claude_desktop_config.json',
      cursor: 'C:\\Users\\me\\.cursor\\mcp.json',
      jan: 'D:\\Roaming\\Jan\\data\\mcp_config.json',
      'lm-studio': 'C:\\Users\\me\\.lmstudio\\mcp.json',
      vscode: 'D:\\Roaming\\Code\\User\\mcp.json',
    });
    expect(knownConfigPaths('win32', {}, home, path.win32)[0].path).toBe('C:\\Users\\me\\AppData\\Roaming\\Claude\\claude_desktop_config.json');
  });

  test('macOS and Linux (path.posix)', () => {
    const mac = Object.fromEntries(knownConfigPaths('darwin', {}, '/Users/me', path.posix).map((p) => [p.app, p.path]));
    expect(mac).toEqual({
      'claude-desktop': '/Users/me/Library/Application Support/Claude/claude_desktop_config.json',
      cursor: '/Users/me/.cursor/mcp.json',
      jan: '/Users/me/Library/Application Support/Jan/data/mcp_config.json',
      'lm-studio': '/Users/me/.lmstudio/mcp.json',
      vscode: '/Users/me/Library/Application Support/Code/User/mcp.json',
    });
    const linux = Object.fromEntries(knownConfigPaths('linux', { XDG_CONFIG_HOME: '/cfg' }, '/home/me', path.posix).map((p) => [p.app, p.path]));
    expect(linux).toEqual({
      'claude-desktop': '/cfg/Claude/claude_desktop_config.json',
      cursor: '/home/me/.cursor/mcp.json',
      jan: '/home/me/.local/share/Jan/data/mcp_config.json',
      'lm-studio': '/home/me/.lmstudio/mcp.json',
      vscode: '/cfg/Code/User/mcp.json',
    });
  });
});
