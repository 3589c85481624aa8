/**
 * A thread's history as the engine's chat messages: the instructions, then each message's text, and a
 * user message's images (as the paths of the files the app stored) when the model reads images. Every
 * message's images go each time, older ones too: the engine hashes an image's chunk, so the cached
 * prefix of the conversation holds across turns. Without a projector the text alone goes (a thread
 * with images can go on with a text model).
 */
import type { ChatMessage } from '../engine/protocol';
import { type AttachmentDTO, ImageRef } from '../ipc/contract';
import type { ContentPart } from '../params';
import type { Message } from '../store';
import type { ImageStore } from './images';
import { wellFormed } from './text';

/**
 * The images of a message the app stored (type image, named by their hash). An import's image (Jan's:
 * a URL or a data: URL) names no stored file and is left out.
 */
export function storedImages(m: Pick<Message, 'role' | 'attachments'>): AttachmentDTO[] {
  if (m.role !== 'user') return [];
  return m.attachments.filter((a) => a.type === 'image' && ImageRef.safeParse(a.ref).success);
}

/** The stored images a conversation carries. */
export function historyImages(path: readonly Pick<Message, 'role' | 'attachments'>[]): number {
  return path.reduce((n, m) => n + storedImages(m).length, 0);
}

/**
 * The engine's messages for a history. `images`: where the stored images are, or null when the model
 * has no projector (then the text alone). A stored image that is gone fails with image_missing.
 */
export async function toEngineMessages(
  history: readonly Pick<Message, 'role' | 'content' | 'attachments'>[],
  o: { instructions: string; images: ImageStore | null },
): Promise<ChatMessage[]> {
  const chat: ChatMessage[] = [];
  if (o.instructions.trim()) chat.push({ role: 'system', content: wellFormed(o.instructions) });
  for (const m of history) {
    if (m.role !== 'system' && m.role !== 'user' && m.role !== 'assistant') continue;
    const text = wellFormed(m.content);
    const images = o.images ? storedImages(m) : [];
    if (!o.images || images.length === 0) {
      chat.push({ role: m.role, content: text });
      continue;
    }
    // the images first, then the question about them (as the projector's models are trained)
    const parts: ContentPart[] = [];
    for (const a of images) parts.push({ type: 'image', path: (await o.images.get(a.ref, a.name)).file });
    if (text) parts.push({ type: 'text', text });
    chat.push({ role: m.role, content: parts });
  }
  return chat;
}
