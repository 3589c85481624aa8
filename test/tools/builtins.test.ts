/**
 * The built-ins as a tool source: what tools() lists under which settings, the definitions the model
 * sees, current_time with an injected clock and zone, and calls that are wrong (bad arguments, an
 * unknown or turned-off tool), which are error outcomes and never throw.
 */
import { createBuiltinTools, searchKeyName } from '../../main/tools/builtins';
import { BUILTIN_TOOLS, builtinKey, DEFAULT_RESULT_BUDGET_TOKENS, ToolSettings, type ToolSettings as Settings } from '../../main/params/tools';

const signal = () => new AbortController().signal;

function source(settings: Partial<Settings> = {}, keys: Record<string, string> = {}, over: { now?: Date; zone?: string } = {}) {
  const parsed = ToolSettings.parse(settings);
  return createBuiltinTools({
    settings: () => parsed,
    secret: (name) => keys[name] ?? null,
    now: () => over.now ?? new Date('2025-03-04T13:05:09Z'),
    timeZone: () => over.zone ?? 'Europe/Paris',
    fetch: () => Promise.reject(new Error('no network in this test')),
  });
}

const names = (s: ReturnType<typeof source>) => s.tools().map((t) => t.name);

describe('tools()', () => {
  test('web_search is listed only when its provider is usable: SearXNG with a URL, the others with a key', () => {
    expect(names(source())).toEqual(['fetch_url', 'current_time']);
    expect(names(source({ searxngUrl: 'http://localhost:8888' }))).toEqual(['web_search', 'fetch_url', 'current_time']);
    expect(names(source({ searchProvider: 'brave', searxngUrl: 'http://localhost:8888' }))).toEqual(['fetch_url', 'current_time']);
    expect(names(source({ searchProvider: 'brave' }, { [searchKeyName('brave')]: '  ' }))).toEqual(['fetch_url', 'current_time']);
    for (const provider of ['brave', 'serper', 'tavily'] as const) {
      expect(names(source({ searchProvider: provider }, { [searchKeyName(provider)]: 'k' }))).toEqual(['web_search', 'fetch_url', 'current_time']);
    }
    expect(searchKeyName('serper')).toBe('search.serper');
  });

  test('a built-in the user turned off is not listed, and a call to it is an error outcome', async () => {
    const s = source({ searxngUrl: 'http://localhost:8888', disabledBuiltins: ['fetch_url', 'web_search'] });
    expect(names(s)).toEqual(['current_time']);
    expect(await s.call('fetch_url', { url: 'https://example.com/' }, signal())).toEqual({ isError: true, text: 'fetch_url is turned off in the tool settings' });
  });

  test('each definition: key, source, web-only flag, budget, a description and an object schema of its arguments', () => {
    const defs = source({ searxngUrl: 'http://localhost:8888' }).tools();
    expect(defs.map((d) => d.name)).toEqual([...BUILTIN_TOOLS]);
    for (const d of defs) {
      expect(d.key).toBe(builtinKey(d.name as (typeof BUILTIN_TOOLS)[number]));
      expect(d.source).toBe('builtin');
      expect(d.resultBudgetTokens).toBe(DEFAULT_RESULT_BUDGET_TOKENS);
      expect(d.description.length).toBeGreaterThan(40);
      expect(d.parameters.type).toBe('object');
      expect(d.parameters).not.toHaveProperty('$schema');
    }
    const byName = Object.fromEntries(defs.map((d) => [d.name, d]));
    expect([byName.web_search.readsWebOnly, byName.fetch_url.readsWebOnly, byName.current_time.readsWebOnly]).toEqual([true, true, false]);
    expect(byName.web_search.parameters).toMatchObject({
      required: ['query'],
      properties: { query: { type: 'string', minLength: 1 }, count: { type: 'integer', minimum: 1, maximum: 10 } },
    });
    expect(byName.fetch_url.parameters).toMatchObject({ required: ['url'], properties: { url: { type: 'string' } } });
    expect(byName.current_time.parameters).toMatchObject({ properties: { timezone: { type: 'string' } } });
    expect(byName.current_time.parameters).not.toHaveProperty('required');
    for (const d of defs) for (const p of Object.values(d.parameters.properties as Record<string, { description?: string }>)) expect(p.description).toBeTruthy();
  });
});

