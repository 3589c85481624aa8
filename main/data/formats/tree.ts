/**
 * The parts every format's parser shares: the failure every import error is, and the tree builder that
 * turns another app's nodes (each with its parent, some to leave out) into ImportedThread.messages:
 * parents before their children, left-out nodes' children re-parented to the nearest kept ancestor, and
 * `active` on the path from the node the other app showed back to the root.
 */
import { z } from 'zod';
import { StoreError } from '../../store/errors';
import { LIMITS } from '../../store/validation';
import type { ImportedMessage, SkipNote } from '../imported';

/** The notes every format says alike (counted together in the preview). */
export const NOTES = {
  files: 'images and files (not in the export)',
  attachments: 'attachments (not in the export)',
  audio: 'audio (not in the export)',
} as const;

/** The most nodes one conversation may have (LIMITS.conversationNodes): a larger one is skipped with a note. */
export const MAX_NODES: number = LIMITS.conversationNodes;

/** The reasons a conversation too large to import is left out, by the bound it passed (its nodes, its bytes, its JSON values, its nesting). */
export const TOO_LARGE = {
  nodes: (max: number) => `conversations of more than ${max} messages (too large to import)`,
  bytes: (max: number) => `conversations larger than ${max} bytes (too large to import)`,
  values: (max: number) => `conversations of more than ${max} values (too large to import)`,
  depth: (max: number) => `conversations nested deeper than ${max} levels (too deeply nested to import)`,
} as const;

/** The note for a conversation of more than `max` nodes, or null when it fits. */
export function tooManyNodes(count: number, max = MAX_NODES): { skipped: SkipNote } | null {
  return count > max ? { skipped: { reason: TOO_LARGE.nodes(max) } } : null;
}

/** The note for a conversation of more than `max` bytes, or null when it fits. */
export function tooManyBytes(bytes: number, max: number = LIMITS.conversationBytes): { skipped: SkipNote } | null {
  return bytes > max ? { skipped: { reason: TOO_LARGE.bytes(max) } } : null;
}

/** A value from the file quoted in a note or an error: one line, at most 80 characters (gguf's, for names read from a file). */
export { quote } from '../../gguf/types';

/** Every import error: one code (the catalogue's import_failed), a message that names the file. */
export function importError(message: string, cause?: unknown): StoreError {
  return new StoreError('import_failed', message, undefined, cause === undefined ? undefined : { cause });
}

export function importFailed(message: string, cause?: unknown): never {
  throw importError(message, cause);
}

export { notRegularFile } from '../../regular-file';

/** Throws when the caller cancelled (the job's Stop). */
export function checkAborted(signal: AbortSignal | undefined, where: string): void {
  if (signal?.aborted) throw new StoreError('import_failed', `the import of ${where} was cancelled`, { cancelled: true });
}

export type NodeMessage = Omit<ImportedMessage, 'key' | 'parentKey' | 'active'>;

export interface RawNode {
  key: string;
  /** the other app's parent; one that is missing makes this a root */
  parentKey: string | null;
  /** null: left out (the root placeholder, a hidden node): its children hang from its parent instead */
  message: NodeMessage | null;
}

/**
 * Builds the message tree. `leafKey` is the node the other app showed last (ChatGPT's current_node,
 * Open WebUI's currentId); without one (or when it is not in the tree) the last child at each level is active.
 */
export function buildTree(nodes: readonly RawNode[], leafKey: string | null, skipped: SkipNote[]): ImportedMessage[] {
  const byKey = new Map<string, RawNode>();
  for (const n of nodes) if (!byKey.has(n.key)) byKey.set(n.key, n);
  const limit = byKey.size + 1;

  // the nearest kept node at or above each left-out node, remembered (a chain of left-out nodes is walked once)
  const keptAbove = memoUp<string | null>(byKey, (n) => (n.message ? n.key : undefined), null);
  // the nearest kept ancestor; a loop (back to the node itself, or of left-out nodes) makes a root
  const keptParent = (n: RawNode): string | null => {
    const p = n.parentKey === null ? null : keptAbove(n.parentKey);
    return p === n.key ? null : p;
  };

  const children = new Map<string | null, string[]>();
  const parentOf = new Map<string, string | null>();
  for (const n of byKey.values()) {
    if (!n.message) continue;
    const p = keptParent(n);
    parentOf.set(n.key, p);
    const list = children.get(p);
    if (list) list.push(n.key); else children.set(p, [n.key]);
  }

  // the shown path, through left-out nodes too
  const onPath = new Set<string>();
  let at = leafKey !== null ? byKey.get(leafKey) : undefined;
  for (let steps = 0; at && steps < limit && !onPath.has(at.key); steps++) {
    onPath.add(at.key);
    at = at.parentKey !== null ? byKey.get(at.parentKey) : undefined;
  }
  const activeKeys = new Set<string>();
  if (onPath.size > 0) {
    for (const k of onPath) if (byKey.get(k)?.message) activeKeys.add(k);
  } else {
    let level = children.get(null);
    const seen = new Set<string>();
    while (level && level.length > 0) {
      const last = level[level.length - 1];
      if (seen.has(last)) break;
      seen.add(last);
      activeKeys.add(last);
      level = children.get(last);
    }
  }

  // parents before children: depth first, iteratively (a conversation can be thousands deep)
  const out: ImportedMessage[] = [];
  const stack = [...(children.get(null) ?? [])].reverse();
  const placed = new Set<string>();
  while (stack.length > 0) {
    const key = stack.pop() as string;
    if (placed.has(key)) continue;
    placed.add(key);
    const n = byKey.get(key) as RawNode;
    out.push({ key, parentKey: parentOf.get(key) ?? null, active: activeKeys.has(key), ...(n.message as NodeMessage) });
    const kids = children.get(key);
    if (kids) for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]);
  }
  // a loop of parents never reaches a root
  const lost = parentOf.size - placed.size;
  for (let i = 0; i < lost; i++) skipped.push({ reason: 'messages in a loop of parents (a broken export)' });
  return out;
}

