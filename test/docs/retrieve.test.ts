/**
 * retrieveSources over a real store (SQLite, FTS5): the question's vector is asked, and its words searched (in the
 * keyword search's thread), before either answers, so the engine host embeds while the words are searched. The embedding is the engine's (another
 * process): here a function the test controls, to see the order.
 */
import path from 'path';
import { retrieveSources } from '../../main/docs/retrieve';
import { DocumentSettings } from '../../main/params';
import { Store } from '../../main/store';
import { tempDir } from '../helpers/engine';

test('the question is embedded while its words are searched; a failed embedding fails the retrieval and leaves nothing unhandled', async () => {
  const store = Store.open(path.join(tempDir(), 'hearth.db'), { checkpointIntervalMs: 0 });
  try {
    const doc = store.docs.ensureDocument({ hash: 'a'.repeat(64), kind: 'text', size: 10_000 });
    store.docs.replaceChunks(doc.id, Array.from({ length: 40 }, (_, seq) => ({ seq, tokens: 50, heading: null, text: seq === 7 ? 'the pelican note' : `filler passage ${seq}` })));
    const settings = DocumentSettings.parse({ wholeDocumentShare: 0, topK: 3, retrievalTokens: 500 });
    const order: string[] = [];
    const searchText = store.docs.searchTextOffThread.bind(store.docs);
    store.docs.searchTextOffThread = (...args) => {
      order.push('words searched');
      return searchText(...args);
    };
    let embedded!: (v: null) => void;
    const vector = (text: string) => {
      order.push(`embedding asked: ${text}`);
      return new Promise<null>((resolve) => (embedded = resolve));
    };
    const docs = [{ id: doc.id, hash: doc.hash, name: 'notes.md', tokens: 2000 }];
    const pending = retrieveSources({ store: store.docs, settings, vector, rerank: null }, docs, 'pelican', 4096, new AbortController().signal);
    // the words' search was started before the embedding answered
    expect(order).toEqual(['embedding asked: pelican', 'words searched']);
    embedded(null);
    const sources = await pending;
    expect(sources[0]).toMatchObject({ n: 1, name: 'notes.md', text: 'the pelican note', mode: 'retrieved' });

    const failing = () => Promise.reject(new Error('engine gone'));
    await expect(retrieveSources({ store: store.docs, settings, vector: failing, rerank: null }, docs, 'pelican', 4096, new AbortController().signal)).rejects.toThrow('engine gone');
  } finally {
    store.close();
  }
});
