/**
 * The references the stored messages' attachments make (an image the app stored is named by its hash),
 * read in one query: SQLite's json_each over the messages' attachments column, every thread at once.
 * The image sweep (main/chat/image-sweep.ts) keeps every file one of them names.
 */
import type Database from 'better-sqlite3';
import type { Attachment } from './types';

/**
 * Every distinct `ref` of an attachment object in the messages table. A column that is not JSON, an
 * element that is not an object or has no string ref, is skipped (CASE short-circuits, so json_each
 * and json_extract never see what they would fail on).
 */
const REFS_SQL = `
  SELECT DISTINCT CASE WHEN j.type = 'object' THEN json_extract(j.value, '$.ref') END AS ref
  FROM messages m, json_each(CASE WHEN json_valid(m.attachments) THEN m.attachments ELSE '[]' END) j
  WHERE m.attachments IS NOT NULL`;

export function storedAttachmentRefs(db: Database.Database): Set<string> {
  const refs = new Set<string>();
  for (const row of db.prepare(REFS_SQL).all() as { ref: unknown }[]) if (typeof row.ref === 'string') refs.add(row.ref);
  return refs;
}

/** The refs of these messages' attachments (a temporary chat's, kept in memory). */
export function attachmentRefsOf(messages: Iterable<{ attachments: readonly Attachment[] }>): Set<string> {
  const refs = new Set<string>();
  for (const m of messages) for (const a of m.attachments) refs.add(a.ref);
  return refs;
}
