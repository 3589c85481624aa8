/**
 * What a server sends, checked and made Hearth's: a call's result as text (./content.ts) and the
 * tools/list pages (./tool-list.ts) — pagination, limits, and tools that fail the check.
 */
import { base64Bytes, outcomeOf } from '../../main/tools/mcp/content';
import { GRAMMAR_LIMITS } from '../../main/params/grammar-limits';
import { listAllTools, MAX_MCP_TOOLS, MAX_TOOL_SCHEMA_CHARS } from '../../main/tools/mcp/tool-list';

describe('outcomeOf', () => {
  test('each kind of part as text', () => {
    const png = Buffer.alloc(70, 1).toString('base64');
    const wav = Buffer.alloc(5).toString('base64');
    const out = outcomeOf({
      content: [
        { type: 'text', text: 'first' },
        { type: 'image', data: png, mimeType: 'image/png' },
        { type: 'audio', data: wav, mimeType: 'audio/wav' },
        { type: 'resource_link', uri: 'file:///a.txt', name: 'a' },
        { type: 'resource', resource: { uri: 'demo://t', text: 'embedded text', mimeType: 'text/plain' } },
        { type: 'resource', resource: { uri: 'demo://b', blob: wav, mimeType: 'application/octet-stream' } },
        { type: 'hologram', data: 'x' },
        { type: 'text' },
      ],
    });
    expect(out).toEqual({
      text: [
        'first',
        '[image: image/png, 70 bytes]',
        '[audio: audio/wav, 5 bytes]',
        'file:///a.txt (a)',
        'demo://t\nembedded text',
        'demo://b [application/octet-stream, 5 bytes]',
        '[hologram content]',
        '[text content]',
      ].join('\n'),
      isError: false,
    });
    expect([0, 1, 2, 3, 4].map((n) => base64Bytes(Buffer.alloc(n).toString('base64')))).toEqual([0, 1, 2, 3, 4]);
  });

  test('structured content when there are no parts; isError; something else entirely', () => {
    expect(outcomeOf({ content: [], structuredContent: { sum: 3 } })).toEqual({ text: '{"sum":3}', isError: false });
    expect(outcomeOf({ content: [{ type: 'text', text: 'no' }], isError: true })).toEqual({ text: 'no', isError: true });
    expect(outcomeOf('nonsense')).toEqual({ text: 'the server answered the call with something that is not a tool result', isError: true });
  });
});

describe('listAllTools', () => {
  const tool = (name: string) => ({ name, description: `about ${name}`, inputSchema: { type: 'object', properties: {} } });

  test('follows the cursor; leaves out tools that fail the check or repeat a name', async () => {
    const pages: Record<string, unknown> = {
      start: { tools: [tool('a'), { name: 'has space', inputSchema: { type: 'object' } }], nextCursor: 'p2' },
      p2: { tools: [tool('b'), tool('a'), { name: 'c', inputSchema: { type: 'string' } }, { description: 'nameless' }], nextCursor: 'p3' },
      p3: { tools: [{ name: 'd', inputSchema: { type: 'object' } }] },
    };
    const asked: (string | undefined)[] = [];
    const list = await listAllTools(async (cursor) => {
      asked.push(cursor);
      return pages[cursor ?? 'start'];
    });
    expect(asked).toEqual([undefined, 'p2', 'p3']);
    expect(list.tools).toEqual([
      { name: 'a', description: 'about a', inputSchema: { type: 'object', properties: {} } },
      { name: 'b', description: 'about b', inputSchema: { type: 'object', properties: {} } },
      { name: 'd', description: '', inputSchema: { type: 'object' } },
    ]);
    expect(list.rejected).toEqual([
      '"has space": a tool name has no spaces or control characters',
      '"a": listed twice',
      expect.stringMatching(/^"c": /),
      expect.stringMatching(/^a tool: /),
    ]);
  });

  test('leaves out a tool whose schema is longer than MAX_TOOL_SCHEMA_CHARS (it would go into every prompt)', async () => {
    const huge = { name: 'huge', inputSchema: { type: 'object', description: 'x'.repeat(MAX_TOOL_SCHEMA_CHARS) } };
    const list = await listAllTools(async () => ({ tools: [tool('a'), huge] }));
    expect(list.tools.map((t) => t.name)).toEqual(['a']);
    expect(list.rejected).toEqual([`"huge": its arguments' schema is longer than ${MAX_TOOL_SCHEMA_CHARS} characters`]);
  });

  test("leaves out a tool whose schema llama.cpp's grammar setup cannot take (the response format's bounds): nested too deep, or a pattern of optional items in a long row", async () => {
    let deep: unknown = {};
    for (let i = 0; i < 50_000; i++) deep = { x: deep };
    const nested = { name: 'nested', inputSchema: { type: 'object', properties: { a: deep } } };
    const pattern = { name: 'pattern', inputSchema: { type: 'object', properties: { s: { type: 'string', pattern: `^${'a?'.repeat(40)}$` } } } };
    const list = await listAllTools(async () => ({ tools: [nested, tool('a'), pattern] }));
    expect(list.tools.map((t) => t.name)).toEqual(['a']);
    expect(list.rejected).toEqual([
      `"nested": its arguments' schema cannot be used: the schema is nested more than ${GRAMMAR_LIMITS.maxSchemaDepth} deep`,
      expect.stringMatching(/^"pattern": its arguments' schema cannot be used: properties\.s\.pattern: .*optional items in a row/),
    ]);
  });

  test('stops at MAX_MCP_TOOLS, at a repeated cursor, and rejects a page that is not a list', async () => {
    let n = 0;
    const many = await listAllTools(async () => ({ tools: Array.from({ length: 100 }, () => tool(`t${n++}`)), nextCursor: `c${n}` }));
    expect(many.tools).toHaveLength(MAX_MCP_TOOLS);
    expect(many.rejected).toEqual([`tools past the first ${MAX_MCP_TOOLS} are left out`]);

    const loop = await listAllTools(async (cursor) => ({ tools: [tool(cursor ?? 'first')], nextCursor: 'same' }));
    expect(loop.tools.map((t) => t.name)).toEqual(['first', 'same']);
    expect(loop.rejected).toEqual(['tools/list repeated a cursor: the rest of the list is left out']);

    await expect(listAllTools(async () => ({ items: [] }))).rejects.toThrow('not a list of tools');
  });
});
