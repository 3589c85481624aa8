import { HIGHLIGHT_CLOSE, HIGHLIGHT_OPEN, splitHighlights, toFtsQuery } from '../../main/store';
import { cleanupDirs, closeStores, expectCode, openStore } from './helpers';

afterEach(() => { closeStores(); cleanupDirs(); });

const mark = (s: string) => s.split(HIGHLIGHT_OPEN).join('[').split(HIGHLIGHT_CLOSE).join(']');

function seed() {
  const s = openStore();
  const bread = s.threads.create({ title: 'Sourdough bread baking' });
  const cars = s.threads.create({ title: 'Electric cars' });
  const m = {
    starter: s.messages.add({ threadId: bread.id, role: 'user', content: 'How often should I feed my sourdough starter?' }),
    feed: s.messages.add({ threadId: bread.id, role: 'assistant', content: 'Feed the starter once a day; a starter kept in the fridge needs feeding once a week.' }),
    crumb: s.messages.add({ threadId: bread.id, role: 'user', content: 'Why is my crumb so dense? The café down the street has an open crumb.' }),
    battery: s.messages.add({ threadId: cars.id, role: 'user', content: 'How long does an electric car battery last?' }),
    range: s.messages.add({ threadId: cars.id, role: 'assistant', content: 'Most batteries keep 80% of their range after 200,000 km. Cold weather lowers range; the starter motor is gone.' }),
  };
  return { s, bread, cars, m };
}

