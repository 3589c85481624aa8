/**
 * The parameter families are defined once in TypeScript (main/params) and parsed by the addon from
 * its own tables (native/src/params.cpp). This holds the two together: the same keys, the same
 * defaults, and on probes derived from each field's schema (its bounds and one past them, every
 * choice, lists at and past their limits, wrong types) the addon accepts exactly what the schema
 * accepts and reads back what it was given. A field the addon ignores, reads into the wrong place or
 * bounds differently fails here, and so does an unknown key it would accept. Real addon, in a child
 * process.
 */
import { z } from 'zod';
import {
  CONTEXT_FIELDS,
  CONTEXT_RULES,
  defaultedShape,
  Field,
  Fields,
  LOAD_FIELDS,
  LOAD_RULES,
  LOGIT_BIAS_MAX,
  MAX_ADAPTER_PATH,
  REQUEST_FIELDS,
  RequestOptions,
  Sampling,
  SAMPLING_FIELDS,
  withRules,
} from '../../main/params';
import { inAddon } from '../helpers/addon';

type Family = 'sampling' | 'load' | 'context' | 'request';

const FAMILIES: Record<Family, { fields: Fields; schema: z.ZodTypeAny; rules?: typeof CONTEXT_RULES }> = {
  sampling: { fields: SAMPLING_FIELDS, schema: Sampling },
  // the load rules read gpuLayers (absent: "auto") with nCpuMoe and tensorOverrides
  load: { fields: LOAD_FIELDS, schema: withRules(z.object(defaultedShape(LOAD_FIELDS)).strict(), LOAD_RULES) },
  context: { fields: CONTEXT_FIELDS, schema: withRules(z.object(defaultedShape(CONTEXT_FIELDS)).strict(), CONTEXT_RULES), rules: CONTEXT_RULES },
  request: { fields: REQUEST_FIELDS, schema: RequestOptions },
};

/** Values to try for a field: from its schema's bounds and its metadata (kind, choices, list limits). */
function probes(f: Field): unknown[] {
  const m = f.meta;
  switch (m.kind) {
    case 'number':
    case 'integer': {
      const n = f.schema as z.ZodNumber;
      const lo = n.minValue!;
      const hi = n.maxValue!;
      const mid = n.isInt ? Math.round((lo + hi) / 2) : (lo + hi) / 2;
      // 1e-300: a positive double that is 0 as a float (a minimum of 0 exclusive would let it through)
      return [lo, hi, lo - 1, hi + 1, mid, n.isInt ? lo + 0.5 : lo + (hi - lo) / 3, 1e-300, 'x', true];
    }
    case 'boolean':
      return [true, false, 'yes', 1];
    case 'choice':
      return [...m.options!.map((o) => o.value), 'nope', 3, '0'];
    case 'strings':
      return [[], ['a'], Array(m.maxItems!).fill('ab'), Array(m.maxItems! + 1).fill('ab'), ['x'.repeat(m.maxLength!)], ['é'.repeat(m.maxLength! + 1)], [''], [1], 'a'];
    case 'numbers':
      return [[], [1, 2.5], Array(m.maxItems!).fill(1), Array(m.maxItems! + 1).fill(1), [-1], ['1'], 1];
    case 'gpuLayers':
      return [0, 7, m.max!, m.max! + 1, -1, 1.5, 'max', 'auto', 'all'];
    case 'path':
      return ['/models/a.gguf', 'x'.repeat(m.maxLength!), 'é'.repeat(m.maxLength! + 1), '', 1, true];
    case 'adapters': {
      const e = (scale: unknown, p: unknown = 'a.gguf') => ({ path: p, scale });
      const distinct = (n: number) => Array.from({ length: n }, (_, i) => e(1, `a${i}.gguf`));
      // a file listed twice (each file once: a request names an adapter by path, the API server by index)
      return [[], [e(1)], [e(m.min!), e(m.max!, 'b.gguf')], [e(0.25)], distinct(m.maxItems!), distinct(m.maxItems! + 1), [e(1), e(0.5, 'b.gguf'), e(0)],
        [e(m.max! + 0.5)], [e(m.min! - 1)], [e(1, '')], [e(1, 'x'.repeat(MAX_ADAPTER_PATH))], [e(1, 'x'.repeat(MAX_ADAPTER_PATH + 1))],
        [{ path: 'a.gguf' }], [{ ...e(1), bogus: 1 }], [e('1')], ['a.gguf'], 'a.gguf', 1];
    }
    case 'text':
      return ['{{ messages }}', 'x'.repeat(m.maxLength!), 'x'.repeat(m.maxLength! + 1), '', 1, ['a']];
    case 'json':
      return [[], {}, 'x', 1, [{ token: 1, bias: -2.5 }], [{ token: -1, bias: 0 }], [{ token: 1 }], { type: 'string' },
        // a logit bias at and past its bounds (LOGIT_BIAS_MAX)
        [{ token: 1, bias: LOGIT_BIAS_MAX }], [{ token: 1, bias: -LOGIT_BIAS_MAX }], [{ token: 1, bias: LOGIT_BIAS_MAX + 0.5 }], [{ token: 1, bias: -1e300 }]];
  }
}

const numeric = (fields: Fields, k: string) => ['number', 'integer'].includes(fields[k]?.meta.kind);
const choices = (fields: Fields, k: string) => fields[k]?.meta.options?.map((o) => o.value);

