/**
 * A child for template-stack.test.ts (not a test itself), run under a small stack limit (`ulimit -s`,
 * which its engine host inherits: glibc gives a std::thread, the context's worker, that stack; libuv
 * gives its pool 8 MiB whatever the limit): renders the deepest templates template_check.h lets
 * through, each through a chat on the context's worker (and a preview, on the pool), and prints one
 * JSON line per template and one with the host's stack limit.
 */
import fs from 'fs';
import path from 'path';
import { makeEngine } from '../helpers/engine';
import { TINY_SPM } from '../helpers/models';

const header = fs.readFileSync(path.join(__dirname, '../../native/src/template_check.h'), 'utf8');
const bound = (name: string): number => Number(new RegExp(`constexpr int ${name} = (\\d+);`).exec(header)?.[1]);
const DEPTH = bound('MAX_TEMPLATE_BLOCK_DEPTH');
const OPS = bound('MAX_TEMPLATE_TAG_OPERATORS');
const half = OPS / 2;
const expressions: Record<string, string> = {
  parentheses: `{{ ${'('.repeat(half)}1${')'.repeat(half)} }}`,
  lists: `{{ ${'['.repeat(half)}1${']'.repeat(half)} }}`,
  conditionals: `{{ ${'1 if true else '.repeat(half)}1 }}`,
  subscripts: `{{ messages${'[0]'.repeat(half)} }}`,
  nots: `{{ ${'not '.repeat(OPS)}true }}`,
};
const blocks: Record<string, [string, string]> = {
  ifs: ['{% if true %}', '{% endif %}'],
  fors: ['{% for i in [1] %}', '{% endfor %}'],
  sets: ['{% set x %}', '{% endset %}'],
};
const templates: Record<string, string> = {};
for (const [name, e] of Object.entries(expressions)) templates[name] = e;
for (const [name, [open, close]] of Object.entries(blocks)) {
  templates[name] = `${open.repeat(DEPTH)}x${close.repeat(DEPTH)}`;
  // the deepest expression inside the deepest blocks
  templates[`${name}+lists`] = `${open.repeat(DEPTH)}${expressions.lists}${close.repeat(DEPTH)}`;
}

async function main(): Promise<void> {
  const engine = makeEngine({}, undefined, { maxRestarts: 0 });
  const messages = [{ role: 'user' as const, content: 'hi' }];
  try {
    await engine.start();
    const limits = fs.readFileSync(`/proc/${engine.pid}/limits`, 'utf8');
    console.log(JSON.stringify({ hostStackBytes: Number(/^Max stack size\s+(\d+)/m.exec(limits)?.[1]), depth: DEPTH, operators: OPS }));
    for (const [name, tmpl] of Object.entries(templates)) {
      const body = `${tmpl}{% for m in messages %}{{ m.content }}{% endfor %}`;
      const out: Record<string, unknown> = { name };
      try {
        out.preview = (await engine.previewTemplate(TINY_SPM, body, { messages })).prompt.endsWith('hi');
        await engine.load('m', TINY_SPM, { contextSize: 256, threads: 1, chatTemplate: body });
        out.chatPromptTokens = (await engine.chat('m', { messages, maxTokens: 1 })).timings.promptTokens;
        await engine.unload('m');
      } catch (e) {
        out.error = (e as Error).message;
      }
      console.log(JSON.stringify(out));
      if (out.error) break;
    }
  } finally {
    await engine.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
