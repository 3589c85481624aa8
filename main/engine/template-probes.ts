/**
 * What a loaded model's chat template does, asked by rendering through llama.cpp's chat code as a
 * request is (so a format whose handler moves things where its template reads them counts too): whether
 * it keeps an earlier turn's reasoning when asked to, and whether it renders tools. The chat's turns ask
 * them of the chat model (main/chat/turn-inputs.ts), the API server's GET /props of the model it serves.
 */
import type { EngineClient } from './client';
import { EngineError } from './protocol';

/**
 * What a failed probe says: a render the template refused is a no; the engine's own failures (its host
 * gone, the model not there, the caller's stop) say nothing of the template and are thrown.
 */
function noUnlessEngine(e: unknown): false {
  if (e instanceof EngineError && ENGINE_FAILURES.has(e.code)) throw e;
  return false;
}
const ENGINE_FAILURES = new Set(['engine_crashed', 'engine_hung', 'engine_closed', 'not_loaded', 'aborted']);

/** A reply's reasoning no template writes by chance, to see whether a template keeps an earlier turn's. */
const PROBE_REASONING = 'hearth_probe_reasoning';

/** A tool no one calls, to see whether a template renders tools. */
export const PROBE_TOOL = { type: 'function' as const, function: { name: 'hearth_probe_tool', description: 'probe', parameters: { type: 'object', properties: {} } } };

/**
 * Whether the template of the model loaded as `modelId` keeps an earlier turn's reasoning when asked to
 * (preserveReasoning): a conversation whose earlier reply thought PROBE_REASONING, rendered as a turn is.
 * As llama.cpp's supports_preserve_reasoning cap asks, but through the whole request path, so a format
 * whose handler moves the reasoning where its template reads it (LFM2.5's `thinking`) counts too. False
 * when the render fails (noUnlessEngine).
 */
export async function templateKeepsReasoning(engine: EngineClient, modelId: string): Promise<boolean> {
  const messages = [
    { role: 'user' as const, content: 'x' },
    { role: 'assistant' as const, content: 'y', reasoning_content: PROBE_REASONING },
    { role: 'user' as const, content: 'z' },
  ];
  try {
    return (await engine.applyTemplate(modelId, { messages, preserveReasoning: true })).prompt.includes(PROBE_REASONING);
  } catch (e) {
    return noUnlessEngine(e);
  }
}

/** Whether the template of the model loaded as `modelId` renders tools (its prompt names PROBE_TOOL); false when the render fails (noUnlessEngine). */
export async function templateRendersTools(engine: EngineClient, modelId: string): Promise<boolean> {
  try {
    const r = await engine.applyTemplate(modelId, { messages: [{ role: 'user', content: 'x' }], tools: [PROBE_TOOL], toolChoice: 'auto' });
    return r.prompt.includes(PROBE_TOOL.function.name);
  } catch (e) {
    return noUnlessEngine(e);
  }
}
