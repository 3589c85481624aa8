/**
 * hearth pull OWNER/REPO[:QUANT] and hearth import FILE [--copy|--move|--link]: models from the hub
 * through the download manager (main/models/downloads.ts), and files from the disk through the
 * library's checks (main/models/import.ts). Progress goes to stderr: a bar redrawn in place on a
 * terminal, plain lines otherwise; the result goes to stdout (JSON with --json).
 */
import fs from 'fs';
import path from 'path';
import type { EngineClient } from '../engine/client';
import type { Logger } from '../logging';
import { DownloadManager, stoppedByError, type DownloadView } from '../models/downloads';
import { netFetch } from '../models/net';
import { checkInput, HubClient, hubConfigFromEnv, repoIdSchema, type HubQuantFile } from '../models/hub';
import { importModel, type ImportMode } from '../models/import';
import { ModelLibrary } from '../models/library';
import { bestFit, remoteFit, VERDICT_WORDS, type RemoteFit } from '../models/remote-fit';
import type { DataPaths } from '../paths';
import { Store } from '../store';
import { UsageError } from './args';
import { TokenVault } from '../settings/token';

const MiB = 2 ** 20;
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

/** Progress on stderr: a bar redrawn in place on a terminal, a line per tenth otherwise. */
export function progressPrinter(label: string, out: NodeJS.WriteStream = process.stderr): { update(bytes: number, total: number, speed?: number): void; end(): void } {
  const tty = out.isTTY === true;
  let lastTenth = -1;
  let drawn = false;
  return {
    update(bytes, total, speed = 0) {
      const frac = total > 0 ? Math.min(1, bytes / total) : 1;
      const pct = `${(frac * 100).toFixed(0)}%`.padStart(4);
      const rate = speed > 0 ? `  ${mib(speed)}/s` : '';
      if (tty) {
        const width = 30;
        const full = Math.round(frac * width);
        out.write(`\r${label} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${pct} ${mib(bytes)} / ${mib(total)}${rate}\x1b[K`);
        drawn = true;
      } else {
        const tenth = Math.floor(frac * 10);
        if (tenth === lastTenth) return;
        lastTenth = tenth;
        out.write(`${label}: ${pct.trim()} ${mib(bytes)} / ${mib(total)}\n`);
      }
    },
    end() {
      if (tty && drawn) out.write('\n');
    },
  };
}

/** `OWNER/REPO[:QUANT]` */
export function parsePullSpec(spec: string): { repo: string; quant: string | null } {
  const i = spec.indexOf(':');
  const repo = i < 0 ? spec : spec.slice(0, i);
  const quant = i < 0 ? null : spec.slice(i + 1);
  if (!repoIdSchema.safeParse(repo).success) throw new UsageError(`${JSON.stringify(repo)} is not a repository: give OWNER/REPO[:QUANT], as in bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M`);
  if (quant === '') throw new UsageError(`${spec} names no quantization after the colon: give OWNER/REPO or OWNER/REPO:QUANT`);
  return { repo, quant };
}

export interface PullContext {
  engine: EngineClient;
  paths: DataPaths;
  logger: Logger;
  json: boolean;
}

function describeFit(f: RemoteFit): string {
  return `${f.name}: ${VERDICT_WORDS[f.verdict]} (${mib(f.size)}; header ${mib(f.fetched.bytes)} fetched)`;
}