describe('full-text search', () => {
  test('finds words in message content, with highlighted snippets and context', () => {
    const { s, m, bread } = seed();
    const r = s.search({ query: 'crumb' });
    expect(r.hits).toHaveLength(1);
    expect(r.hits[0]).toMatchObject({ kind: 'message', messageId: m.crumb.id, threadId: bread.id, threadTitle: 'Sourdough bread baking', role: 'user' });
    expect(mark(r.hits[0].snippet)).toContain('[crumb]');
    expect(splitHighlights(r.hits[0].snippet).filter((p) => p.match).map((p) => p.text)).toEqual(['crumb', 'crumb']);
  });

  test('finds words in thread titles', () => {
    const { s, cars } = seed();
    const r = s.search({ query: 'electric' });
    const title = r.hits.find((h) => h.kind === 'thread')!;
    expect(title).toMatchObject({ threadId: cars.id, messageId: null });
    expect(mark(title.snippet)).toBe('[Electric] cars');
    expect(r.hits.filter((h) => h.kind === 'message')).toHaveLength(1);
    expect(s.search({ query: 'electric', titles: false }).hits.every((h) => h.kind === 'message')).toBe(true);
  });

  test('ranks by relevance: more (and denser) occurrences first', () => {
    const { s, m } = seed();
    const r = s.search({ query: 'starter' });
    expect(r.ranking).toBe('relevance');
    expect(r.hits.map((h) => h.messageId)).toEqual([m.feed.id, m.starter.id, m.range.id]);
    expect(r.hits[0].score).toBeLessThanOrEqual(r.hits[1].score);
  });

  test('all words must match; case and accents do not matter; "phrases" match in order', () => {
    const { s, m } = seed();
    expect(s.search({ query: 'STARTER fridge' }).hits.map((h) => h.messageId)).toEqual([m.feed.id]);
    expect(s.search({ query: 'cafe' }).hits.map((h) => h.messageId)).toEqual([m.crumb.id]);
    expect(s.search({ query: '"open crumb"' }).hits.map((h) => h.messageId)).toEqual([m.crumb.id]);
    expect(s.search({ query: '"crumb open"' }).hits).toHaveLength(0);
    expect(s.search({ query: 'batter' }).hits).toHaveLength(0); // whole words
  });

  test('filter by thread', () => {
    const { s, m, cars, bread } = seed();
    expect(s.search({ query: 'starter', threadId: cars.id }).hits.map((h) => h.messageId)).toEqual([m.range.id]);
    expect(s.search({ query: 'starter', threadId: bread.id }).hits.map((h) => h.messageId)).toEqual([m.feed.id, m.starter.id]);
    expect(s.search({ query: 'sourdough', threadId: cars.id }).hits).toHaveLength(0);
    const withTitle = s.search({ query: 'sourdough', threadId: bread.id }).hits;
    expect(withTitle.map((h) => h.kind).sort()).toEqual(['message', 'thread']);
  });

  test('paged', () => {
    const s = openStore();
    const t = s.threads.create({ title: 'many' });
    const ids = Array.from({ length: 25 }, (_, i) => s.messages.add({ threadId: t.id, role: 'user', content: `walrus number ${i}` }).id);
    const p1 = s.search({ query: 'walrus', limit: 10 });
    const p2 = s.search({ query: 'walrus', limit: 10, offset: 10 });
    const p3 = s.search({ query: 'walrus', limit: 10, offset: 20 });
    expect([p1.hasMore, p2.hasMore, p3.hasMore]).toEqual([true, true, false]);
    const all = [...p1.hits, ...p2.hits, ...p3.hits].map((h) => h.messageId);
    expect(all).toHaveLength(25);
    expect(new Set(all)).toEqual(new Set(ids));
  });

  test('stays in sync after edits, alternatives, renames and deletes', () => {
    const { s, m, bread, cars } = seed();
    s.messages.update(m.crumb.id, { content: 'Why is my loaf so flat?' });
    expect(s.search({ query: 'crumb' }).hits).toHaveLength(0);
    expect(s.search({ query: 'loaf' }).hits.map((h) => h.messageId)).toEqual([m.crumb.id]);

    const alt = s.messages.edit(m.crumb.id, 'Why is my baguette pale?');
    expect(s.search({ query: 'baguette' }).hits.map((h) => h.messageId)).toEqual([alt.id]);
    expect(s.search({ query: 'loaf' }).hits).toHaveLength(1); // the replaced text is an alternative, still there

    s.threads.rename(bread.id, 'Pastry school');
    expect(s.search({ query: 'sourdough' }).hits.filter((h) => h.kind === 'thread')).toHaveLength(0);
    expect(s.search({ query: 'pastry' }).hits.map((h) => h.kind)).toEqual(['thread']);

    s.messages.delete(m.battery.id); // and the reply below it
    expect(s.search({ query: 'battery' }).hits).toHaveLength(0);
    expect(s.search({ query: 'range' }).hits).toHaveLength(0);
    s.threads.delete(cars.id);
    expect(s.search({ query: 'electric' }).hits).toHaveLength(0);
    s.db.prepare(`INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)`).run();
    s.db.prepare(`INSERT INTO threads_fts(threads_fts, rank) VALUES ('integrity-check', 1)`).run();
  });

  test('FTS syntax in user input never throws', () => {
    const { s } = seed();
    const nasty = ['"', '""', '"unbalanced', 'AND', 'OR', 'NOT', 'a AND', '(', ')', '*', 'star*', '^start', 'col:value',
      'NEAR(a b)', '{content}: x', '-minus', '+plus', "it's", '\\', '\u0000', '   ', '', '🙂', '%_', "'; DROP TABLE messages; --",
      'starter OR battery', 'starter NOT fridge', 'a'.repeat(1000)];
    for (const q of nasty) {
      expect(() => s.search({ query: q })).not.toThrow();
    }
    // operators are plain words: "starter OR battery" needs all three words
    expect(s.search({ query: 'starter OR battery' }).hits).toHaveLength(0);
    expect(s.search({ query: "it's" }).hits.length).toBeGreaterThanOrEqual(0);
    expectCode(() => s.search({ query: 'x'.repeat(1001) }), 'too_large');
    expectCode(() => s.search({ query: 'x', limit: 0 }), 'invalid_input');
    expectCode(() => s.search({ query: 'x', threadId: 'not an id' }), 'invalid_input');
  });

  test('a NUL or other control character inside a word is a separator, not the end of the FTS query', () => {
    const { s, m } = seed();
    // found by the IPC fuzz: SQLite read the query only up to the NUL ("unterminated string")
    for (const q of ['a\u0000b', 'crumb\u0000', '"open\u0000crumb"', 'x\u0000"', '\u0007crumb\u001f']) {
      expect(() => s.search({ query: q })).not.toThrow();
    }
    expect(s.search({ query: 'dense\u0000crumb' }).hits.map((h) => h.messageId)).toEqual([m.crumb.id]);
    expect(toFtsQuery('open\u0000crumb')).toBe('"open" AND "crumb"');
  });

  test('toFtsQuery quotes every term', () => {
    expect(toFtsQuery('hello world')).toBe('"hello" AND "world"');
    expect(toFtsQuery('say "hello world"')).toBe('"say" AND "hello world"');
    expect(toFtsQuery('a" OR b')).toBe('"a" AND "OR" AND "b"');
    expect(toFtsQuery('pref*')).toBe('"pref*"');
    expect(toFtsQuery('* ( ) :')).toBeNull();
  });

  test('very common words still filter; a query of only common words lists newest first', () => {
    const s = openStore({ search: { commonDocs: 2 } });
    const t = s.threads.create({ title: 'common' });
    const ids = ['the cat sat', 'the dog ran', 'the cat and the dog', 'the bird'].map((c) => s.messages.add({ threadId: t.id, role: 'user', content: c }).id);
    const r = s.search({ query: 'the' });
    expect(r.ranking).toBe('recency');
    expect(r.hits.map((h) => h.messageId)).toEqual([...ids].reverse());
    // common + rare word: filtered by both, ranked by the rare one
    const mixed = s.search({ query: 'the bird' });
    expect(mixed.ranking).toBe('relevance');
    expect(mixed.hits.map((h) => h.messageId)).toEqual([ids[3]]);
    const mixed2 = s.search({ query: 'the cat' });
    expect(mixed2.hits.map((h) => h.messageId).sort()).toEqual([ids[0], ids[2]].sort());
  });

  test('temporary chats are not searchable', () => {
    const s = openStore();
    const t = s.temporary.threads.create({ title: 'secret' });
    s.temporary.messages.add({ threadId: t.id, role: 'user', content: 'xylophone' });
    expect(s.search({ query: 'xylophone' }).hits).toHaveLength(0);
  });
});
