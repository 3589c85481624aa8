/**
 * The store's file in the data folder and the files SQLite keeps beside it (WAL mode): the one list the
 * paths, a restore, a move and an erase derive from. No node imports: the renderer imports erase-scope.ts,
 * which reads this.
 */
export const DATABASE_FILE = 'hearth.db';
/** what SQLite adds to the database's name for its write-ahead log and its shared-memory index */
export const DATABASE_SIDE_SUFFIXES = ['-wal', '-shm'] as const;
/** hearth.db and its WAL files, as the data folder's entries */
export const DATABASE_FILES: readonly string[] = [DATABASE_FILE, ...DATABASE_SIDE_SUFFIXES.map((s) => `${DATABASE_FILE}${s}`)];