/**
 * A value for each key found by walking up the parents: `own(node)` where it is defined, else the parent's
 * (a missing parent, or a loop, is `none`). Each node is walked once and remembered, so a long chain of
 * nodes under which many ask costs its length once, not once per asker.
 */
export function memoUp<T>(byKey: ReadonlyMap<string, RawNode>, own: (n: RawNode) => T | undefined, none: T,
  combine: (above: T, n: RawNode) => T = (above) => above): (key: string) => T {
  const memo = new Map<string, T>();
  const walking = new Set<string>();
  return (start: string) => {
    const path: RawNode[] = [];
    let base = none;
    for (let key: string | null = start; key !== null;) {
      const known = memo.get(key);
      if (known !== undefined || memo.has(key)) { base = known as T; break; }
      const n = byKey.get(key);
      if (!n || walking.has(key)) break; // missing, or a loop: `none` above
      const v = own(n);
      if (v !== undefined) { memo.set(key, v); base = v; break; }
      walking.add(key);
      path.push(n);
      key = n.parentKey;
    }
    for (let i = path.length - 1; i >= 0; i--) {
      base = combine(base, path[i]);
      memo.set(path[i].key, base);
      walking.delete(path[i].key);
    }
    return base;
  };
}

/**
 * An object keyed by the other app's ids, as a Map of its values each checked by `schema`. Not z.record:
 * its output is a plain object, where an id "__proto__" would be dropped (or set the prototype); here
 * every own key is an id like any other. An issue's path names the id, as z.record's would.
 */
export function idMap<T extends z.ZodTypeAny>(schema: T) {
  return z.unknown().transform((value, ctx): Map<string, z.output<T>> => {
    const out = new Map<string, z.output<T>>();
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      ctx.addIssue({ code: z.ZodIssueCode.invalid_type, expected: 'object', received: z.getParsedType(value) });
      return z.NEVER;
    }
    for (const [key, v] of Object.entries(value)) {
      const r = schema.safeParse(v);
      if (!r.success) {
        for (const i of r.error.issues) ctx.addIssue({ code: z.ZodIssueCode.custom, message: i.message, path: [key, ...i.path] });
        return z.NEVER;
      }
      out.set(key, r.data);
    }
    return out;
  });
}

/** Seconds (a float, as ChatGPT and Open WebUI keep them) to ms; null when absent or not a time. */
export function secondsToMs(s: number | null | undefined): number | null {
  return typeof s === 'number' && Number.isFinite(s) && s > 0 ? Math.round(s * 1000) : null;
}

/** A time kept in seconds, ms or ns (Open WebUI has used all three) to ms, judged by its size. */
export function epochToMs(n: number | null | undefined): number | null {
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) return null;
  if (n > 1e17) return Math.round(n / 1e6);
  if (n > 1e11) return Math.round(n);
  return Math.round(n * 1000);
}

/** An ISO date to ms; null when absent or unreadable. */
export function isoToMs(s: string | null | undefined): number | null {
  if (typeof s !== 'string') return null;
  const t = Date.parse(s);
  return Number.isFinite(t) ? t : null;
}

/** The conversation's times from its own and its messages' (a conversation without any takes `fallback`). */
export function threadTimes(created: number | null, updated: number | null, messages: readonly ImportedMessage[], fallback: number): { createdAt: number; updatedAt: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const m of messages) if (m.createdAt !== null) { min = Math.min(min, m.createdAt); max = Math.max(max, m.createdAt); }
  const createdAt = created ?? (Number.isFinite(min) ? min : updated ?? fallback);
  const updatedAt = Math.max(updated ?? (Number.isFinite(max) ? max : createdAt), createdAt);
  return { createdAt, updatedAt };
}

/** zod's first issue in words, for a conversation that could not be read. */
export function describeIssue(error: { issues: { path: (string | number)[]; message: string }[] }): string {
  const i = error.issues[0];
  return i ? `${i.path.join('.') || 'value'}: ${i.message}` : 'invalid';
}