describe('current_time', () => {
  test('in the user\'s zone: weekday, ISO-like date and time, zone name and offset', async () => {
    expect(await source().call('current_time', {}, signal())).toEqual({ isError: false, text: 'The current date and time is Tuesday, 2025-03-04 14:05:09 (Europe/Paris, UTC+01:00).' });
    const summer = source({}, {}, { now: new Date('2025-07-01T00:30:00Z'), zone: 'America/Los_Angeles' });
    expect((await summer.call('current_time', {}, signal())).text).toBe('The current date and time is Monday, 2025-06-30 17:30:00 (America/Los_Angeles, UTC-07:00).');
  });

  test('in a zone the model names; UTC has a zero offset; midnight is 00, not 24', async () => {
    const s = source({}, {}, { now: new Date('2025-03-04T23:00:00Z') });
    expect((await s.call('current_time', { timezone: 'Asia/Kolkata' }, signal())).text).toBe('The current date and time is Wednesday, 2025-03-05 04:30:00 (Asia/Kolkata, UTC+05:30).');
    expect((await s.call('current_time', { timezone: 'UTC' }, signal())).text).toBe('The current date and time is Tuesday, 2025-03-04 23:00:00 (UTC, UTC+00:00).');
    expect((await s.call('current_time', { timezone: 'Europe/London' }, signal())).text).toBe('The current date and time is Tuesday, 2025-03-04 23:00:00 (Europe/London, UTC+00:00).');
    expect((await s.call('current_time', {}, signal())).text).toBe('The current date and time is Wednesday, 2025-03-05 00:00:00 (Europe/Paris, UTC+01:00).');
  });

  test('an unknown zone is an error outcome', async () => {
    expect(await source().call('current_time', { timezone: 'Mars/Olympus_Mons' }, signal())).toEqual({
      isError: true,
      text: '"Mars/Olympus_Mons" is not a known IANA time zone (for example "Europe/Paris", "America/New_York", "UTC")',
    });
  });
});

describe('wrong calls are error outcomes, never throws', () => {
  test.each([
    ['current_time', { timezone: 5 }, /^invalid arguments for current_time: timezone: /],
    ['fetch_url', {}, /^invalid arguments for fetch_url: url: /],
    ['fetch_url', { url: 42 }, /^invalid arguments for fetch_url: url: /],
    ['web_search', { query: '' }, /^invalid arguments for web_search: query: /],
    ['web_search', { query: 'x', count: 99 }, /^invalid arguments for web_search: count: /],
    ['web_search', { query: 'x', count: 'many' }, /^invalid arguments for web_search: count: /],
    ['rm_rf', {}, /^there is no built-in tool named "rm_rf"$/],
  ])('%s %j', async (name, args, message) => {
    const out = await source({ searxngUrl: 'http://localhost:8888' }).call(name, args as Record<string, unknown>, signal());
    expect(out.isError).toBe(true);
    expect(out.text).toMatch(message);
  });

  test('an unexpected failure (here: the network) is an error outcome naming the tool', async () => {
    expect(await source().call('fetch_url', { url: 'http://203.0.113.9/' }, signal())).toEqual({ isError: true, text: 'fetch_url failed: no network in this test' });
  });

  test('a call with an aborted signal rejects, whatever the tool', async () => {
    const ac = new AbortController();
    ac.abort(new Error('gone'));
    await expect(source().call('current_time', {}, ac.signal)).rejects.toThrow('gone');
    await expect(source().call('nope', {}, ac.signal)).rejects.toThrow('gone');
  });
});
