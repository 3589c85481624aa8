/**
 * Versioned schema migrations. Append-only: never edit a migration that has shipped; add a new one.
 * The applied versions are recorded in the `schema_version` table (and mirrored in PRAGMA user_version).
 * An existing database is backed up before any of them runs, and restored if they fail (update-backup.ts).
 */
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  up(db: Database.Database): void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema: assistants, threads, messages, settings',
    up(db) {
      db.exec(`
        CREATE TABLE schema_version (
          version    INTEGER PRIMARY KEY,
          name       TEXT NOT NULL,
          applied_at INTEGER NOT NULL
        );
        CREATE TABLE assistants (
          seq          INTEGER PRIMARY KEY,
          id           TEXT NOT NULL UNIQUE,
          name         TEXT NOT NULL,
          avatar       TEXT,
          description  TEXT NOT NULL DEFAULT '',
          instructions TEXT NOT NULL DEFAULT '',
          sampling     TEXT NOT NULL DEFAULT '{}',
          model        TEXT,
          created_at   INTEGER NOT NULL,
          updated_at   INTEGER NOT NULL
        );
        CREATE TABLE threads (
          seq          INTEGER PRIMARY KEY,
          id           TEXT NOT NULL UNIQUE,
          title        TEXT NOT NULL DEFAULT '',
          assistant_id TEXT REFERENCES assistants(id) ON DELETE SET NULL,
          model        TEXT,
          pinned       INTEGER NOT NULL DEFAULT 0,
          archived     INTEGER NOT NULL DEFAULT 0,
          instructions TEXT,
          sampling     TEXT NOT NULL DEFAULT '{}',
          load         TEXT NOT NULL DEFAULT '{}',
          created_at   INTEGER NOT NULL,
          updated_at   INTEGER NOT NULL
        );
        CREATE INDEX threads_list ON threads(archived, pinned, updated_at);
        CREATE INDEX threads_assistant ON threads(assistant_id);
        CREATE TABLE messages (
          seq          INTEGER PRIMARY KEY,
          id           TEXT NOT NULL UNIQUE,
          thread_id    TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
          role         TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
          content      TEXT NOT NULL DEFAULT '',
          reasoning    TEXT NOT NULL DEFAULT '',
          tool_calls   TEXT,
          tool_call_id TEXT,
          attachments  TEXT,
          status       TEXT NOT NULL CHECK (status IN ('streaming', 'done', 'error', 'interrupted', 'aborted')),
          error        TEXT,
          model        TEXT,
          metrics      TEXT,
          created_at   INTEGER NOT NULL,
          updated_at   INTEGER NOT NULL
        );
        CREATE INDEX messages_thread ON messages(thread_id, created_at);
        CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming';
        CREATE TABLE settings (
          key        TEXT PRIMARY KEY,
          value      TEXT NOT NULL,
          updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE model_settings (
          model      TEXT PRIMARY KEY,
          value      TEXT NOT NULL,
          updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    version: 2,
    name: 'alternatives: parent link and selected flag on messages',
    up(db) {
      db.exec(`
        ALTER TABLE messages ADD COLUMN parent_id TEXT REFERENCES messages(id) ON DELETE CASCADE;
        ALTER TABLE messages ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
        WITH ordered AS (
          SELECT seq, LAG(id) OVER (PARTITION BY thread_id ORDER BY created_at, seq) AS prev FROM messages
        )
        UPDATE messages SET parent_id = ordered.prev
          FROM ordered WHERE ordered.seq = messages.seq AND ordered.prev IS NOT NULL;
        CREATE INDEX messages_parent ON messages(parent_id, thread_id);
      `);
    },
  },
  {
    version: 3,
    name: 'full-text search over message content and thread titles',
    up(db) {
      // External-content FTS5 tables kept in sync by triggers. Replies are indexed once they stop streaming,
      // so a streaming flush is one small UPDATE that touches no index. `thread_key` (hex of the thread id, one token)
      // lets a thread-filtered search intersect inside the index instead of scanning every match.
      db.exec(`
        ALTER TABLE messages ADD COLUMN thread_key TEXT GENERATED ALWAYS AS (hex(thread_id)) VIRTUAL;
        CREATE VIRTUAL TABLE messages_fts USING fts5(
          content, thread_key, content = 'messages', content_rowid = 'seq', tokenize = 'unicode61 remove_diacritics 2');
        CREATE VIRTUAL TABLE threads_fts USING fts5(
          title, content = 'threads', content_rowid = 'seq', tokenize = 'unicode61 remove_diacritics 2');

        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.status <> 'streaming' BEGIN
          INSERT INTO messages_fts(rowid, content, thread_key) VALUES (new.seq, new.content, hex(new.thread_id));
        END;
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.status <> 'streaming' BEGIN
          INSERT INTO messages_fts(messages_fts, rowid, content, thread_key)
            VALUES ('delete', old.seq, old.content, hex(old.thread_id));
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages
          WHEN old.status <> 'streaming' OR new.status <> 'streaming' BEGIN
          INSERT INTO messages_fts(messages_fts, rowid, content, thread_key)
            SELECT 'delete', old.seq, old.content, hex(old.thread_id) WHERE old.status <> 'streaming';
          INSERT INTO messages_fts(rowid, content, thread_key)
            SELECT new.seq, new.content, hex(new.thread_id) WHERE new.status <> 'streaming';
        END;

        CREATE TRIGGER threads_fts_insert AFTER INSERT ON threads BEGIN
          INSERT INTO threads_fts(rowid, title) VALUES (new.seq, new.title);
        END;
        CREATE TRIGGER threads_fts_delete AFTER DELETE ON threads BEGIN
          INSERT INTO threads_fts(threads_fts, rowid, title) VALUES ('delete', old.seq, old.title);
        END;
        CREATE TRIGGER threads_fts_update AFTER UPDATE OF title ON threads BEGIN
          INSERT INTO threads_fts(threads_fts, rowid, title) VALUES ('delete', old.seq, old.title);
          INSERT INTO threads_fts(rowid, title) VALUES (new.seq, new.title);
        END;

        INSERT INTO messages_fts(rowid, content, thread_key)
          SELECT seq, content, hex(thread_id) FROM messages WHERE status <> 'streaming';
        INSERT INTO threads_fts(threads_fts) VALUES ('rebuild');
      `);
    },
  },
  {
    version: 4,
    name: 'why a reply ended: finish_reason on messages',
    up(db) {
      // no CHECK: a value a later version adds must not make this version's writes fail; reads map
      // an unknown value to null (messages.ts)
      db.exec(`ALTER TABLE messages ADD COLUMN finish_reason TEXT;`);
    },
  },
  {
    version: 5,
    name: 'model downloads from the hub, kept so they resume after a restart',
    up(db) {
      // state: no CHECK, as finish_reason (a later version's state must not fail this version's writes;
      // reads skip a row that does not parse, main/store/downloads.ts)
      db.exec(`
        CREATE TABLE downloads (
          seq        INTEGER PRIMARY KEY,
          id         TEXT NOT NULL UNIQUE,
          repo       TEXT NOT NULL,
          revision   TEXT NOT NULL,
          file       TEXT NOT NULL,
          target     TEXT NOT NULL,
          size       INTEGER NOT NULL,
          sha256     TEXT NOT NULL,
          state      TEXT NOT NULL,
          error      TEXT,
          created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL
        );
        CREATE INDEX downloads_state ON downloads(state);
      `);
    },
  },
  {
    version: 6,
    name: 'model references: model files outside the models folder, in the library without a copy',
    up(db) {
      // source: who keeps the file (a discovered app, or a file the user added); no CHECK, like finish_reason
      db.exec(`
        CREATE TABLE model_refs (
          path       TEXT PRIMARY KEY,
          name       TEXT NOT NULL,
          source     TEXT NOT NULL,
          added_at   INTEGER NOT NULL
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    version: 7,
    name: 'tools: the tools an assistant\'s chats are offered, and those allowed per thread',
    up(db) {
      // JSON (main/params/tools.ts AssistantTools); NULL: every enabled tool
      db.exec(`ALTER TABLE assistants ADD COLUMN tools TEXT;`);
      // the tools the user allowed for a whole thread ("Allow for this thread"), by tool key
      db.exec(`
        CREATE TABLE tool_grants (
          thread_id  TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
          tool       TEXT NOT NULL,
          granted_at INTEGER NOT NULL,
          PRIMARY KEY (thread_id, tool)
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    version: 8,
    name: 'documents: files attached to threads or in an assistant\'s knowledge folders, their chunks, search and embedding spaces',
    up(db) {
      // documents are stored once per content (hash: sha256 of the file's bytes) and referred to by links: a
      // thread's attachment, or a file of a knowledge folder. state: no CHECK, as finish_reason (main/params/docs.ts
      // DOC_STATES; reads map a state this version does not know to 'failed'). Ids are AUTOINCREMENT: a deleted
      // chunk's or space's id is never reused, so a vector left behind (written where sqlite-vec was unavailable
      // to delete it) can never stand for another chunk. An embedding space's vectors live in a vec0 table
      // `doc_vec_<space id>` made on demand (main/store/docs-vectors.ts), not here: migrations run without sqlite-vec;
      // which chunks have a vector in a space is kept in plain SQLite too (doc_embedded), so counting is an index
      // range, not a vec0 scan. stored_at: when the content was last stored for a message (garbage's grace).
      db.exec(`
        CREATE TABLE documents (
          id          INTEGER PRIMARY KEY AUTOINCREMENT,
          hash        TEXT NOT NULL UNIQUE,
          kind        TEXT,
          size        INTEGER NOT NULL,
          state       TEXT NOT NULL,
          error       TEXT,
          note        TEXT,
          pages       INTEGER,
          chars       INTEGER,
          chunk_count INTEGER NOT NULL DEFAULT 0,
          tokens      INTEGER NOT NULL DEFAULT 0,
          created_at  INTEGER NOT NULL,
          stored_at   INTEGER NOT NULL,
          indexed_at  INTEGER
        );
        CREATE TABLE doc_chunks (
          id      INTEGER PRIMARY KEY AUTOINCREMENT,
          doc_id  INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
          seq     INTEGER NOT NULL,
          text    TEXT NOT NULL,
          page    INTEGER,
          heading TEXT,
          tokens  INTEGER NOT NULL,
          UNIQUE (doc_id, seq)
        );
        CREATE VIRTUAL TABLE doc_chunks_fts USING fts5(
          text, heading, content = 'doc_chunks', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2');
        CREATE TRIGGER doc_chunks_fts_insert AFTER INSERT ON doc_chunks BEGIN
          INSERT INTO doc_chunks_fts(rowid, text, heading) VALUES (new.id, new.text, coalesce(new.heading, ''));
        END;
        CREATE TRIGGER doc_chunks_fts_delete AFTER DELETE ON doc_chunks BEGIN
          INSERT INTO doc_chunks_fts(doc_chunks_fts, rowid, text, heading) VALUES ('delete', old.id, old.text, coalesce(old.heading, ''));
        END;
        CREATE TRIGGER doc_chunks_fts_update AFTER UPDATE OF text, heading ON doc_chunks BEGIN
          INSERT INTO doc_chunks_fts(doc_chunks_fts, rowid, text, heading) VALUES ('delete', old.id, old.text, coalesce(old.heading, ''));
          INSERT INTO doc_chunks_fts(rowid, text, heading) VALUES (new.id, new.text, coalesce(new.heading, ''));
        END;

        CREATE TABLE knowledge_folders (
          id           INTEGER PRIMARY KEY,
          assistant_id TEXT NOT NULL REFERENCES assistants(id) ON DELETE CASCADE,
          path         TEXT NOT NULL,
          added_at     INTEGER NOT NULL,
          scanned_at   INTEGER,
          UNIQUE (assistant_id, path)
        );
        -- thread_id: no foreign key, a temporary chat's thread lives in memory (collectGarbage drops the links of
        -- threads gone); rel_path: a folder file's path under its folder ('/'-separated)
        CREATE TABLE doc_links (
          id            INTEGER PRIMARY KEY,
          doc_id        INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
          thread_id     TEXT,
          folder_id     INTEGER REFERENCES knowledge_folders(id) ON DELETE CASCADE,
          name          TEXT NOT NULL,
          rel_path      TEXT,
          file_size     INTEGER,
          file_mtime_ms INTEGER,
          added_at      INTEGER NOT NULL,
          removed_at    INTEGER,
          CHECK ((thread_id IS NULL) <> (folder_id IS NULL)),
          CHECK ((folder_id IS NULL) = (rel_path IS NULL)),
          UNIQUE (thread_id, doc_id),
          UNIQUE (folder_id, rel_path)
        );
        CREATE INDEX doc_links_doc ON doc_links(doc_id);

        CREATE TABLE embedding_spaces (
          id         INTEGER PRIMARY KEY AUTOINCREMENT,
          model_key  TEXT NOT NULL UNIQUE,
          model_name TEXT,
          dims       INTEGER NOT NULL,
          created_at INTEGER NOT NULL
        );
        -- the chunks with a vector in a space's vec0 table (written with it by putVectors)
        CREATE TABLE doc_embedded (
          space_id INTEGER NOT NULL REFERENCES embedding_spaces(id) ON DELETE CASCADE,
          chunk_id INTEGER NOT NULL REFERENCES doc_chunks(id) ON DELETE CASCADE,
          doc_id   INTEGER NOT NULL,
          PRIMARY KEY (space_id, chunk_id)
        ) WITHOUT ROWID;
        CREATE INDEX doc_embedded_doc ON doc_embedded(space_id, doc_id);
        CREATE INDEX doc_embedded_chunk ON doc_embedded(chunk_id);

        -- the sources a reply was given (JSON)
        ALTER TABLE messages ADD COLUMN sources TEXT;
      `);
    },
  },
  {
    version: 9,
    name: 'remote providers: the providers a thread has sent messages to',
    up(db) {
      // JSON: the names of the remote providers the thread's messages went to (NULL: none; main/providers)
      db.exec(`ALTER TABLE threads ADD COLUMN remote_sent TEXT;`);
    },
  },
  {
    version: 10,
    name: 'imports: where an imported thread came from',
    up(db) {
      // a conversation of another app's export (its format and id there) and the thread it became: a re-import of it
      // is skipped; deleting the thread forgets it (it may be imported again)
      db.exec(`
        CREATE TABLE imported_threads (
          format    TEXT NOT NULL,
          source_id TEXT NOT NULL,
          thread_id TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
          PRIMARY KEY (format, source_id)
        ) WITHOUT ROWID;
        CREATE INDEX imported_threads_thread ON imported_threads(thread_id);
      `);
    },
  },
  {
    version: 11,
    name: "documents: the spaces whose vectors read special-token text as that token",
    up(db) {
      // a space made before special-token text in the chunks was embedded as text ("</s>" read as the text it is)
      // has its chunks that hold such text embedded again (main/docs/indexer.ts): those with ids in
      // (special_from, special_to], the chunks there were then; special_from moves on as the pass goes, and both
      // are NULL once it is done, as for every space made from here on
      db.exec(`
        ALTER TABLE embedding_spaces ADD COLUMN special_from INTEGER;
        ALTER TABLE embedding_spaces ADD COLUMN special_to INTEGER;
        UPDATE embedding_spaces SET special_from = 0, special_to = coalesce((SELECT max(id) FROM doc_chunks), 0);
      `);
    },
  },
];

/** The version a list of migrations ends at. */
export function latestOf(migrations: readonly Migration[]): number {
  return migrations[migrations.length - 1].version;
}

export const LATEST_VERSION = latestOf(MIGRATIONS);

/** The version recorded in the database: 0 for an empty database, null when it is not a Hearth database. */
export function readSchemaVersion(db: Database.Database): number | null {
  const hasTable = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`).get();
  if (!hasTable) {
    const other = db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'`).get() as { n: number };
    return other.n === 0 ? 0 : null;
  }
  const row = db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null };
  return row.v ?? 0;
}

/** Applies migrations after `from` up to `target` (default: latest). The caller wraps this in a transaction. */
export function applyMigrations(db: Database.Database, from: number, now: number, target = LATEST_VERSION, migrations: readonly Migration[] = MIGRATIONS): Migration[] {
  const pending = migrations.filter((m) => m.version > from && m.version <= target);
  const record = () => db.prepare('INSERT INTO schema_version(version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of pending) {
    m.up(db);
    record().run(m.version, m.name, now);
  }
  return pending;
}
