/**
 * hub.fit: the fit verdict of a file of hub.files for this machine (remote-fit.ts remoteFit), asked
 * file by file by the hub page. Verdicts run one at a time in the order asked (each is a few Range
 * requests and two engine calls); a verdict is kept for the session per repository, revision and
 * file, and a second ask while one runs or waits joins it. A failure is kept too unless it may pass
 * (no token yet, the network, a busy hub: 429 or 5xx), so the same broken file is not fetched again and again.
 * Each verdict's header reads have remoteFit's deadline, so a hub that stalls fails that verdict
 * (hub_unreachable, not kept) and the next one in the queue starts.
 */
import { GgufError } from '../gguf/types';
import type { HubFitDTO } from '../ipc/models';
import type { HubConfig, HubClient, HubQuantFile, HubQuantGroup } from './hub';
import { HubError } from './hub';
import { remoteFit, VERDICT_WORDS, type FitEngine } from './remote-fit';

/** How long a repository's file listing serves the verdicts asked of it. */
export const FIT_LISTING_TTL_MS = 5 * 60_000;

/** Failures a later ask may not meet (a token added, the network back, the hub no longer busy): not kept. */
const PASSING: ReadonlySet<string> = new Set(['hub_unauthorized', 'hub_unreachable', 'hub_busy']);

export interface HubFitDeps {
  engine: FitEngine;
  /** the hub client as of now (a new token makes a new one) */
  hub: () => HubClient;
  /** memory kept free on every GPU (the fit margin setting) */
  marginMiB: () => number;
  /** the deadline of a verdict's header reads (default remote-fit.ts REMOTE_FIT_DEADLINE_MS): a stalled hub fails the verdict, and the queue moves on */
  deadlineMs?: number;
}

export interface HubFitRequest {
  repo: string;
  revision: string;
  /** the file's path in the repository (a split model: its first part's) */
  file: string;
}

export class HubFits {
  private readonly verdicts = new Map<string, Promise<HubFitDTO>>();
  private readonly listings = new Map<string, { at: number; groups: Promise<HubQuantGroup[]> }>();
  /** the end of the queue: each verdict starts after the one before it settled */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: HubFitDeps) {}

  /** The verdict for a file, from the session's, else queued. */
  fit(r: HubFitRequest): Promise<HubFitDTO> {
    const key = JSON.stringify([r.repo, r.revision, r.file]);
    const kept = this.verdicts.get(key);
    if (kept) return kept;
    const run = this.tail.then(() => this.judge(r));
    this.tail = run.catch(() => undefined);
    this.verdicts.set(key, run);
    run.catch((e: { code?: string }) => {
      if (PASSING.has(e?.code ?? '') && this.verdicts.get(key) === run) this.verdicts.delete(key);
    });
    return run;
  }

  /** A token was added or forgotten: what was refused may now be allowed (and the reverse). */
  forget(): void {
    this.verdicts.clear();
    this.listings.clear();
  }

  private groups(repo: string, revision: string): Promise<HubQuantGroup[]> {
    const key = JSON.stringify([repo, revision]);
    const kept = this.listings.get(key);
    if (kept && Date.now() - kept.at < FIT_LISTING_TTL_MS) return kept.groups;
    const groups = this.deps.hub().ggufFiles(repo, revision);
    this.listings.set(key, { at: Date.now(), groups });
    groups.catch(() => this.listings.get(key)?.groups === groups && this.listings.delete(key));
    return groups;
  }

  private async judge(r: HubFitRequest): Promise<HubFitDTO> {
    const model: HubQuantFile | undefined = (await this.groups(r.repo, r.revision)).flatMap((g) => g.files).find((f) => f.parts[0].path === r.file);
    if (!model) throw new HubError('hub_not_found', `${r.repo} has no GGUF model ${r.file} at ${r.revision}`);
    const hub: HubConfig = this.deps.hub().config;
    const f = await remoteFit(this.deps.engine, r.repo, model, { hub, revision: r.revision, marginMiB: this.deps.marginMiB(), ...(this.deps.deadlineMs ? { deadlineMs: this.deps.deadlineMs } : {}) }).catch((e: unknown) => {
      // a header the reader refuses is a bad file on the hub, not a bug here
      throw e instanceof GgufError ? new HubError('hub_bad_response', `${r.repo}/${r.file}: ${e.message}`, { gguf: e.code }, { cause: e }) : e;
    });
    return {
      repo: r.repo, revision: r.revision, file: r.file, name: f.name, quant: f.quant, size: f.size,
      verdict: f.verdict, words: VERDICT_WORDS[f.verdict], reason: f.reason, gpuLayers: f.gpuLayers, contextSize: f.contextSize,
      layers: f.layers, estimate: { devices: f.estimate.devices, host: f.estimate.host }, problems: f.problems, fetched: f.fetched,
    };
  }
}
