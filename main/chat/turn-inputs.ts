/**
 * What a turn reads before each step (main/chat/steps.ts): the thread's effective sampling (app
 * defaults < assistant < thread overrides) and instructions, its assistant, the chat model's count
 * of tokens in a text and in images of given sizes, and the tools its template takes.
 */
import { CHAT_MODEL_ID } from '../models/library';
import type { EngineClient } from '../engine/client';
import { PROBE_TOOL, templateRendersTools } from '../engine/template-probes';
import type { Sampling, Tool } from '../engine/protocol';
import type { z } from 'zod';
import type { SamplingDTO } from '../ipc/contract';
import type { Logger } from '../logging';
import { CHAT_DEFAULTS, pickKeys, REQUEST_SETTING_KEYS, type RequestSettingKey, SAMPLING_SETTING_KEYS } from '../params';
import type { Assistant, Store, Thread } from '../store';
import type { ImageDimensions } from './images';

/** The thread's assistant (null: none, or one deleted since). */
export function assistantOf(store: Store, thread: Thread): Assistant | null {
  return thread.assistantId && store.assistants.exists(thread.assistantId) ? store.assistants.get(thread.assistantId) : null;
}

/** The effective sampling: app defaults < assistant < thread overrides. */
export function effectiveSampling(store: Store, thread: Thread): { sampling: Sampling; request: Pick<SamplingDTO, RequestSettingKey>; instructions: string } {
  const app = store.settings.get('chatDefaults');
  const assistant = assistantOf(store, thread);
  const merged: SamplingDTO = { ...app, ...assistant?.sampling, ...thread.overrides.sampling };
  const instructions = thread.overrides.instructions ?? assistant?.instructions ?? '';
  return { sampling: pickKeys(merged, SAMPLING_SETTING_KEYS), request: pickKeys(merged, REQUEST_SETTING_KEYS), instructions };
}

/**
 * The chat settings the user chose for a thread: the app defaults they changed from Hearth's starting
 * values (CHAT_DEFAULTS, tuned for small local models), the assistant's and the thread's. What a
 * remote request carries: a hosted model gets its provider's defaults for the rest (some refuse a
 * temperature other than their own, or temperature and top_p together).
 */
export function chosenSettings(store: Store, thread: Thread): Partial<SamplingDTO> {
  const app = store.settings.get('chatDefaults') as Record<string, unknown>;
  const starting = CHAT_DEFAULTS as Record<string, unknown>;
  const changed = Object.fromEntries(Object.entries(app).filter(([k, v]) => v !== undefined && JSON.stringify(v) !== JSON.stringify(starting[k])));
  return { ...changed, ...assistantOf(store, thread)?.sampling, ...thread.overrides.sampling };
}

/**
 * The tokens a turn's images take in the loaded model's context: the engine's count for each image's
 * width and height (asked once per distinct size). When the engine cannot say, 0 and a warning: the
 * room made for the turn is then its text's estimate alone, and the turn goes on.
 */
export async function countImageTokens(deps: { engine: EngineClient; logger: Logger }, threadId: string, sizes: readonly ImageDimensions[], signal: AbortSignal): Promise<number> {
  if (sizes.length === 0) return 0;
  const key = (s: ImageDimensions) => `${s.width}x${s.height}`;
  const distinct = [...new Map(sizes.map((s) => [key(s), s])).values()];
  try {
    const tokens = await deps.engine.imageTokens(CHAT_MODEL_ID, distinct, { signal });
    if (tokens.length !== distinct.length) throw new Error(`the engine answered ${tokens.length} counts for ${distinct.length} sizes`);
    const per = new Map(distinct.map((s, i) => [key(s), tokens[i]]));
    return sizes.reduce((n, s) => n + per.get(key(s))!, 0);
  } catch (e) {
    if (!signal.aborted) deps.logger.warn(`chat: the images' tokens could not be counted, the room made for the turn is its text's estimate: ${(e as Error).message}`, { threadId, images: sizes.length });
    return 0;
  }
}

/** The chat model's tokens in a text (a tool result's budget); its characters ÷ 3 when the engine cannot say. */
export async function countTokens(engine: EngineClient, text: string): Promise<number> {
  try {
    return (await engine.tokenize(CHAT_MODEL_ID, text, { addSpecial: false })).length;
  } catch {
    return Math.ceil(text.length / 3);
  }
}

type EngineTool = z.input<typeof Tool>;

/**
 * The tools the chat model's template takes: none when the template does not render tools (its prompt
 * then does not name them: llama.cpp's chat library has no format to parse calls in, and would hold the
 * reply's text back looking for them); else those llama.cpp can make a grammar of. One tool whose
 * arguments' schema it cannot convert (an unresolvable $ref, an unsupported pattern) would fail every
 * reply: such a tool is left out, with a warning naming it.
 */
export async function toolsTheTemplateTakes(engine: EngineClient, tools: readonly EngineTool[], logger: Logger): Promise<EngineTool[]> {
  const render = (t: readonly EngineTool[]) => engine.applyTemplate(CHAT_MODEL_ID, { messages: [{ role: 'user', content: 'x' }], tools: [...t], toolChoice: 'auto' });
  try {
    const r = await render([PROBE_TOOL, ...tools]);
    return r.prompt.includes(PROBE_TOOL.function.name) ? [...tools] : [];
  } catch {
    if (!(await templateRendersTools(engine, CHAT_MODEL_ID))) return [];
    const ok: EngineTool[] = [];
    for (const t of tools) {
      try {
        await render([t]);
        ok.push(t);
      } catch (e) {
        logger.warn(`tools: ${t.function.name} is left out: llama.cpp cannot use its arguments' schema (${(e as Error).message})`);
      }
    }
    return ok;
  }
}
