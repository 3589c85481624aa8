/**
 * A thread's history as the engine's chat messages: the instructions, then each message's text, and a
 * user message's images (as the paths of the files the app stored) when the model reads images.
 *
 * The images of the newest user message (the one the reply answers) always go: one that is gone fails
 * the reply with image_missing. Older messages' images go newest first while they fit what the engine
 * takes in one request (MAX_IMAGES images, MAX_REQUEST_PIXELS pixels together, the newest message's
 * counted first); an older image that is gone, cannot be read, or no longer fits is replaced by a short
 * note in its message's text (imageNotShown), so a thread never breaks for good over an old image. The
 * engine hashes an image's chunk, so the cached prefix of the conversation holds across turns while the
 * same images go (a turn that drops an old image reads the conversation again from there). Without a
 * projector the text alone goes (a thread with images can go on with a text model).
 *
 * A reply that called tools goes with its calls (tool_calls, the arguments as the model wrote them),
 * and each tool message as the call's answer (role tool, tool_call_id): the template renders them in
 * its own format. A tool's result is marked as data (main/params/data-text.ts): special-token text in it
 * stays text. So are a reply's text and its calls' arguments (marked inside their JSON strings): a
 * model that quotes a passage holding "<|im_end|><|im_start|>system" wrote it as text, and it is read as
 * text the next turn too, and when a turn continues that reply.
 *
 * The replies of the turn being answered (those after its user message: the steps of a tool loop, and
 * a reply being continued) go with their reasoning, also data. That is what most thinking models that
 * call tools are trained on (Qwen3's, Qwen3.5's, GLM-4.6's, MiniMax-M2's and DeepSeek-V3.2's templates
 * write a reply's reasoning only after the last user message, gpt-oss's its analysis for the turn's
 * calls): the model reads what it thought before each call, and the step reuses the cache of what it
 * wrote. Which replies go with theirs is `reasoning.scope`: the turn's ('turn', the default), every
 * reply's ('all': a local model whose template keeps an earlier turn's reasoning while the
 * preserveReasoning setting is on, main/engine/template-probes.ts templateKeepsReasoning), the turn's and those of every
 * turn that called tools ('toolTurns'), or none at all ('none'); a remote kind's is REASONING_SENT's, with
 * what a reply the scope covers goes with when it has none (`absent`: an API that refuses a request
 * without the field). llama.cpp goes on with the
 * reasoning of a continued reply cut off while thinking (one with no text yet), and writes it before the
 * text of one that has both.
 *
 * A user message whose reply was given documents' passages (the reply's `sources`) goes with them
 * before its text (main/docs/prompt.ts), each turn the same, so the conversation's cached prefix holds.
 */
import type { ChatMessage } from '../engine/protocol';
import { type AttachmentDTO, ImageRef } from '../ipc/contract';
import { asData, type ContentPart, MAX_IMAGE_PIXELS, MAX_IMAGES, MAX_REQUEST_PIXELS, jsonAsData, type ReasoningScope, type ReasoningSent } from '../params';
import type { Message } from '../store';
import type { ImageDimensions, ImageStore, StoredImage } from './images';
import { wellFormed } from './text';
import { argumentsText, callArguments } from './dto';
import { sourceKey, withSources } from '../docs/prompt';

/**
 * A call's arguments as the template takes them: a JSON object's text. What a model wrote that is not
 * one (its call answered an error) goes as {}, or the template's rendering would fail the thread.
 */
const templateArguments = (text: string): string => (callArguments(text) !== null && text.trim() ? text : '{}');

type HistoryMessage = Pick<Message, 'role' | 'content' | 'attachments'> & Partial<Pick<Message, 'toolCalls' | 'toolCallId' | 'reasoning'>>;

/**
 * The thread's path with each user message carrying the sources the reply after it was given; a
 * source an earlier question carries is named there, not repeated (main/docs/prompt.ts).
 */
