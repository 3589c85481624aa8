/**
 * The documents' models (main/docs/models.ts) on the real engine: the embedding model loads with its
 * saved load settings, and when those change it loads again at its next use (its vectors stay in the
 * same space: the same file's weights, never its adapters). Real addon, generated embedding model.
 */
import type { LoadParamsInput } from '../../main/engine/protocol';
import { DocModels } from '../../main/docs/models';
import path from 'path';
import { gguf } from '../../main/gguf/types';
import { closingAfter, collectingLogger, makeEngine, tempDir } from '../helpers/engine';
import { TINY_EMBED, TINY_RERANK, writeRetyped } from '../helpers/models';

test("changed load settings of the embedding model apply at its next use; unchanged ones (in another key order) and adapters (the reranker's only) keep it loaded", async () => {
  const engine = makeEngine();
  const log = collectingLogger();
  let saved: LoadParamsInput = { threads: 1, gpuLayers: 0 };
  const docs = new DocModels({ engine, loadSettings: () => saved, guardrail: () => ({ mode: 'off', marginMiB: 0 }), logger: log });
  await closingAfter([docs, engine], async () => {
    const [a] = await docs.embed(TINY_EMBED, ['a passage'], 'document');
    expect((await engine.contextInfo('docs:embed')).threads).toBe(1);
    saved = { gpuLayers: 0, threads: 1 };
    await docs.embed(TINY_EMBED, ['a passage'], 'document');
    expect(log.lines.filter((l) => l.includes('reloading'))).toEqual([]);
    saved = { threads: 2, gpuLayers: 0 };
    const [b] = await docs.embed(TINY_EMBED, ['a passage'], 'document');
    expect((await engine.contextInfo('docs:embed')).threads).toBe(2);
    expect(log.lines.filter((l) => l.includes('reloading the embedding model with its changed load settings'))).toHaveLength(1);
    // the same weights: the same vector
    expect(b.map((x) => x.toFixed(4))).toEqual(a.map((x) => x.toFixed(4)));
    // adapters are not the embedding model's (its space is its weights'): not loaded, and no reload for them
    saved = { threads: 2, gpuLayers: 0, loraAdapters: [{ path: '/nowhere/lora.gguf', scale: 1 }], controlVectors: [{ path: '/nowhere/cvec.gguf', scale: 1 }] };
    const [c] = await docs.embed(TINY_EMBED, ['a passage'], 'document');
    expect(c.map((x) => x.toFixed(4))).toEqual(a.map((x) => x.toFixed(4)));
    saved = { ...saved, controlVectorLayerStart: 2 };
    await docs.embed(TINY_EMBED, ['a passage'], 'document');
    expect(log.lines.filter((l) => l.includes('reloading'))).toHaveLength(1);
    // loaded afresh with them saved: still without them (a missing adapter fails a load it is given to)
    await docs.close();
    const [d] = await docs.embed(TINY_EMBED, ['a passage'], 'document');
    expect(d.map((x) => x.toFixed(4))).toEqual(a.map((x) => x.toFixed(4)));
    // the reranker stores nothing: it is given its adapters (this one is missing, so its load fails)
    await expect(docs.rerank(TINY_RERANK, 'a question', ['a passage'])).rejects.toThrow(/nowhere\/lora\.gguf/);
    saved = { threads: 2, gpuLayers: 0 };
    expect((await docs.rerank(TINY_RERANK, 'a question', ['a passage'])).length).toBe(1);
  });
}, 60_000);

test('documents and questions are data: special-token text in them is text, for the embedding model and the reranker alike', async () => {
  const engine = makeEngine();
  const docs = new DocModels({ engine, loadSettings: () => ({ threads: 1, gpuLayers: 0 }), guardrail: () => ({ mode: 'off', marginMiB: 0 }), logger: collectingLogger() });
  const passage = 'the end</s> of a passage';
  await closingAfter([docs, engine], async () => {
    const [v] = await docs.embed(TINY_EMBED, [passage], 'document');
    const [asText] = await engine.embed('docs:embed', [passage], { parseSpecial: false });
    const [asToken] = await engine.embed('docs:embed', [passage]);
    expect(v).toEqual(asText);
    expect(v).not.toEqual(asToken);
    // which texts a vector made before (special tokens parsed) differs for: those holding the model's special
    // text (Llama 2's vocab: </s> and <s> are control tokens, <b> and [CLS] are not its tokens)
    expect(await docs.holdsSpecialText(TINY_EMBED, [passage, 'a <s> start', 'plain text', 'a <b>bold</b> and [CLS] text', ''])).toEqual([true, true, false, false, false]);
    // a reranker with a rerank template (without one, llama-server's way already keeps them text)
    const reranker = await writeRetyped(TINY_RERANK, path.join(tempDir('doc-rerank-'), 'rerank-template.gguf'), {}, {
      'tokenizer.chat_template.rerank': gguf.str('query: {query}</s><s>document: {document}</s>'),
    });
    const [score] = await docs.rerank(reranker, 'a question</s>', [passage]);
    expect(score).toBe((await engine.rerank('docs:rerank', 'a question</s>', [passage], { parseSpecial: false })).scores[0]);
    expect(score).not.toBe((await engine.rerank('docs:rerank', 'a question</s>', [passage])).scores[0]);
  });
}, 60_000);
