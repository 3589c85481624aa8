/**
 * McpManager over real stdio servers (server-everything and the fixture): configurations added,
 * changed, disabled and removed; the tools the call loop sees and how calls are routed; a crash and
 * a restart; name collisions.
 */
import { McpManager } from '../../main/tools/mcp/manager';
import type { McpServerConfig } from '../../main/params/tools';
import { everything, fixture, recordingLogger, until } from '../helpers/mcp';

const never = () => new AbortController().signal;
let manager: McpManager;
let logger: ReturnType<typeof recordingLogger>;
beforeEach(() => {
  logger = recordingLogger();
  manager = new McpManager({ logger });
});
afterEach(() => manager.stopAll());

const pidOf = async (server: string) => Number((await manager.call(`${server}__pid`, {}, never())).text);
const states = () => Object.fromEntries(manager.status().map((s) => [s.name, `${s.enabled ? 'on' : 'off'}:${s.state}`]));

test('servers start from their configuration; their tools are named, keyed and routed', async () => {
  let changes = 0;
  manager.onChange(() => changes++);
  const fx = fixture('fx', { timeoutSeconds: 1, resultBudgetTokens: 300 });
  await manager.setConfigs([everything('ev'), fx]);
  expect(states()).toEqual({ ev: 'on:ready', fx: 'on:ready' });
  expect(changes).toBeGreaterThanOrEqual(5); // the configuration, then starting and ready for each
  const status = manager.status().find((s) => s.name === 'fx')!;
  expect(status).toMatchObject({ transport: 'stdio', error: null });
  expect(status.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['shout', 'crash', 'hang']));

  const defs = manager.tools();
  expect(defs.find((d) => d.name === 'fx__shout')).toEqual({
    name: 'fx__shout',
    key: 'mcp:fx:shout',
    description: 'Writes its text to stderr',
    parameters: expect.objectContaining({ type: 'object', properties: { text: { type: 'string' } } }),
    source: 'fx',
    readsWebOnly: false,
    resultBudgetTokens: 300,
  });
  // server-everything's hyphenated names are kept ([A-Za-z0-9_-]); its budget is the default
  expect(defs.find((d) => d.key === 'mcp:ev:get-tiny-image')).toMatchObject({ name: 'ev__get-tiny-image', resultBudgetTokens: 2000 });
  expect(new Set(defs.map((d) => d.name)).size).toBe(defs.length);

  expect(await manager.call('ev__echo', { message: 'routed' }, never())).toEqual({ text: 'Echo: routed', isError: false });
  // the server's own time limit applies
  expect(await manager.call('fx__hang', {}, never())).toEqual({ text: 'the server did not answer within 1 s', isError: true });
  expect(await manager.call('fx__nothing', {}, never())).toEqual({ text: 'there is no tool named "fx__nothing" (its MCP server may have stopped)', isError: true });
});

test('changes: a limit applies at once, a changed environment restarts, disabled stops, removed goes', async () => {
  const fx = fixture('fx');
  await manager.setConfigs([fx]);
  const pid = await pidOf('fx');

  await manager.setConfigs([{ ...fx, timeoutSeconds: 1, resultBudgetTokens: 100 }]);
  expect(await pidOf('fx')).toBe(pid);
  expect(manager.tools().find((d) => d.name === 'fx__hang')?.resultBudgetTokens).toBe(100);
  expect((await manager.call('fx__hang', {}, never())).text).toBe('the server did not answer within 1 s');

  await manager.setConfigs([{ ...fx, env: { FIXTURE_MARK: 'b' } }]);
  const restarted = await pidOf('fx');
  expect(restarted).not.toBe(pid);
  expect((await manager.call('fx__env', { name: 'FIXTURE_MARK' }, never())).text).toBe('b');

  const disabled: McpServerConfig = { ...fx, env: { FIXTURE_MARK: 'b' }, enabled: false };
  await manager.setConfigs([disabled, everything('ev')]);
  expect(states()).toEqual({ fx: 'off:stopped', ev: 'on:ready' });
  expect(manager.tools().some((d) => d.source === 'fx')).toBe(false);
  await manager.restart('fx');
  expect(states().fx).toBe('off:stopped');

  await manager.setConfigs([{ ...disabled, enabled: true }, everything('ev')]);
  expect(states()).toEqual({ fx: 'on:ready', ev: 'on:ready' });

  await manager.setConfigs([everything('ev')]);
  expect(states()).toEqual({ ev: 'on:ready' });
  expect(manager.tools().every((d) => d.source === 'ev')).toBe(true);
  await expect(manager.restart('fx')).rejects.toThrow('no MCP server is named "fx"');
});

test('a crashed server fails, its tools go, and restart brings it back', async () => {
  await manager.setConfigs([fixture('fx')]);
  const out = await manager.call('fx__crash', {}, never());
  expect(out.isError).toBe(true);
  expect(out.text).toContain('fatal: the fixture crashed on purpose');
  expect(manager.status()[0]).toMatchObject({ state: 'failed', error: 'the server ended', stderrTail: expect.stringContaining('fatal: the fixture') });
  expect(manager.tools()).toEqual([]);
  // a configuration saved again leaves a failed server failed
  await manager.setConfigs([fixture('fx')]);
  expect(states().fx).toBe('on:failed');
  await manager.restart('fx');
  expect(states().fx).toBe('on:ready');
  expect((await manager.call('fx__shout', { text: 'back' }, never())).text).toBe('BACK');
});

test('tools whose names come out the same for the model: the later is left out, logged once', async () => {
  await manager.setConfigs([fixture('fx')]);
  await manager.call('fx__add_tool', { name: 'dup.x' }, never());
  await manager.call('fx__add_tool', { name: 'dup_x' }, never());
  await until(() => manager.status()[0].tools.some((t) => t.name === 'dup_x'));
  const dups = manager.tools().filter((d) => d.name === 'fx__dup_x');
  expect(dups).toEqual([expect.objectContaining({ key: 'mcp:fx:dup.x' })]);
  manager.tools();
  expect(logger.lines.filter((l) => l.msg.startsWith('mcp: two tools have one name'))).toEqual([
    expect.objectContaining({ level: 'warn', meta: { name: 'fx__dup_x', kept: 'mcp:fx:dup.x', left: 'mcp:fx:dup_x' } }),
  ]);
  expect(await manager.call('fx__dup_x', {}, never())).toEqual({ text: 'dup.x ran', isError: false });
});

test('stopAll stops every server; an aborted signal rejects', async () => {
  await manager.setConfigs([fixture('fx'), everything('ev')]);
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  await expect(manager.call('ev__echo', { message: 'x' }, ac.signal)).rejects.toThrow('stop');
  await manager.stopAll();
  expect(states()).toEqual({ fx: 'on:stopped', ev: 'on:stopped' });
  expect(manager.tools()).toEqual([]);
});