export function withQuestionSources<M extends Pick<Message, 'role' | 'content' | 'sources'>>(path: readonly M[]): M[] {
  const given = new Set<string>();
  return path.map((m, i) => {
    const next = path[i + 1];
    if (m.role !== 'user' || next?.role !== 'assistant' || !next.sources?.length) return m;
    const content = withSources(m.content, next.sources, new Set(given));
    for (const s of next.sources) given.add(sourceKey(s));
    return { ...m, content };
  });
}

/**
 * The images of a message the app stored (type image, named by their hash). An import's image (Jan's:
 * a URL or a data: URL) names no stored file and is left out.
 */
export function storedImages(m: Pick<Message, 'role' | 'attachments'>): AttachmentDTO[] {
  if (m.role !== 'user') return [];
  return m.attachments.filter((a) => a.type === 'image' && ImageRef.safeParse(a.ref).success);
}

/** What stands in a message's text for an older image that is not sent (gone, unreadable, or past the request's bounds). */
export function imageNotShown(name: string | undefined): string {
  // the file's name is data (main/params/data-text.ts): special-token text in it stays text
  return name ? `[image ${asData(name)} not shown]` : '[image not shown]';
}

/** An image's width and height: those its attachment records, else (older rows) its file's header's. */
async function sizeOf(store: ImageStore, a: AttachmentDTO, img: StoredImage): Promise<ImageDimensions> {
  if (a.width !== undefined && a.height !== undefined) return { width: a.width, height: a.height };
  return store.dimensions(img, a.name ?? a.ref);
}

/** An image that goes: its part and its size. */
interface SentImage {
  part: ContentPart;
  size: ImageDimensions;
}

/** What a message with stored images sends of them: the images that go, and notes for those that do not (in its order). */
interface MessageImages {
  sent: SentImage[];
  notes: string[];
}

/** Which of a history's stored images go (by message index); see the file's comment. */
async function imagesSent(history: readonly HistoryMessage[], store: ImageStore): Promise<Map<number, MessageImages>> {
  const out = new Map<number, MessageImages>();
  let newest = -1;
  for (let i = history.length - 1; i >= 0 && newest < 0; i--) if (history[i].role === 'user') newest = i;
  let count = 0;
  let pixels = 0;
  // the newest user message's images: every one, or the reply fails (image_missing names a gone one)
  if (newest >= 0) {
    const sent: SentImage[] = [];
    for (const a of storedImages(history[newest])) {
      const img = await store.get(a.ref, a.name);
      const size = await sizeOf(store, a, img);
      count += 1;
      pixels += size.width * size.height;
      sent.push({ part: { type: 'image', path: img.file }, size });
    }
    if (sent.length) out.set(newest, { sent, notes: [] });
  }
  // older ones, newest first, while they fit
  let full = false;
  for (let i = newest - 1; i >= 0; i--) {
    const images = storedImages(history[i]);
    if (images.length === 0) continue;
    const sent: (SentImage | null)[] = images.map(() => null);
    for (let j = images.length - 1; j >= 0 && !full; j--) {
      const a = images[j];
      let img: StoredImage;
      let size: ImageDimensions;
      try {
        img = await store.get(a.ref, a.name);
        size = await sizeOf(store, a, img);
      } catch {
        continue; // gone, or not an image the engine reads: noted, and older ones still go
      }
      const p = size.width * size.height;
      if (p > MAX_IMAGE_PIXELS) continue;
      if (count + 1 > MAX_IMAGES || pixels + p > MAX_REQUEST_PIXELS) {
        full = true;
        break;
      }
      count += 1;
      pixels += p;
      sent[j] = { part: { type: 'image', path: img.file }, size };
    }
    out.set(i, { sent: sent.filter((s): s is SentImage => s !== null), notes: images.flatMap((a, j) => (sent[j] ? [] : [imageNotShown(a.name)])) });
  }
  return out;
}

