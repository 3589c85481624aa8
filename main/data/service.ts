/**
 * The Data page's work in main: importing other apps' chats (uploads, previews, imports as jobs),
 * exporting threads. Its channels are the data.* ones of the contract; each answers its own errors.
 */
import path from 'path';
import { DocFiles } from '../docs/files';
import { dataPaths } from '../paths';
import type { Logger } from '../logging';
import type { Handlers, Services } from '../services';
import type { Store } from '../store';
import { EXPORT_MAX_BYTES, exportFile } from './export-file';
import { openImport } from './formats/detect';
import { ImportJobs } from './import-job';
import type { ReaderFactory } from './import-sources';
import { Uploads } from './uploads';

export interface DataServiceDeps {
  store: Store;
  services: Services;
  /** the data folder: uploads go to <data>/imports */
  dataDir: string;
  /** opens the other apps' formats (default main/data/formats' openImport) */
  readers?: ReaderFactory;
  logger: Logger;
  /** the clock (imports' progress pace, uploads' age, exports' date) */
  now?: () => number;
  progressIntervalMs?: number;
  /** what an import awaits between conversations (tests hold it; default the next macrotask) */
  yieldTurn?: () => Promise<void>;
  /** queues the indexing of documents an import kept (the documents' service; without it they wait for the next start) */
  indexDocuments?: (refs: string[]) => void;
}

export class DataService {
  readonly uploads: Uploads;
  readonly imports: ImportJobs;
  private readonly now: () => number;
  /** the attached documents' files: a Hearth JSON export carries them, an import of one keeps them */
  private readonly files: DocFiles;

  constructor(private readonly deps: DataServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.files = new DocFiles(dataPaths(deps.dataDir).documents);
    this.uploads = new Uploads(path.join(deps.dataDir, 'imports'), deps.logger, this.now);
    this.imports = new ImportJobs({
      store: deps.store, readers: deps.readers ?? openImport, uploads: this.uploads, logger: deps.logger, now: this.now,
      progressIntervalMs: deps.progressIntervalMs, yieldTurn: deps.yieldTurn,
      emit: (p) => deps.services.emit('data.importProgress', p),
      documents: { files: this.files, index: deps.indexDocuments },
    });
    // the uploads an earlier run left
    this.uploads.sweep();
  }

  importExportChannels(): Handlers {
    return {
      'data.import.upload': (r) => this.uploads.put(r),
      'data.import.preview': (r) => this.imports.preview(r.source, r.from),
      'data.import.start': (r) => this.imports.start(r.jobId),
      'data.import.cancel': (r) => {
        this.imports.cancel(r.jobId);
        return { ok: true as const };
      },
      'data.export': (r) => exportFile(this.deps.store, r, this.now(), EXPORT_MAX_BYTES, this.files),
    };
  }

  /** Stops a running import (between conversations) and waits for it. */
  close(): Promise<void> {
    return this.imports.close();
  }
}
