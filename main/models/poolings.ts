/**
 * What each file of the library is and how it pools (ModelLibrary.entries: models.list, Settings →
 * Documents), read from its header's few keys: general.architecture, general.type, adapter.type and
 * `<arch>.pooling_type` (readGgufMetadata skips the rest undecoded, within the reader's metadata budget,
 * and stops once the architecture and its pooling are found).
 *
 * Kept by (path, size, mtime): a role and pooling, or nulls for a file that is not a readable GGUF (a
 * GgufError, which stays so while the file is unchanged). An I/O error (EMFILE, EBUSY, a network
 * drive timing out) answers nulls this time and is not kept: the next listing reads the file again.
 * At most POOLING_READS files are read at once.
 */
import type { Stats } from 'fs';
import { concurrencyLimit } from '../concurrency';
import { readGgufMetadata } from '../gguf/read';
import { GgufError } from '../gguf/types';
import type { Logger } from '../logging';
import type { Pooling } from '../params/docs';
import type { FileRole } from '../params/adapters';
import { fileRole, hasListingKeys, headerPooling, isListingKey } from './facts';

/** A file's role and pooling (nulls: its header could not be read). */
export interface HeaderRole {
  role: FileRole | null;
  pooling: Pooling | null;
}
const UNKNOWN: HeaderRole = { role: null, pooling: null };

/** Headers read at once. */
export const POOLING_READS = 4;
/** Poolings kept at most (a bigger library reads the rest again). */
const POOLINGS_KEPT = 2000;

export class Poolings {
  private readonly kept = new Map<string, Promise<HeaderRole>>();
  private readonly reading = concurrencyLimit(POOLING_READS);

  constructor(private readonly logger: Logger) {}

  /** What `file` is and how it pools; nulls when it is not a regular file or its header cannot be read. */
  of(file: string, st: Stats | undefined): Promise<HeaderRole> {
    if (!st?.isFile()) return Promise.resolve(UNKNOWN);
    const key = `${file}\0${st.size}\0${st.mtimeMs}`;
    const kept = this.kept.get(key);
    if (kept) return kept;
    const got: Promise<HeaderRole> = this.reading(() => readGgufMetadata(file, isListingKey, { complete: hasListingKeys })).then(
      (metadata) => ({ role: fileRole({ metadata, tensors: [] }), pooling: headerPooling({ metadata }) }),
      (e: unknown) => {
        if (e instanceof GgufError) return UNKNOWN;
        // a passing failure: read again next time
        if (this.kept.get(key) === got) this.kept.delete(key);
        this.logger.warn(`models: the header of ${file} could not be read (${(e as Error).message}); what it is is unknown for now`);
        return UNKNOWN;
      },
    );
    if (this.kept.size >= POOLINGS_KEPT) this.kept.clear();
    this.kept.set(key, got);
    return got;
  }
}
