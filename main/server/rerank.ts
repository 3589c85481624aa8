/**
 * Reranking (llama-server's /v1/rerank, Jina's shape): a reranker (a model with rank pooling) scores
 * each document against the query; the results come sorted by score, best first. The scores are the
 * model's raw outputs, as llama-server gives them.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { RERANK_DOCUMENTS_MAX } from '../engine/methods';
import { ApiError } from './errors';
import { note, parseBody } from './http';
import type { RouteDeps } from './server';

export const RerankBody = z.object({
  model: z.string().optional(),
  query: z.string(),
  documents: z.array(z.string()).min(1).max(RERANK_DOCUMENTS_MAX),
  /** how many of the best results to return (all by default) */
  top_n: z.number().int().min(0).optional(),
  /** each result carries its document's text */
  return_documents: z.boolean().default(false),
});

export function registerRerank(app: FastifyInstance, deps: RouteDeps): void {
  const { models, engine } = deps;

  const rerank = async (req: FastifyRequest) => {
    const body = parseBody(RerankBody, req.body);
    note(req, { model: body.model ?? null });
    // refused before anything loads: a chat model is not loaded only to be told it cannot rerank
    const entry = await models.resolve(body.model);
    const info = await engine.info(entry.path);
    if (info.pooling !== 'rank') {
      throw new ApiError(400, 'invalid_request_error', `${entry.name} is not a reranker (its pooling is ${info.pooling}, not rank): name a reranking model`, 'model');
    }
    const lease = await models.acquire(entry.name, '', req.apiSignal);
    let scored: { scores: number[]; tokens: number };
    try {
      scored = await engine.rerank(lease.modelId, body.query, body.documents, { signal: req.apiSignal });
    } finally {
      // the pooled evaluation clears the context's cache: the slot holds nothing to match
      lease.release('');
    }
    note(req, { model: lease.name, tokens: scored.tokens });
    const results = scored.scores
      .map((score, index) => ({ index, relevance_score: score, ...(body.return_documents ? { document: { text: body.documents[index] } } : {}) }))
      .sort((a, b) => b.relevance_score - a.relevance_score)
      .slice(0, body.top_n ?? body.documents.length);
    return { model: lease.name, object: 'list', results, usage: { prompt_tokens: scored.tokens, total_tokens: scored.tokens } };
  };
  // llama-server's names for it
  app.post('/v1/rerank', rerank);
  app.post('/rerank', rerank);
  app.post('/v1/reranking', rerank);
}
