/**
 * LM Studio's conversations: not an export but its own folder (~/.lmstudio/conversations, older versions
 * ~/.cache/lm-studio/conversations), one `<ms>.conversation.json` per chat, in sub-folders for its folders:
 * {name, createdAt (ms), systemPrompt?, lastUsedModel?, messages: [{versions: [...], currentlySelected}]}.
 * A version is {type: 'singleStep', role, content: [{type: 'text', text} | {type: 'file', …}]} or, for an
 * answer, {type: 'multiStep', role: 'assistant', steps: [{type: 'contentBlock', content: [...], style?},
 * {type: 'toolStatus' | 'debugInfoBlock', …}], senderInfo?: {senderName}}.
 *
 * Shapes checked against (2026-12): YorkieDev/lm-studio-conversation-converter script.js (messages[].versions
 * [currentlySelected], singleStep content / multiStep steps of type contentBlock with content [{type: 'text'}],
 * genInfo, lastUsedModel.identifier, systemPrompt and perChatPredictionConfig's llm.prediction.systemPrompt),
 * a public test fixture building {versions, currentlySelected} / multiStep / contentBlock / toolStatus steps,
 * and lmstudio-ai/lmstudio-bug-tracker #1621 (the file name and folder). LM Studio calls these files internal
 * (lmstudio-js #152): the shape may change.
 *
 * - Each message's versions are alternatives (siblings); the next message follows the selected version only
 *   (in LM Studio the other versions have no continuation), and the selected versions are the active branch.
 * - A contentBlock styled as thinking, and <think>…</think> in the text, are the reasoning.
 */
import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { openRegularStream } from '../../regular-file';
import { LIMITS } from '../../store/validation';
import { isImportedRole, type ImportedThread, type ImportReader, type SkipNote } from '../imported';
import { streamJsonValues } from './stream';
import { buildTree, checkAborted, describeIssue, epochToMs, importFailed, notRegularFile, NOTES, quote, threadTimes, tooManyBytes, tooManyNodes, type RawNode } from './tree';

const nullish = <T extends z.ZodTypeAny>(t: T) => t.nullable().optional();

/** The file names LM Studio gives conversations. */
export const LMSTUDIO_SUFFIX = '.conversation.json';
/** The most conversation files a folder is read for, how deep, and the largest one read (one conversation's). */
export const LMSTUDIO_LIMITS = { maxFiles: 50_000, maxDepth: 8, maxFileBytes: LIMITS.conversationBytes as number };

const partSchema = z.object({ type: z.string(), text: nullish(z.string()) }).passthrough();
const stepSchema = z.object({
  type: z.string(),
  content: nullish(z.array(partSchema)),
  style: nullish(z.object({ type: nullish(z.string()) }).passthrough()),
}).passthrough();
const versionSchema = z.object({
  type: nullish(z.string()),
  role: z.string(),
  content: nullish(z.array(partSchema)),
  steps: nullish(z.array(stepSchema)),
  senderInfo: nullish(z.object({ senderName: nullish(z.string()) }).passthrough()),
}).passthrough();

export const lmstudioConversationSchema = z.object({
  name: nullish(z.string()),
  createdAt: nullish(z.number()),
  systemPrompt: nullish(z.string()),
  lastUsedModel: nullish(z.object({ identifier: nullish(z.string()) }).passthrough()),
  perChatPredictionConfig: nullish(z.object({ fields: nullish(z.array(z.object({ key: z.string(), value: z.unknown() }).passthrough())) }).passthrough()),
  messages: z.array(z.object({ versions: z.array(versionSchema), currentlySelected: nullish(z.number().int()) }).passthrough()),
}).passthrough();

type Version = z.infer<typeof versionSchema>;

const THINK = /<think>([\s\S]*?)(<\/think>|$)\s*/g;

function partsText(parts: readonly z.infer<typeof partSchema>[], skipped: SkipNote[]): string {
  const out: string[] = [];
  for (const p of parts) {
    if (p.type === 'text') { if (p.text) out.push(p.text); }
    else if (p.type === 'file') skipped.push({ reason: NOTES.files });
    else skipped.push({ reason: `unknown content part ${quote(p.type)}` });
  }
  return out.join('');
}