/** hearth pull: picks the model (named, or the best that fits), downloads it, prints where it went. */
export async function pull(spec: string, ctx: PullContext): Promise<number> {
  const { repo, quant } = parsePullSpec(spec);
  // the proxy setting (else the environment's, net.ts)
  const settings = Store.open(ctx.paths.database, { logger: ctx.logger });
  const proxy = settings.settings.get('proxy');
  settings.close();
  // the token saved in the app (Settings → Models), else HF_TOKEN, as the app uses them
  const tokens = new TokenVault(ctx.paths.root, { env: process.env, logger: ctx.logger });
  if (tokens.lockedHere() && !process.env.HF_TOKEN?.trim()) {
    process.stderr.write('note: the Hugging Face token saved in the app is kept with the OS keychain, which the hearth command cannot read; set HF_TOKEN for gated repositories\n');
  }
  const hub = { ...hubConfigFromEnv(), token: tokens.token(), fetch: netFetch({ proxy: () => proxy }) };
  const models = (await new HubClient(hub).ggufFiles(checkInput(repoIdSchema, repo, 'repository'))).flatMap((g) => g.files).filter((m) => !m.projector);
  if (models.length === 0) throw new UsageError(`${repo} has no GGUF model files`);
  const note = (s: string) => process.stderr.write(`${s}\n`);

  let model: HubQuantFile;
  let fit: RemoteFit | null = null;
  if (quant !== null) {
    const named = models.filter((m) => m.quant?.toUpperCase() === quant.toUpperCase() || m.name === quant);
    if (named.length === 0) {
      const quants = [...new Set(models.map((m) => m.quant ?? m.name))].join(', ');
      throw new UsageError(`${repo} has no ${quant}: its models are ${quants}`);
    }
    if (named.length > 1) throw new UsageError(`${repo} has ${named.length} models for ${quant}: name one of ${named.map((m) => m.name).join(', ')}`);
    model = named[0];
    fit = await remoteFit(ctx.engine, repo, model, { hub });
    note(`${describeFit(fit)}`);
    if (fit.verdict === 'does-not-fit') note(`hearth: note: ${model.name} does not fit this machine's memory (${fit.problems[0] ?? fit.reason}); downloading it as asked`);
  } else {
    const { best, tried } = await bestFit(ctx.engine, repo, models, { hub });
    for (const t of tried) note(describeFit(t));
    if (!best) throw new UsageError(`none of ${repo}'s models fits this machine's memory: name one with ${repo}:QUANT to download it anyway`);
    model = models.find((m) => m.name === best.name)!;
    fit = best;
    note(`picked ${best.name} (${best.quant ?? 'no quantization in its name'}): ${VERDICT_WORDS[best.verdict]}`);
  }
  const unverifiable = model.parts.find((p) => p.sha256 === null);
  if (unverifiable) throw new UsageError(`${repo}/${unverifiable.path} has no SHA-256 on the hub (not stored with LFS): Hearth downloads only files it can verify`);

  const targets = model.parts.map((p) => path.join(ctx.paths.models, path.posix.basename(p.path)));
  const result = (state: 'downloaded' | 'present') => {
    const out = { repo, name: model.name, quant: model.quant, size: model.size, path: targets[0], files: targets, state, verdict: fit?.verdict ?? null, sha256: model.parts.map((p) => p.sha256) };
    if (ctx.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    else process.stdout.write(`${state === 'present' ? 'already in the models folder' : 'downloaded and verified (SHA-256)'}: ${targets[0]}\n`);
    return 0;
  };
  if (targets.every((t) => fs.existsSync(t))) return result('present');

  const store = Store.open(ctx.paths.database, { logger: ctx.logger });
  const dm = new DownloadManager({ downloads: store.downloads, modelsDir: ctx.paths.models, hub, logger: ctx.logger });
  const bar = progressPrinter(model.name);
  try {
    const mine = (file: string) => model.parts.some((p) => p.path === file);
    await dm.restore((rec) => rec.repo === repo && mine(rec.file));
    const ids: string[] = [];
    for (let i = 0; i < model.parts.length; i++) {
      if (fs.existsSync(targets[i])) continue;
      const p = model.parts[i];
      const existing = dm.list().find((d) => d.repo === repo && d.file === p.path);
      if (existing) {
        if (existing.bytes > 0) note(`resuming ${path.basename(existing.target)} at byte ${existing.bytes} of ${existing.size}`);
        ids.push(dm.resume(existing.id).id);
      } else ids.push(dm.add({ repo, file: p.path, sha256: p.sha256!, size: p.size }).id);
    }
    const views = new Map<string, DownloadView>(ids.map((id) => [id, dm.get(id)!]));
    const presentBytes = targets.filter((t) => fs.existsSync(t)).reduce((s, t) => s + fs.statSync(t).size, 0);
    const outcome = await new Promise<'done' | 'paused' | Error>((resolve) => {
      const left = new Set(ids);
      const onSigint = () => resolve('paused');
      process.once('SIGINT', onSigint);
      const off = dm.on((e) => {
        if (e.type === 'progress' && views.has(e.id)) {
          views.set(e.id, { ...views.get(e.id)!, bytes: e.bytes, speed: e.speed });
          const bytes = presentBytes + [...views.values()].reduce((s, v) => s + v.bytes, 0);
          bar.update(bytes, model.size, [...views.values()].reduce((s, v) => s + v.speed, 0));
        } else if (e.type === 'done' && left.delete(e.id) && left.size === 0) {
          finish('done');
        } else if (e.type === 'state' && views.has(e.download.id) && stoppedByError(e.download)) {
          finish(new Error(`${e.download.file}: ${e.download.error?.message ?? 'failed'} [${e.download.error?.code ?? 'hub_unreachable'}]`));
        }
      });
      function finish(r: 'done' | Error) {
        off();
        process.removeListener('SIGINT', onSigint);
        resolve(r);
      }
      if (left.size === 0) finish('done');
    });
    bar.end();
    if (outcome === 'paused') {
      let bytes = 0;
      for (const id of ids) {
        if (!dm.get(id)) continue;
        bytes += (await dm.pause(id)).bytes;
      }
      process.stderr.write(`hearth: paused at ${bytes} of ${model.size} bytes: run hearth pull ${spec} again to resume\n`);
      return 130;
    }
    if (outcome instanceof Error) throw outcome;
    return result('downloaded');
  } finally {
    await dm.close();
    store.close();
  }
}

/** hearth import FILE [--copy|--move|--link] */
export async function importFile(file: string, mode: ImportMode, ctx: PullContext): Promise<number> {
  const store = Store.open(ctx.paths.database, { logger: ctx.logger });
  const library = new ModelLibrary({
    engine: ctx.engine, modelsDir: ctx.paths.models, logger: ctx.logger, references: store.modelRefs,
    loadSettings: (p) => store.modelSettings.get(p),
    guardrail: () => ({ mode: store.settings.get('guardrail'), marginMiB: store.settings.get('fitMarginMiB') }),
    onState: () => undefined,
  });
  const bar = progressPrinter(path.basename(file));
  try {
    const r = await importModel(file, mode, {
      library, modelsDir: ctx.paths.models, loadable: (f) => ctx.engine.info(f),
      onProgress: mode === 'link' ? undefined : (b, t) => bar.update(b, t),
    });
    bar.end();
    if (ctx.json) process.stdout.write(JSON.stringify({ mode: r.mode, path: r.path, files: r.files, size: r.size }, null, 2) + '\n');
    else process.stdout.write(`${r.mode === 'link' ? 'added by reference' : r.mode === 'move' ? 'moved into the models folder' : 'copied into the models folder'}: ${r.path}\n`);
    return 0;
  } finally {
    library.close();
    store.close();
  }
}
