/**
 * How much a thinking model thinks, as each dialect's clients ask it: OpenAI's `reasoning_effort` and
 * the Responses API's `reasoning.effort` ('none' … 'max'), Anthropic's `output_config.effort` and
 * `thinking.budget_tokens`, Ollama's `think` levels. One mapping onto the engine's two knobs: the
 * template's thinking switch (enable_thinking) and the effort level templates read (gpt-oss's
 * reasoning_effort: low, medium or high; main/params/chat.ts reasoningEffort). llama-server passes a
 * level through as it comes; here one a template does not read (minimal, xhigh, max) goes as the
 * nearest one it does, since a template that names its levels renders an unknown one as none of them.
 */
import { z } from 'zod';
import type { ChatRequest } from '../engine/protocol';
import { REQUEST_FIELDS } from '../params';

type TemplateEffort = z.infer<typeof REQUEST_FIELDS.reasoningEffort.schema>;

/** Each level a client may send, and the template's level it asks for ('off': no thinking at all). */
const LEVELS = {
  none: 'off',
  minimal: 'low',
  low: 'low',
  medium: 'medium',
  high: 'high',
  xhigh: 'high',
  max: 'high',
} as const satisfies Record<string, TemplateEffort | 'off'>;

/** A client's effort level: OpenAI's (chat completions, Responses), Anthropic's and Ollama's are among them. */
export const ClientEffort = z.enum(Object.keys(LEVELS) as [keyof typeof LEVELS, ...(keyof typeof LEVELS)[]]);
export type ClientEffort = z.infer<typeof ClientEffort>;

/**
 * What a client's level asks of the engine: 'none' turns the template's thinking off; the others are
 * the nearest level templates read (a template reads only low, medium and high); nothing for none given.
 */
export function effortOf(level: ClientEffort | null | undefined): Pick<ChatRequest, 'enableThinking' | 'reasoningEffort'> {
  if (!level) return {};
  const to = LEVELS[level];
  return to === 'off' ? { enableThinking: false } : { reasoningEffort: to };
}