/** Every combination of the choices a rule reads (a quantized V cache with flash attention off, …). */
function combinations(fields: Fields, keys: readonly string[]): Record<string, unknown>[] {
  return keys.reduce<Record<string, unknown>[]>((acc, k) => acc.flatMap((o) => choices(fields, k)!.map((v) => ({ ...o, [k]: v }))), [{}]);
}

/**
 * One field at a time; where a rule reads it together with other numbers, also those set alike (a
 * micro-batch at its maximum needs a batch as large); where a rule reads choices, every combination.
 */
function probeObjects(family: Family): { key: string; params: Record<string, unknown> }[] {
  const { fields, rules = [] } = FAMILIES[family];
  const out: { key: string; params: Record<string, unknown> }[] = [];
  for (const r of rules) {
    if (r.reads.every((k) => choices(fields, k))) for (const params of combinations(fields, r.reads)) out.push({ key: r.path, params });
  }
  for (const [key, f] of Object.entries(fields)) {
    for (const v of probes(f)) {
      out.push({ key, params: { [key]: v } });
      for (const r of rules) {
        if (typeof v === 'number' && r.reads.includes(key as never) && r.reads.every((k) => numeric(fields, k))) {
          out.push({ key, params: Object.fromEntries(r.reads.map((k) => [k, v])) });
        }
      }
    }
  }
  return out;
}

/** Empty lists and strings mean "none" on both sides. */
const norm = (v: unknown): unknown => (v === undefined || v === '' || (Array.isArray(v) && v.length === 0) ? null : v);

function same(a: unknown, b: unknown): boolean {
  a = norm(a);
  b = norm(b);
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return same(ka, kb) && ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

type Echo = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

let described: Record<Family, Record<string, unknown>>;
let ngramKinds: Record<string, Record<string, number>>;
const echoes = new Map<Family, Echo[]>();

beforeAll(async () => {
  const probesByFamily = Object.fromEntries((Object.keys(FAMILIES) as Family[]).map((f) => [f, [...probeObjects(f).map((p) => p.params), { bogus: 1 }]]));
  const r = await inAddon<{ described: typeof described; echoes: Record<Family, Echo[]>; ngramKinds: typeof ngramKinds }>(
    `const echoes = {};
     for (const [family, list] of Object.entries(input)) {
       echoes[family] = list.map((p) => { try { return { ok: true, value: addon.echoParams(family, p) }; } catch (e) { return { ok: false, error: e.code + ': ' + e.message }; } });
     }
     return { described: addon.describeParams(), echoes, ngramKinds: addon.ngramKindDefaults() };`,
    probesByFamily,
  );
  described = r.described;
  ngramKinds = r.ngramKinds;
  for (const f of Object.keys(FAMILIES) as Family[]) echoes.set(f, r.echoes[f]);
});

test("one setting stands for each n-gram kind's like limit: llama.cpp's default is the same for every kind it stands for", () => {
  const d = LOAD_FIELDS;
  const maps = { sizeN: d.ngramSizeN.default, sizeM: d.ngramSizeM.default, minHits: d.ngramMinHits.default };
  expect(ngramKinds).toEqual({
    'ngram-simple': maps,
    'ngram-map-k': maps,
    'ngram-map-k4v': maps,
    'ngram-mod': { match: d.ngramModMatch.default, max: d.ngramModMax.default, min: d.ngramModMin.default },
  });
});

describe.each(Object.keys(FAMILIES) as Family[])('the %s family', (family) => {
  const { fields, schema } = FAMILIES[family];

  test('the addon parses exactly the keys main/params declares', () => {
    expect(Object.keys(described[family]).sort()).toEqual(Object.keys(fields).sort());
  });

  test('the addon\'s defaults are the declared ones (none declared: decided at run time, null)', () => {
    const wrong = Object.entries(fields).filter(([k, f]) => !same(described[family][k], f.default ?? null));
    expect(wrong.map(([k, f]) => `${k}: TS ${JSON.stringify(f.default)}, C++ ${JSON.stringify(described[family][k])}`)).toEqual([]);
  });

  test('on every probe the addon accepts what the schema accepts and reads back what it was given', () => {
    const list = probeObjects(family);
    const results = echoes.get(family)!;
    const problems: string[] = [];
    let accepted = 0;
    list.forEach(({ key, params }, i) => {
      const ts = schema.safeParse(params).success;
      const cpp = results[i];
      if (cpp.ok !== ts) {
        problems.push(`${key} ${JSON.stringify(params)}: TS ${ts ? 'accepts' : 'refuses'}, C++ ${cpp.ok ? 'accepts' : `refuses (${cpp.error})`}`);
        return;
      }
      if (!cpp.ok) return;
      accepted++;
      for (const [k, v] of Object.entries(params)) {
        if (!same(cpp.value[k], v)) problems.push(`${k}: gave ${JSON.stringify(v)}, C++ read ${JSON.stringify(cpp.value[k])}`);
      }
    });
    expect(problems).toEqual([]);
    // every field was read back at least once (a probe set that accepts nothing proves nothing)
    const readBack = new Set(list.filter((_, i) => results[i].ok).map((p) => p.key));
    expect([...readBack].sort()).toEqual(Object.keys(fields).sort());
    expect(accepted).toBeGreaterThan(Object.keys(fields).length);
  });

  test('an unknown key is refused', () => {
    const last = echoes.get(family)!.at(-1)!;
    expect(last.ok).toBe(false);
    expect(!last.ok && last.error).toMatch(/invalid_argument: .*unknown parameter bogus/);
  });
});
