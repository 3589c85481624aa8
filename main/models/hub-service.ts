/**
 * The hub.*, downloads.* and library.* channels: Hugging Face search and a repository's GGUF files
 * (HubClient), fit verdicts for those files before they are downloaded (hub-fit.ts), the curated
 * recommendations (recommended.ts), the download manager's queue (add, pause, resume, cancel, list) with its events
 * forwarded as `downloads.progress` and `downloads.changed`, discovery of the models other apps keep
 * (one run at a time, bounded by DISCOVERY_LIMITS), and references to what discovery found.
 */
import path from 'path';
import { IpcError } from '../ipc/contract';
import type { Logger } from '../logging';
import type { Services } from '../services';
import { discover, type DiscoverEnv, type Discovery, type PeerApp } from './discover';
import type { DownloadManager } from './downloads';
import type { HubClient } from './hub';
import type { FitEngine } from './remote-fit';
import { HubFits } from './hub-fit';
import type { ModelLibrary } from './library';
import { loadRecommended } from './recommended';

export interface HubServiceDeps {
  services: Services;
  library: ModelLibrary;
  downloads: DownloadManager;
  /** the hub client as of now (a new token makes a new one) */
  hub: () => HubClient;
  /** the engine calls a fit verdict makes (EngineClient) */
  fitEngine: FitEngine;
  /** memory kept free on every GPU (the fit margin setting) */
  fitMarginMiB: () => number;
  /** where discovery looks (the OS's folders under this home) */
  discoverEnv: () => DiscoverEnv;
  /** resources/recommended.json (recommended.ts's default when not given; tests give another) */
  recommendedFile?: string;
  /** the library changed (a reference added or removed, a download finished): push models.changed */
  onLibraryChanged: () => void;
  logger: Logger;
}

export class HubService {
  /** the discovery under way: callers meanwhile share it */
  private discovering: Promise<Discovery> | null = null;
  /** model files the last discoveries found, who keeps each and the name that app gives it: library.addReference takes only these */
  private readonly found = new Map<string, { app: PeerApp; name: string }>();
  private readonly offs: (() => void)[] = [];
  /** hub.fit's verdicts: queued one at a time, kept for the session */
  private readonly fits: HubFits;

  constructor(private readonly deps: HubServiceDeps) {
    this.fits = new HubFits({ engine: deps.fitEngine, hub: deps.hub, marginMiB: deps.fitMarginMiB });
  }

  /** The token changed: verdicts refused (or allowed) with the old one are asked again. */
  tokenChanged(): void {
    this.fits.forget();
  }

  /** The models discovery finds, one run at a time. */
  private discover(): Promise<Discovery> {
    if (!this.discovering) {
      const run = discover(this.deps.discoverEnv()).then((d) => {
        for (const m of d.models) for (const l of m.locations) this.found.set(path.resolve(l.path), { app: l.app, name: l.name });
        return d;
      });
      this.discovering = run;
      const clear = () => {
        if (this.discovering === run) this.discovering = null;
      };
      run.then(clear, clear);
    }
    return this.discovering;
  }

  /** Forwards the download manager's events to every window: progress as it comes (the manager spaces it), the list on every change. */
  private forward(): void {
    const { services, downloads, library, logger } = this.deps;
    this.offs.push(
      downloads.on((e) => {
        if (e.type === 'progress') services.emit('downloads.progress', { id: e.id, bytes: e.bytes, size: e.size, speed: e.speed, etaSeconds: e.etaSeconds });
        else if (e.type === 'state' || e.type === 'removed') services.emit('downloads.changed', { downloads: downloads.list() });
        else if (e.type === 'done') {
          services.emit('downloads.changed', { downloads: downloads.list(), done: { id: e.id, path: e.path } });
          // the folder's watcher would see the new file too; a check now makes models.changed follow at once
          library.folder.listing().catch((err: Error) => logger.warn(`models folder: ${err.message}`));
        }
      }),
    );
  }

  register(): void {
    const { services, downloads, library } = this.deps;
    this.forward();
    services.register({
      'hub.search': async (r) => ({ models: await this.deps.hub().search(r) }),
      'hub.recommended': async () => ({ models: await loadRecommended(this.deps.recommendedFile) }),
      'hub.files': async (r) => ({ repo: r.repo, revision: r.revision, groups: await this.deps.hub().ggufFiles(r.repo, r.revision) }),
      'hub.fit': (r) => this.fits.fit(r),
      'downloads.add': (r) => downloads.add(r),
      'downloads.pause': (r) => downloads.pause(r.id),
      'downloads.resume': (r) => downloads.resume(r.id),
      'downloads.cancel': async (r) => {
        await downloads.cancel(r.id);
        return { ok: true as const };
      },
      'downloads.list': () => downloads.list(),
      'library.discover': async () => {
        const d = await this.discover();
        const referenced = new Set((await library.entries()).filter((e) => e.origin === 'reference').map((e) => e.path));
        return { ...d, models: d.models.map((m) => ({ ...m, inLibrary: m.locations.some((l) => referenced.has(path.resolve(l.path))) })) };
      },
      'library.addReference': async (r) => {
        const file = path.resolve(r.path);
        const found = this.found.get(file);
        // only a file discovery found: a page cannot make main read any file it names
        if (!found) throw new IpcError('model_unknown', 'this file was not found by library.discover: run it first, then add one of its models');
        // named as the page showed it (the app's own name for it: LM Studio's publisher/repo/file, Ollama's tag), unless the page names it
        const entry = await library.addReference(file, { source: found.app, name: r.name ?? found.name });
        this.deps.onLibraryChanged();
        return entry;
      },
      'library.removeReference': (r) => {
        const removed = library.removeReference(r.path);
        if (removed) this.deps.onLibraryChanged();
        return { removed };
      },
    });
  }

  close(): void {
    for (const off of this.offs) off();
  }
}