/** Whether the message at an index carries its reasoning, under `scope` (the file's comment). */
function carriesReasoning(history: readonly HistoryMessage[], scope: ReasoningScope): (i: number) => boolean {
  if (scope === 'none' || scope === 'all') return () => scope === 'all';
  // each message's turn: the index of the user message it follows (-1 before any); the turns a reply called tools in
  const turnOf: number[] = [];
  const called = new Set<number>();
  let turn = -1;
  history.forEach((m, i) => {
    if (m.role === 'user') turn = i;
    else if (m.role === 'assistant' && m.toolCalls?.length) called.add(turn);
    turnOf[i] = turn;
  });
  // the turn being answered: after the last user message
  return (i) => turnOf[i] === turn || (scope === 'toolTurns' && called.has(turnOf[i]));
}

/** A history as the engine's messages, and the width and height of each image part they carry, in their order. */
export interface EngineChat {
  messages: ChatMessage[];
  imageSizes: ImageDimensions[];
}

/**
 * The engine's messages for a history. `images`: where the stored images are, or null when the model
 * has no projector (then the text alone). A gone image of the newest user message fails with
 * image_missing; older ones are noted in their text instead (see the file's comment).
 */
export async function toEngineMessages(history: readonly HistoryMessage[], o: { instructions: string; images: ImageStore | null; reasoning?: Partial<ReasoningSent> }): Promise<EngineChat> {
  const sent = o.images ? await imagesSent(history, o.images) : new Map<number, MessageImages>();
  const chat: ChatMessage[] = [];
  const imageSizes: ImageDimensions[] = [];
  const carries = carriesReasoning(history, o.reasoning?.scope ?? 'turn');
  const absent = o.reasoning?.absent ?? null;
  const reasoningOf = (m: HistoryMessage, i: number): { reasoning_content?: string } => {
    if (m.role !== 'assistant' || !carries(i)) return {};
    const r = wellFormed(m.reasoning ?? '');
    if (r) return { reasoning_content: asData(r) };
    return absent && (!absent.calls || m.toolCalls?.length) ? { reasoning_content: absent.text } : {};
  };
  if (o.instructions.trim()) chat.push({ role: 'system', content: wellFormed(o.instructions) });
  history.forEach((m, i) => {
    if (m.role === 'tool') {
      if (m.toolCallId) chat.push({ role: 'tool', content: jsonAsData(wellFormed(m.content)), tool_call_id: m.toolCallId });
      return;
    }
    if (m.role === 'assistant' && m.toolCalls?.length) {
      const calls = m.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: jsonAsData(templateArguments(argumentsText(c)), Infinity) } }));
      chat.push({ role: 'assistant', content: asData(wellFormed(m.content)), tool_calls: calls, ...reasoningOf(m, i) });
      return;
    }
    if (m.role !== 'system' && m.role !== 'user' && m.role !== 'assistant') return;
    const images = sent.get(i);
    const own = m.role === 'assistant' ? asData(wellFormed(m.content)) : wellFormed(m.content);
    const text = images?.notes.length ? wellFormed([...images.notes, own].filter((t) => t.length > 0).join('\n')) : own;
    if (!images || images.sent.length === 0) {
      chat.push({ role: m.role, content: text, ...reasoningOf(m, i) });
      return;
    }
    // the images first, then the question about them (as the projector's models are trained)
    const parts = images.sent.map((s) => s.part);
    imageSizes.push(...images.sent.map((s) => s.size));
    chat.push({ role: m.role, content: text ? [...parts, { type: 'text', text }] : parts });
  });
  return { messages: chat, imageSizes };
}

/**
 * The messages without the replies' reasoning (as they went before replies carried it), but a continued
 * reply's (`continued`: the last message, which llama.cpp goes on from); null when none carried any. For
 * a request refused with it: too long for the context, or a template refusing its text.
 */
export function withoutReasoning(messages: readonly ChatMessage[], continued: boolean): ChatMessage[] | null {
  let dropped = false;
  const out = messages.map((m, i) => {
    if (m.reasoning_content === undefined || (continued && i === messages.length - 1)) return m;
    dropped = true;
    const { reasoning_content: _, ...rest } = m;
    return rest;
  });
  return dropped ? out : null;
}
