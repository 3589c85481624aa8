/**
 * sqlite-vec, the SQLite extension that holds the documents' vectors (vec0 virtual tables), loaded into
 * the store's connection right after it opens (db.ts, before migrations). Where it cannot load (a
 * platform sqlite-vec does not build for, a missing file) the store still opens: `vectors` says why,
 * a warning is logged, and every vector operation of store.docs is a no-op or an empty result, so
 * documents fall back to keyword search.
 */
import type Database from 'better-sqlite3';
import { getLoadablePath } from 'sqlite-vec';
import type { Logger } from '../logging';

export interface VectorSupport {
  available: boolean;
  /** why vectors are unavailable; null when they are */
  reason: string | null;
  /** the file loaded (null when none did): another connection to the store (docs-index-worker.ts) loads the same */
  file: string | null;
}

/**
 * The extension file as the process can load it: inside a packaged Electron app require.resolve gives
 * a path inside app.asar, which dlopen cannot read; electron-builder.yml's asarUnpack puts the file in
 * app.asar.unpacked beside it.
 */
export function unpackedPath(p: string): string {
  return p.replace(/([\\/])app\.asar([\\/])/, '$1app.asar.unpacked$2');
}

/** sqlite-vec's loadable file for this platform (throws on a platform it does not support). */
export function vectorExtensionPath(): string {
  return unpackedPath(getLoadablePath());
}

/**
 * Loads sqlite-vec into `db` (from `file`, default vectorExtensionPath()). Never throws: a failure is
 * returned (and logged) as unavailable.
 */
export function loadVectorExtension(db: Database.Database, logger: Logger, file?: string): VectorSupport {
  try {
    const loaded = file ?? vectorExtensionPath();
    db.loadExtension(loaded);
    const version = db.prepare('SELECT vec_version()').pluck().get() as string;
    logger.debug('store: sqlite-vec loaded', { version });
    return { available: true, reason: null, file: loaded };
  } catch (e) {
    const reason = `sqlite-vec could not be loaded: ${(e as Error).message}`;
    logger.warn('store: vector search unavailable, documents use keyword search only', { reason });
    return { available: false, reason, file: null };
  }
}
