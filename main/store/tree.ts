/** Conversation tree helpers: messages link to their parent; siblings are alternatives, one of them selected. */
import type { Message, MessageView } from './types';

const ROOT = '\u0000root';

/** Groups messages (given in creation order) by parent, keeping creation order within each group. */
export function childrenByParent<M extends Pick<Message, 'id' | 'parentId'>>(messages: readonly M[]): Map<string, M[]> {
  const map = new Map<string, M[]>();
  for (const m of messages) {
    const key = m.parentId ?? ROOT;
    let list = map.get(key);
    if (!list) map.set(key, (list = []));
    list.push(m);
  }
  return map;
}

function pick<M extends Pick<Message, 'active'>>(siblings: readonly M[]): M {
  for (let i = siblings.length - 1; i >= 0; i--) if (siblings[i].active) return siblings[i];
  return siblings[siblings.length - 1];
}

/**
 * The current path through the tree: from the selected root, follow the selected reply until a leaf.
 * With `reuse`, the given message objects become the views (no copies; for freshly read rows).
 */
export function activePath(messages: readonly Message[], reuse = false): MessageView[] {
  const children = childrenByParent(messages);
  const out: MessageView[] = [];
  const seen = new Set<string>();
  let siblings = children.get(ROOT);
  while (siblings && siblings.length > 0) {
    const m = pick(siblings);
    if (seen.has(m.id)) break; // defensive: a cycle cannot be created through the API
    seen.add(m.id);
    const ids = siblings.map((s) => s.id);
    const alternatives = { index: ids.indexOf(m.id), count: ids.length, ids };
    out.push(reuse ? Object.assign(m, { alternatives }) : { ...m, alternatives });
    siblings = children.get(m.id);
  }
  return out;
}

/** The id of the last message on the current path, or null for an empty thread. */
export function activeLeafId(messages: readonly Message[]): string | null {
  const path = activePath(messages);
  return path.length ? path[path.length - 1].id : null;
}
