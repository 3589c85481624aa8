/**
 * What the documents' service reads across the documents' tables beside DocsStore's own calls: the
 * documents left unfinished (indexing to pick up at start), those lacking vectors of a space, the
 * embedded chunks that could hold a special token's text, a
 * document's name and its folder files' paths, and the totals Settings → Documents shows.
 */
import path from 'path';
import type Database from 'better-sqlite3';
import { type ChunkDbRow, type ChunkToEmbed, toChunkToEmbed } from './docs-vector-shapes';

export interface UnfinishedDoc {
  id: number;
  hash: string;
  name: string;
  note: string | null;
}

export class DocsReports {
  private readonly stmts;

  constructor(db: Database.Database, private readonly vectorCount: (spaceId: number) => number) {
    // a document's name: its newest live link's
    const name = `(SELECT l.name FROM doc_links l WHERE l.doc_id = d.id ORDER BY l.removed_at IS NOT NULL, l.added_at DESC, l.id DESC LIMIT 1)`;
    this.stmts = {
      unfinished: db.prepare(`SELECT d.id, d.hash, ${name} AS name, d.note FROM documents d WHERE d.state IN ('queued', 'extracting', 'embedding') ORDER BY d.id`),
      // the count is an index range of doc_embedded (space_id, doc_id) per document, no vec0 scan
      missingVectors: db.prepare(`SELECT d.id, d.hash, ${name} AS name, d.note FROM documents d
        WHERE d.state IN ('ready', 'embedding') AND d.chunk_count > 0
          AND (SELECT count(*) FROM doc_embedded e WHERE e.space_id = ? AND e.doc_id = d.id) < d.chunk_count ORDER BY d.id`),
      name: db.prepare(`SELECT ${name} AS name FROM documents d WHERE d.id = ?`).pluck(),
      folderPaths: db.prepare(`SELECT f.path, l.rel_path FROM doc_links l JOIN knowledge_folders f ON f.id = l.folder_id WHERE l.doc_id = ? AND l.removed_at IS NULL`),
      totals: db.prepare(`SELECT count(*) AS documents, coalesce(sum(chunk_count), 0) AS chunks FROM documents`),
      // a special token's text has a < or a [ in it (</s>, <|im_end|>, [CLS], <start_of_turn>): other chunks are passed over
      markup: db.prepare(`SELECT c.id, c.doc_id, c.text, c.heading FROM doc_embedded e JOIN doc_chunks c ON c.id = e.chunk_id
        WHERE e.space_id = ? AND e.chunk_id > ? AND e.chunk_id <= ?
          AND (instr(c.text, '<') OR instr(c.text, '[') OR instr(coalesce(c.heading, ''), '<') OR instr(coalesce(c.heading, ''), '['))
        ORDER BY e.chunk_id LIMIT ?`),
    };
  }

  /** Documents whose indexing did not finish (Hearth closed meanwhile), oldest first. */
  unfinished(): UnfinishedDoc[] {
    return (this.stmts.unfinished.all() as UnfinishedDoc[]).map((d) => ({ ...d, name: d.name ?? d.hash.slice(0, 12) }));
  }

  /** Indexed documents some of whose chunks lack vectors of `spaceId` (one query). */
  documentsMissingVectors(spaceId: number): UnfinishedDoc[] {
    return (this.stmts.missingVectors.all(spaceId) as UnfinishedDoc[]).map((d) => ({ ...d, name: d.name ?? d.hash.slice(0, 12) }));
  }

  /**
   * Chunks with a vector in `spaceId` whose text or heading could hold a special token's text (a < or a
   * [ in it), with ids in (afterId, upTo], in id order, at most `limit` (the window bounds the rows read).
   */
  embeddedWithMarkup(spaceId: number, afterId: number, upTo: number, limit: number): ChunkToEmbed[] {
    return (this.stmts.markup.all(spaceId, afterId, upTo, limit) as ChunkDbRow[]).map(toChunkToEmbed);
  }

  nameOf(docId: number): string | null {
    return (this.stmts.name.get(docId) as string | null | undefined) ?? null;
  }

  /** The files in knowledge folders that hold a document (absolute paths). */
  folderPathsOf(docId: number): string[] {
    return (this.stmts.folderPaths.all(docId) as { path: string; rel_path: string }[]).map((r) => path.join(r.path, ...r.rel_path.split('/')));
  }

  totals(spaceId: number | null): { documents: number; chunks: number; embedded: number } {
    const t = this.stmts.totals.get() as { documents: number; chunks: number };
    return { ...t, embedded: spaceId === null ? 0 : this.vectorCount(spaceId) };
  }
}