function versionContent(v: Version, skipped: SkipNote[]): { content: string; reasoning: string } {
  const text: string[] = [];
  const thinking: string[] = [];
  if (v.steps && v.steps.length > 0) {
    for (const s of v.steps) {
      if (s.type !== 'contentBlock') continue; // toolStatus, debugInfoBlock: LM Studio's own status lines
      const t = partsText(s.content ?? [], skipped);
      if (s.style?.type === 'thinking') thinking.push(t); else text.push(t);
    }
  } else {
    text.push(partsText(v.content ?? [], skipped));
  }
  const content = text.filter((t) => t).join('\n\n').replace(THINK, (_a, inner: string) => { thinking.push(inner.trim()); return ''; });
  return { content: content.trim(), reasoning: thinking.filter((t) => t).join('\n\n') };
}

/** One conversation file's parsed JSON in Hearth's shape; `sourceId` names the file (its path under the folder read, or its name when read alone). */
export function readLmstudioConversation(value: unknown, sourceId: string, fileTime: number): ImportedThread | { skipped: SkipNote } {
  const r = lmstudioConversationSchema.safeParse(value);
  if (!r.success) return { skipped: { reason: `an LM Studio conversation that could not be read (${describeIssue(r.error)})` } };
  const c = r.data;
  const tooMany = tooManyNodes(c.messages.reduce((sum, m) => sum + m.versions.length, 0));
  if (tooMany) return tooMany;
  const skipped: SkipNote[] = [];
  const nodes: RawNode[] = [];
  const system = c.systemPrompt?.trim()
    || (c.perChatPredictionConfig?.fields?.find((f) => f.key === 'llm.prediction.systemPrompt')?.value as string | undefined)?.toString().trim();
  let parent: string | null = null;
  if (system) { nodes.push({ key: 'system', parentKey: null, message: { role: 'system', content: system, createdAt: null } }); parent = 'system'; }
  c.messages.forEach((m, i) => {
    const selected = m.currentlySelected !== null && m.currentlySelected !== undefined && m.currentlySelected >= 0 && m.currentlySelected < m.versions.length
      ? m.currentlySelected : m.versions.length - 1;
    m.versions.forEach((v, j) => {
      const key = `${i}.${j}`;
      const role = v.role;
      if (!isImportedRole(role)) { skipped.push({ reason: `messages from ${quote(v.role)} (not a chat role)` }); nodes.push({ key, parentKey: parent, message: null }); return; }
      const { content, reasoning } = versionContent(v, skipped);
      if (!content && !reasoning) { nodes.push({ key, parentKey: parent, message: null }); return; }
      const model = v.senderInfo?.senderName;
      nodes.push({ key, parentKey: parent, message: { role, content, ...(reasoning ? { reasoning } : {}), createdAt: null, ...(role === 'assistant' && model ? { model } : {}) } });
    });
    if (m.versions.length > 0) parent = `${i}.${selected}`;
  });
  const messages = buildTree(nodes, parent, skipped);
  const created = epochToMs(c.createdAt) ?? fileTime;
  return {
    sourceId,
    title: c.name?.trim() || 'LM Studio conversation',
    ...threadTimes(created, Math.max(created, fileTime), messages, fileTime),
    model: c.lastUsedModel?.identifier ?? null,
    messages,
    skipped,
  };
}

/** The conversation files under `folder`, sorted, within the limits (a deeper or larger tree is refused). */
export async function findLmstudioFiles(folder: string, limits = LMSTUDIO_LIMITS): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > limits.maxDepth) return;
    const entries = await fs.promises.readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) await walk(full, depth + 1);
      // not only regular files: one that is not (a FIFO, a link: never followed) is named in a note by the reader, not passed over unsaid
      else if (e.name.endsWith(LMSTUDIO_SUFFIX)) {
        found.push(full);
        if (found.length > limits.maxFiles) importFailed(`${folder} holds more than ${limits.maxFiles} LM Studio conversations`);
      }
    }
  };
  try {
    await walk(folder, 0);
  } catch (e) {
    if ((e as { code?: string }).code === 'import_failed') throw e;
    importFailed(`cannot read ${folder}: ${(e as Error).message}`, e);
  }
  return found;
}

