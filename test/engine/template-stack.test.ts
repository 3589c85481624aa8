/**
 * llama.cpp's Jinja engine recurses once per nesting level, and template_check.h bounds the nesting so a
 * render fits a thread's stack. Linux gives a context's worker (a std::thread) 8 MiB; macOS gives a
 * std::thread 512 KiB and Windows 1 MiB. The deepest templates the check lets through are rendered here
 * through a chat by a real engine host whose worker gets 256 KiB (`ulimit -s 256`, which glibc takes
 * as a std::thread's size): half of macOS's, a quarter of Windows'. (A preview runs on libuv's pool,
 * 8 MiB whatever the limit.) Linux only (/proc, ulimit, glibc).
 */
import { spawnSync } from 'child_process';
import path from 'path';

const STACK_KIB = 256;
const linux = process.platform === 'linux' ? test : test.skip;

linux(`the deepest templates the check lets through render in a ${STACK_KIB} KiB stack (a chat on the context's worker)`, () => {
  const child = path.join(__dirname, 'template-stack-child.ts');
  const runTs = path.join(__dirname, '../../scripts/run-ts.js');
  const r = spawnSync('bash', ['-c', `ulimit -s ${STACK_KIB} && exec "$0" "$1" "$2"`, process.execPath, runTs, child], { encoding: 'utf8', timeout: 240_000 });
  expect(r.status).toBe(0);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  // the limit reached the host, and the bounds are read from the header
  expect(lines[0]).toEqual({ hostStackBytes: STACK_KIB * 1024, depth: 64, operators: 256 });
  const rendered = lines.slice(1);
  expect(rendered.map((l) => l.name)).toEqual(['parentheses', 'lists', 'conditionals', 'subscripts', 'nots', 'ifs', 'ifs+lists', 'fors', 'fors+lists', 'sets', 'sets+lists']);
  for (const l of rendered) {
    expect(l).toEqual({ name: l.name, preview: true, chatPromptTokens: expect.any(Number) });
  }
}, 300_000);
