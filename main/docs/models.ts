/**
 * The documents' models in the engine: the embedding model (vectors of chunks and of questions) and
 * the reranker, each loaded under an engine id of its own (`docs:embed`, `docs:rerank`, beside the
 * chat's model) with its saved load settings, a pooled context (ubatch = batch, as llama-server), and
 * unloaded after IDLE_MS without use; changed load settings load it again at its next use. A model's
 * key (its path and the engine's fingerprint of its weights) names its embedding space, so vectors of
 * different models never mix. The uses of one role run one after another (a load, a batch, a
 * question's vector): a switch to another file waits for the batch in flight, and a batch always runs
 * on the file it names. Models trained with task prefixes get
 * them (TASK_PREFIXES: nomic-embed's search_document:/search_query:, Qwen3-Embedding's query
 * instruction).
 */
import type { EngineClient } from '../engine/client';
import type { LoadParamsInput, ModelMetadata } from '../engine/protocol';
import type { Logger } from '../logging';
import { planLoad } from '../models/fit';
import { ADAPTER_SETTINGS, sameLoadSettings } from '../params';
import { docModelMismatch, poolingOf, type DocModelRole } from '../params/docs';

/** A documents' model unloads after this long unused. */
export const IDLE_MS = 5 * 60_000;
/** The context (and batch) an embedding model is loaded with, at most: a chunk is one sequence of one micro-batch. */
const EMBED_CONTEXT = 4096;
/** Sequences one embedding batch packs. */
const EMBED_SEQUENCES = 16;

export interface DocModelsDeps {
  engine: EngineClient;
  loadSettings: (file: string) => LoadParamsInput;
  guardrail: () => { mode: 'off' | 'warn' | 'strict'; marginMiB: number };
  logger: Logger;
  /** tests control time */
  timers?: { set(fn: () => void, ms: number): unknown; clear(h: unknown): void };
}

export class DocModelError extends Error {}

/** What a text to embed is: a passage of a document, or a question searching them. */
export type EmbedTask = 'document' | 'query';

/**
 * The prefixes an embedding model was trained with, by its GGUF architecture: without them its
 * vectors are poorer (nomic-embed's model card; Qwen3-Embedding instructs its queries only).
 */
export const TASK_PREFIXES: Readonly<Record<string, Readonly<Record<EmbedTask, string>>>> = {
  'nomic-bert': { document: 'search_document: ', query: 'search_query: ' },
  'nomic-bert-moe': { document: 'search_document: ', query: 'search_query: ' },
  qwen3: { document: '', query: 'Instruct: Given a question, retrieve passages that answer it\nQuery: ' },
};

interface Held {
  role: DocModelRole;
  file: string;
  modelId: string;
  info: ModelMetadata;
  /** the batch a sequence must fit (tokens) */
  batch: number;
  /** the parameters it was loaded with (paramsOf) */
  loadedWith: LoadParamsInput;
  active: number;
  timer: unknown;
}

/** What the embedding model is: its space's key and width. */
export interface EmbedSpace {
  key: string;
  name: string;
  dims: number;
}

export class DocModels {
  private readonly held = new Map<DocModelRole, Held>();
  /** each role's uses, one after another */
  private readonly chains = new Map<DocModelRole, Promise<unknown>>();
  private readonly timers: NonNullable<DocModelsDeps['timers']>;

  constructor(private readonly deps: DocModelsDeps) {
    this.timers = deps.timers ?? {
      set: (fn, ms) => {
        const t = setTimeout(fn, ms);
        t.unref?.();
        return t;
      },
      clear: (h) => clearTimeout(h as NodeJS.Timeout),
    };
  }

  /** Checks that `file` can serve `role` (read from its header; nothing loads); answers its space for embed. */
  async check(role: DocModelRole, file: string): Promise<EmbedSpace> {
    const info = await this.deps.engine.info(file);
    this.suits(role, file, info);
    return { key: `${file}\n${info.fingerprint}`, name: info.name || file, dims: info.embeddingSize };
  }

  private suits(role: DocModelRole, file: string, info: ModelMetadata): void {
    const why = docModelMismatch(role, poolingOf(info.pooling));
    if (why === null) return;
    const choose = role === 'embed' ? 'choose one such as nomic-embed or bge in Settings → Documents' : 'choose one (a GGUF with rank pooling, such as bge-reranker) in Settings → Documents, or none';
    throw new DocModelError(`${file} is ${why}: ${choose}`);
  }

  /** Runs `work` on the model `file` loaded for `role` (loading it first), after the role's earlier uses. */
  private use<T>(role: DocModelRole, file: string, work: (h: Held) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const run = (this.chains.get(role) ?? Promise.resolve()).catch(() => undefined).then(() => this.useNow(role, file, work, signal));
    this.chains.set(role, run.catch(() => undefined));
    return run;
  }

  private async useNow<T>(role: DocModelRole, file: string, work: (h: Held) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw Object.assign(new Error('aborted'), { code: 'aborted' });
    let h = this.held.get(role);
    if (h && (h.file !== file || !this.deps.engine.isLoaded(h.modelId))) {
      if (h.file !== file) await this.unload(role);
      h = undefined;
    }
    // its load settings changed since it loaded (the role's uses run one after another: none runs on it now)
    if (h && !sameLoadSettings(h.loadedWith, this.paramsOf(role, this.deps.loadSettings(file), h.info))) {
      this.deps.logger.info(`docs: reloading the ${role === 'embed' ? 'embedding model' : 'reranker'} with its changed load settings`, { path: file });
      await this.unload(role);
      h = undefined;
    }
    h ??= await this.load(role, file);
    const held = h;
    held.active++;
    if (held.timer !== undefined) this.timers.clear(held.timer);
    held.timer = undefined;
    try {
      return await work(held);
    } finally {
      held.active--;
      if (held.active === 0 && this.held.get(role) === held) {
        held.timer = this.timers.set(() => {
          held.timer = undefined;
          if (held.active === 0 && this.held.get(role) === held) void this.unload(role);
        }, IDLE_MS);
      }
    }
  }