/** The members of a conversation file the schema reads: the others are passed over unread. */
const MEMBERS = ['name', 'createdAt', 'systemPrompt', 'lastUsedModel', 'perChatPredictionConfig'];

/**
 * A conversation file's members, streamed through the guard (no deeper than JSON_LIMITS, each message and
 * member at most `maxBytes`), so what the schema does not read is never built. `where` names it in errors.
 */
async function readConversationFile(file: string, where: string, maxBytes: number, signal?: AbortSignal, follow = true): Promise<{ value: unknown; mtime: number }> {
  // a regular file as opened (a FIFO swapped in would block the read where no cancel reaches it); in a
  // folder, a link is not followed (it could lead anywhere)
  const opened = await openRegularStream(file, { highWaterMark: 256 * 1024 }, { follow });
  if (!opened) return importFailed(notRegularFile(where));
  const { stream: input, st } = opened;
  if (st.size > maxBytes) {
    input.destroy();
    importFailed(`${where} is larger than ${maxBytes} bytes`);
  }
  const value: Record<string, unknown> = {};
  const messages: unknown[] = [];
  // its messages are read one at a time, so whether it has them at all is told by their key
  let hasMessages = false;
  const onMember = (key: string) => (hasMessages ||= key === 'messages');
  const paths = [...MEMBERS.map((m) => `$.${m}`), '$.messages.*'];
  for await (const { path: [key], value: v } of streamJsonValues(input, where, paths, '{', { signal, maxBytes, limits: { maxElementBytes: maxBytes }, elementDepth: 2, onMember })) {
    if (key === 'messages') messages.push(v);
    else value[key as string] = v;
  }
  // a file without them is no conversation (the schema says so), not an empty one
  return { value: hasMessages ? { ...value, messages } : value, mtime: Math.round(st.mtimeMs) };
}

/**
 * LM Studio conversations as a reader: a folder (read recursively) or one .conversation.json. In a folder a
 * file that cannot be read is a note; a single file that cannot be read is the error.
 */
export function lmstudioReader(target: string, limits = LMSTUDIO_LIMITS): ImportReader {
  return {
    format: 'lmstudio',
    source: target,
    async *conversations(signal?: AbortSignal) {
      checkAborted(signal, target);
      const isDir = (await fs.promises.stat(target).catch((e: Error) => importFailed(`cannot read ${target}: ${e.message}`, e))).isDirectory();
      if (!isDir) {
        let read: { value: unknown; mtime: number };
        try {
          read = await readConversationFile(target, target, limits.maxFileBytes, signal);
        } catch (e) {
          checkAborted(signal, target);
          return importFailed(`${target} is not a readable LM Studio conversation: ${(e as Error).message}`, e);
        }
        yield readLmstudioConversation(read.value, path.basename(target), read.mtime);
        return;
      }
      for (const file of await findLmstudioFiles(target, limits)) {
        checkAborted(signal, target);
        // the path under the folder: two chats of one name in two of LM Studio's folders are two conversations
        const id = path.relative(target, file).split(path.sep).join('/');
        let read: { value: unknown; mtime: number };
        try {
          const size = (await fs.promises.lstat(file)).size;
          const tooLarge = tooManyBytes(size, limits.maxFileBytes);
          if (tooLarge) { yield tooLarge; continue; }
          read = await readConversationFile(file, id, limits.maxFileBytes, signal, false);
        } catch (e) {
          checkAborted(signal, target);
          yield { skipped: { reason: `an LM Studio conversation that could not be read (${(e as Error).message})` } };
          continue;
        }
        yield readLmstudioConversation(read.value, id, read.mtime);
      }
    },
  };
}
