/**
 * How each model of the library pools (ModelLibrary.entries: models.list, Settings → Documents), read
 * from its header's few keys: general.architecture and `<arch>.pooling_type` (readGgufMetadata skips
 * the rest undecoded, within the reader's metadata budget, and stops once both are found).
 *
 * Kept by (path, size, mtime): a pooling, or null for a file that is not a readable GGUF (a
 * GgufError, which stays so while the file is unchanged). An I/O error (EMFILE, EBUSY, a network
 * drive timing out) answers null this time and is not kept: the next listing reads the file again.
 * At most POOLING_READS files are read at once.
 */
import type { Stats } from 'fs';
import { concurrencyLimit } from '../concurrency';
import { readGgufMetadata } from '../gguf/read';
import { GgufError } from '../gguf/types';
import type { Logger } from '../logging';
import type { Pooling } from '../params/docs';
import { hasPoolingKeys, headerPooling, isPoolingKey } from './facts';

/** Headers read at once. */
export const POOLING_READS = 4;
/** Poolings kept at most (a bigger library reads the rest again). */
const POOLINGS_KEPT = 2000;

export class Poolings {
  private readonly kept = new Map<string, Promise<Pooling | null>>();
  private readonly reading = concurrencyLimit(POOLING_READS);

  constructor(private readonly logger: Logger) {}

  /** How `file` pools; null when it is not a regular file or its header cannot be read. */
  of(file: string, st: Stats | undefined): Promise<Pooling | null> {
    if (!st?.isFile()) return Promise.resolve(null);
    const key = `${file}\0${st.size}\0${st.mtimeMs}`;
    const kept = this.kept.get(key);
    if (kept) return kept;
    const got: Promise<Pooling | null> = this.reading(() => readGgufMetadata(file, isPoolingKey, { complete: hasPoolingKeys })).then(
      (metadata) => headerPooling({ metadata }),
      (e: unknown) => {
        if (e instanceof GgufError) return null;
        // a passing failure: read again next time
        if (this.kept.get(key) === got) this.kept.delete(key);
        this.logger.warn(`models: the header of ${file} could not be read (${(e as Error).message}); its pooling is unknown for now`);
        return null;
      },
    );
    if (this.kept.size >= POOLINGS_KEPT) this.kept.clear();
    this.kept.set(key, got);
    return got;
  }
}
