/**
 * Grammars and JSON schemas llama.cpp's grammar setup cannot take (exponential on long runs of
 * optional items, a stack overflow on deep nesting) are refused with a 400 before the engine sees
 * them, through every route that takes one; real grammars and schemas pass. The engine host is the
 * same process before and after (nothing took it down).
 */
import fs from 'fs';
import path from 'path';
import { GRAMMAR_LIMITS, grammarProblem, schemaProblem } from '../../main/params/grammar-limits';
import { apiApp, type ApiApp } from '../helpers/api-server';
import { REPO_ROOT } from '../helpers/models';

const GRAMMARS = path.join(REPO_ROOT, 'node_modules', 'node-llama-cpp', 'llama', 'grammars');
const run = (n: number) => `root ::= ${'"a"? '.repeat(n)}`;
const pattern = (n: number) => ({ type: 'string', pattern: `^${'a?'.repeat(n)}$` });
const nested = (n: number) => `root ::= ${'('.repeat(n)}"a"${')'.repeat(n)}`;

test("llama.cpp's own grammars and ordinary schemas pass; long optional runs and deep nesting do not", () => {
  const files = fs.readdirSync(GRAMMARS).filter((f) => f.endsWith('.gbnf'));
  expect(files.length).toBeGreaterThan(3);
  for (const f of files) expect([f, grammarProblem(fs.readFileSync(path.join(GRAMMARS, f), 'utf8'))]).toEqual([f, null]);
  expect(grammarProblem(run(GRAMMAR_LIMITS.maxOptionalRun))).toBeNull();
  expect(grammarProblem(run(GRAMMAR_LIMITS.maxOptionalRun + 1))).toMatch(/optional items in a row/);
  expect(grammarProblem(`root ::= ${'[a-z]* '.repeat(40)}`)).toMatch(/optional/);
  expect(grammarProblem(`root ::= ${'x{0,3} '.repeat(40)}\nx ::= "x"`)).toMatch(/optional/);
  // a non-optional item between breaks the run; so does an alternative
  expect(grammarProblem(`root ::= ${'"a"? "b" '.repeat(40)}`)).toBeNull();
  expect(grammarProblem(`root ::= ${'"a"? | '.repeat(40)}"b"`)).toBeNull();
  // quoted text and classes are not syntax
  expect(grammarProblem(`root ::= "${'?'.repeat(100)}" [${'('.repeat(100)}]`)).toBeNull();
  expect(grammarProblem(nested(GRAMMAR_LIMITS.maxDepth))).toBeNull();
  expect(grammarProblem(nested(20_000))).toMatch(/nested/);

  expect(schemaProblem({ type: 'object', properties: { date: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' }, phone: { type: 'string', pattern: '^\\+?[0-9 ()-]{7,20}$' } } })).toBeNull();
  expect(schemaProblem({ type: 'object', properties: { a: pattern(300) } })).toMatch(/properties\.a\.pattern: more than/);
  expect(schemaProblem({ type: 'string', pattern: `^${'(a)'.repeat(10)}${'(?:b)?'.repeat(40)}$` })).toMatch(/optional/);
  let deep: unknown = { type: 'string' };
  for (let i = 0; i < 100_000; i++) deep = { items: deep };
  expect(schemaProblem(deep)).toMatch(/nested/);
});

describe('through the API server', () => {
  let api: ApiApp;
  beforeAll(async () => {
    api = await apiApp();
  }, 60_000);
  afterAll(() => api?.close());

  const post = async (route: string, body: unknown) => {
    const res = await fetch(api.url + route, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
    return { status: res.status, text: await res.text() };
  };

  test('the attacks are refused with 400 at once and the engine host stays the same process', async () => {
    const m = api.modelName;
    // loads the model, and shows the host's pid
    expect((await post('/v1/completions', { model: m, prompt: 'hi', max_tokens: 1 })).status).toBe(200);
    const pid = api.engine.pid;
    const attacks: [string, unknown][] = [
      ['/v1/completions', { model: m, prompt: 'hi', max_tokens: 2, grammar: run(300) }],
      ['/v1/completions', { model: m, prompt: 'hi', max_tokens: 2, grammar: nested(20_000) }],
      ['/v1/completions', { model: m, prompt: 'hi', max_tokens: 2, json_schema: pattern(300) }],
      ['/v1/chat/completions', { model: m, messages: [{ role: 'user', content: 'hi' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: pattern(300) } } }],
      ['/api/generate', { model: m, raw: true, prompt: 'hi', stream: false, format: pattern(300) }],
      ['/api/chat', { model: m, messages: [{ role: 'user', content: 'hi' }], stream: false, format: pattern(300) }],
    ];
    for (const [route, body] of attacks) {
      const r = await post(route, body);
      expect([route, r.status]).toEqual([route, 400]);
      expect(r.text).toMatch(/optional items in a row|nested/);
    }
    expect(api.engine.pid).toBe(pid);
    expect((await post('/v1/completions', { model: m, prompt: 'hi', max_tokens: 5, grammar: 'root ::= "ok"' })).text).toContain('"text":"ok"');
  }, 120_000);
});