  /**
   * What a role's model loads with: its saved load settings, a pooled context of its own; the embedding
   * model without LoRA adapters or control vectors (its space is keyed by its weights: vectors made with
   * adapters would mix with those made without in one space).
   */
  private paramsOf(role: DocModelRole, saved: LoadParamsInput, info: ModelMetadata): LoadParamsInput {
    const ctx = Math.max(256, Math.min(info.trainedContext || EMBED_CONTEXT, EMBED_CONTEXT));
    // (every adapter setting: the layers control vectors steer too, which alone would reload it for nothing)
    const settings = role === 'embed' ? (Object.fromEntries(Object.entries(saved).filter(([k]) => !(k in ADAPTER_SETTINGS))) as LoadParamsInput) : saved;
    return { ...settings, embeddings: true, contextSize: ctx, batchSize: ctx, ubatchSize: ctx, parallel: EMBED_SEQUENCES };
  }

  private async load(role: DocModelRole, file: string): Promise<Held> {
    const { engine } = this.deps;
    const info = await engine.info(file);
    this.suits(role, file, info);
    const params = this.paramsOf(role, this.deps.loadSettings(file), info);
    const guard = this.deps.guardrail();
    if (guard.mode !== 'off') {
      const plan = await planLoad(engine, file, params, guard.marginMiB);
      if (!plan.check.fits) throw new DocModelError(`the ${role === 'embed' ? 'embedding model' : 'reranker'} does not fit in memory: ${plan.check.problems.join('; ')}`);
    }
    const modelId = `docs:${role}`;
    this.deps.logger.info(`docs: loading the ${role === 'embed' ? 'embedding model' : 'reranker'}`, { path: file });
    await engine.load(modelId, file, params);
    const batch = (await engine.contextInfo(modelId)).ubatchSize;
    const h: Held = { role, file, modelId, info, batch, loadedWith: params, active: 0, timer: undefined };
    this.held.set(role, h);
    return h;
  }

  /**
   * Vectors of `texts` (each with the model's prefix for the task, cut to its batch when longer) on the
   * embedding model `file`. Documents and questions are data: special-token text in them ("</s>") is
   * text, never that token (parseSpecial false), as `fit` counts it.
   */
  async embed(file: string, texts: string[], task: EmbedTask, signal?: AbortSignal): Promise<number[][]> {
    return this.use('embed', file, async (h) => {
      const prefix = TASK_PREFIXES[h.info.architecture]?.[task] ?? '';
      texts = prefix ? texts.map((t) => prefix + t) : texts;
      try {
        return await this.deps.engine.embed(h.modelId, texts, { signal, parseSpecial: false });
      } catch (e) {
        if ((e as { code?: string }).code !== 'context_overflow') throw e;
        // a text longer than the batch: cut to it (its tokens), then the batch again
        return this.deps.engine.embed(h.modelId, await Promise.all(texts.map((t) => this.fit(h, t))), { signal, parseSpecial: false });
      }
    }, signal);
  }

  /**
   * For each of `texts`, whether it holds a special token's text of the embedding model `file` ("</s>"
   * for one whose vocab has it): its tokens with special tokens parsed are not its tokens as text.
   * Vectors made before `embed` read such text as text differ for those texts alone.
   */
  async holdsSpecialText(file: string, texts: string[], signal?: AbortSignal): Promise<boolean[]> {
    return this.use('embed', file, async (h) => {
      const { engine } = this.deps;
      const out: boolean[] = [];
      for (const text of texts) {
        const parsed = await engine.tokenize(h.modelId, text, { addSpecial: false, parseSpecial: true });
        const plain = await engine.tokenize(h.modelId, text, { addSpecial: false, parseSpecial: false });
        out.push(parsed.length !== plain.length || parsed.some((t, i) => t !== plain[i]));
      }
      return out;
    }, signal);
  }

  /** Scores of `documents` against `query` on the reranker `file`, in their order; special-token text in them is text, as embed's. */
  async rerank(file: string, query: string, documents: string[], signal?: AbortSignal): Promise<number[]> {
    return this.use('rerank', file, async (h) => {
      return (await this.deps.engine.rerank(h.modelId, query, documents, { signal, parseSpecial: false })).scores;
    }, signal);
  }

  private async fit(h: Held, text: string): Promise<string> {
    const { engine } = this.deps;
    const all = await engine.tokenize(h.modelId, text, { addSpecial: true, parseSpecial: false });
    if (all.length <= h.batch) return text;
    const plain = await engine.tokenize(h.modelId, text, { addSpecial: false, parseSpecial: false });
    return engine.detokenize(h.modelId, plain.slice(0, Math.max(1, h.batch - (all.length - plain.length))));
  }

  private async unload(role: DocModelRole): Promise<void> {
    const h = this.held.get(role);
    if (!h) return;
    this.held.delete(role);
    if (h.timer !== undefined) this.timers.clear(h.timer);
    try {
      await this.deps.engine.unload(h.modelId);
    } catch (e) {
      this.deps.logger.warn(`docs: unloading the ${role} model failed: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.unload('embed'), this.unload('rerank')]);
  }
}
