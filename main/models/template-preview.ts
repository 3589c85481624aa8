/**
 * The chat template setting's live preview: a sample conversation rendered with the template being
 * edited (or the model file's own), by llama.cpp's chat library in the engine host, for a model that
 * need not be loaded. A template that fails answers with llama.cpp's error, which the page shows.
 */
import type { EngineClient } from '../engine/client';
import type { ChatRequest } from '../engine/protocol';

/** What the preview renders: a system prompt, a finished exchange and a new question, then the assistant's turn. */
export const SAMPLE_CONVERSATION: ChatRequest = {
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'Hello! Who are you?' },
    { role: 'assistant', content: 'I am an assistant running on your computer.' },
    { role: 'user', content: 'What can you do?' },
  ],
};

export interface TemplatePreview {
  /** the sample conversation as the model would read it */
  prompt: string;
  tokens: number;
  /** the template rendered: the one given, or the file's own */
  template: string;
}

/** The sample conversation rendered with `template` (blank: the file's own template). */
export async function previewTemplate(engine: EngineClient, file: string, template: string | undefined): Promise<TemplatePreview> {
  const r = await engine.previewTemplate(file, template || undefined, SAMPLE_CONVERSATION);
  return { prompt: r.prompt, tokens: r.tokens, template: r.template };
}
