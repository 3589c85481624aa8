/**
 * A request the channel to the engine host cannot carry: Node's IPC serializer (the host's own, forked
 * with `serialization: 'advanced'`) throws on params nested past its stack, synchronously in send. The
 * request is refused as `invalid_argument` and not left pending (before, its entry and params stayed in
 * the channel for good: memory that grew with every such request, and a channel that never drained).
 * The host here is a real child process that only idles: what is tested is the channel's send.
 */
import fs from 'fs';
import path from 'path';
import { HostChannel, nodeSpawner } from '../../main/engine/channel';
import { EngineError } from '../../main/engine/protocol';
import { silentLogger } from '../../main/logging/logger';
import { tempDir } from '../helpers/engine';

test('params nested past the IPC serializer are refused (invalid_argument) and leave nothing pending', async () => {
  const dir = tempDir('hearth-channel-');
  const script = path.join(dir, 'idle-host.js');
  fs.writeFileSync(script, "process.on('message', () => undefined);\n");
  const proc = nodeSpawner(script, process.env);
  const ch = new HostChannel(proc, silentLogger, () => undefined);
  try {
    let deep: unknown = [];
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const tools = [{ type: 'function', function: { name: 'f', parameters: { deep } } }];
    const refused = await ch.request('applyTemplate', { modelId: 'm', request: { messages: [{ role: 'user', content: 'hi' }], tools } } as never).catch((e) => e);
    expect(refused).toBeInstanceOf(EngineError);
    expect(refused).toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/could not be sent to the engine/) });
    // nothing pending: a close waiting for the pending requests' answers happens at once
    let drained = false;
    ch.closeWhenAnswered(new EngineError('engine_closed', 'test'), () => (drained = true));
    expect(drained).toBe(true);
  } finally {
    proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
