/**
 * The release feed: electron-builder's channel files (`latest*.yml`, `beta*.yml`, `alpha*.yml`, the
 * YAML electron-updater reads) for a release's artifacts, written into every channel feed that sees
 * the release (channels.ts channelsSeeing) unless that feed already holds a newer version, and
 * signed beside each file (signature.ts). Used by scripts/release; the app reads the same files.
 */
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import yaml from 'js-yaml';
import zlib from 'zlib';
import semver from 'semver';
import { z } from 'zod';
import type { UpdateChannel } from '../ipc/updates';
import { channelsSeeing, checkReleaseVersion, feedFileName } from './channels';
import { BuildGpu } from './build-info';
import { fileSha512, SIGNATURE_SUFFIX, signArtifact, signBytes, verifyBytes } from './signature';

/** A channel file is a few hundred bytes; a published one larger than this is refused (by scripts/release and by the app, which stops reading there). */
export const FEED_FILE_MAX_BYTES = 1024 * 1024;

/** One file of a release as a channel file lists it (electron-builder's UpdateFileInfo). */
export const FeedFile = z.object({
  url: z.string().min(1), sha512: z.string().min(1), size: z.number().int().nonnegative(),
  /** an AppImage's embedded blockmap's size (electron-updater's differential download of it reads this) */
  blockMapSize: z.number().int().positive().optional(),
});
export type FeedFile = z.infer<typeof FeedFile>;

/** A channel file (electron-builder's UpdateInfo, the fields we write and read). */
export const FeedInfo = z.object({
  version: z.string().refine((v) => semver.valid(v) !== null, 'not a semantic version'),
  files: z.array(FeedFile).min(1),
  /** the first file's url and sha512 (older electron-updater versions read these) */
  path: z.string(),
  sha512: z.string(),
  releaseDate: z.string(),
  releaseNotes: z.string().nullable().optional(),
  /** the data schema the release opens (main/store/migrations.ts LATEST_VERSION): the app refuses to install a release that cannot open its database */
  schemaVersion: z.number().int().min(1).optional(),
  /** the GPU build the release is (build-info.ts; its feed folder): the app refuses a feed of another build (update_wrong_build) */
  gpu: BuildGpu.optional(),
});
export type FeedInfo = z.infer<typeof FeedInfo>;

/** The files of a release that are updates (the installers electron-updater downloads), by platform, first the one it prefers. */
const UPDATE_EXTENSIONS: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ['.AppImage', '.deb', '.rpm'],
  darwin: ['.zip', '.dmg'],
  win32: ['.exe'],
};

/** The artifacts of `files` a channel file lists for `platform`, in electron-updater's order of preference. */
export function updateArtifacts(files: string[], platform: NodeJS.Platform): string[] {
  const exts = UPDATE_EXTENSIONS[platform] ?? [];
  const rank = (f: string) => exts.findIndex((e) => f.endsWith(e));
  return files.filter((f) => rank(f) >= 0).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** A blockmap beside an installer (electron-builder's differential-download map): published, never listed. */
const BLOCKMAP_SUFFIX = '.blockmap';

/**
 * Which of a build's files a release publishes: the installers electron-updater takes on `platform`
 * and their `.blockmap` files. Everything else electron-builder leaves beside them (its own channel
 * files such as latest-linux.yml, builder-effective-config.yaml, *-mac.json, .sig files) is
 * `ignored`: scripts/release writes the channel files and signatures, the one writer of the feed.
 */
export function releaseFiles(files: string[], platform: NodeJS.Platform): { installers: string[]; blockmaps: string[]; ignored: string[] } {
  const installers = updateArtifacts(files.map((f) => path.basename(f)), platform);
  const blockmaps = files.map((f) => path.basename(f)).filter((f) => f.endsWith(BLOCKMAP_SUFFIX) && installers.includes(f.slice(0, -BLOCKMAP_SUFFIX.length)));
  const taken = new Set([...installers, ...blockmaps]);
  return { installers, blockmaps, ignored: files.map((f) => path.basename(f)).filter((f) => !taken.has(f)) };
}

/** A file's entry: its name (the url, relative to the feed), SHA-512 (base64, as electron-builder writes it) and size. */
export async function describeFile(file: string): Promise<FeedFile> {
  const described = { url: path.basename(file), ...(await fileSha512(file)) };
  const blockMapSize = file.endsWith('.AppImage') ? await embeddedBlockMapSize(file) : null;
  return blockMapSize === null ? described : { ...described, blockMapSize };
}

/** The largest embedded blockmap read (electron-builder's are a few hundred KiB even for large AppImages). */
const BLOCKMAP_MAX_BYTES = 64 * 1024 * 1024;

/**
 * The size of the blockmap electron-builder embeds at the end of an AppImage (deflated JSON, then its
 * length as a 4-byte big-endian number: electron-updater's FileWithEmbeddedBlockMapDifferentialDownloader
 * reads it so), or null when the file ends with none.
 */
export async function embeddedBlockMapSize(file: string): Promise<number | null> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const { size } = await fh.stat();
    if (size < 4) return null;
    const tail = Buffer.alloc(4);
    await fh.read(tail, 0, 4, size - 4);
    const n = tail.readUInt32BE(0);
    if (n === 0 || n > BLOCKMAP_MAX_BYTES || n + 4 > size) return null;
    const data = Buffer.alloc(n);
    await fh.read(data, 0, n, size - 4 - n);
    const map = JSON.parse(zlib.inflateRawSync(data).toString('utf8')) as { files?: unknown };
    return Array.isArray(map.files) ? n : null;
  } catch {
    return null;
  } finally {
    await fh.close();
  }
}

/** The channel file of a release. */
export function feedInfo(version: string, files: FeedFile[], releaseDate: Date, releaseNotes: string | null, schemaVersion?: number, gpu?: string): FeedInfo {
  if (files.length === 0) throw new Error('a release needs at least one installer to list in its channel file');
  return {
    version, files, path: files[0].url, sha512: files[0].sha512, releaseDate: releaseDate.toISOString(),
    ...(releaseNotes ? { releaseNotes } : {}), ...(schemaVersion !== undefined ? { schemaVersion } : {}), ...(gpu !== undefined ? { gpu } : {}),
  };
}

export function feedYaml(info: FeedInfo): string {
  return yaml.dump(FeedInfo.parse(info), { lineWidth: -1, noRefs: true });
}

/** A channel file's text, checked; throws on anything else. */
export function parseFeed(text: string): FeedInfo {
  return FeedInfo.parse(yaml.load(text));
}

/** Whether a feed holding `existing` takes `version` (none yet, or older). */
export function replaces(existing: FeedInfo | null, version: string): boolean {
  return existing === null || semver.gt(version, existing.version);
}

/** Makes `file` with `write` on a temporary file beside it, then a rename: a reader sees the old file or the new one, never a part. */
async function viaTemp(file: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    await write(tmp);
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

/** Writes `data` to `file` atomically (viaTemp). */
export const writeAtomic = (file: string, data: string | Uint8Array): Promise<void> => viaTemp(file, (tmp) => fs.promises.writeFile(tmp, data));

/** Copies `from` to `to` atomically (viaTemp). */
const copyAtomic = (from: string, to: string): Promise<void> => viaTemp(to, (tmp) => fs.promises.copyFile(from, tmp));

export interface PublishOptions {
  channel: UpdateChannel;
  version: string;
  platform: NodeJS.Platform;
  arch: string;
  /** the build's files: its installers and their blockmaps are copied into `out` and signed, anything else is ignored (releaseFiles) */
  artifacts: string[];
  /** the feed folder: channel files, artifacts and signatures */
  out: string;
  privateKeyPem: string;
  releaseNotes?: string | null;
  releaseDate?: Date;
  /** the data schema the release opens (scripts/release: LATEST_VERSION) */
  schemaVersion?: number;
  /** the GPU build (scripts/release --gpu): written into each channel file, and an existing channel file of another build in `out` is refused */
  gpu?: string;
}

export interface PublishResult {
  /** the channel files written, by name */
  written: string[];
  /** the channel files left as they were (they hold a newer or the same version), with the version each holds */
  kept: { file: string; version: string }[];
  /** the artifacts in `out`, each with its .sig */
  artifacts: string[];
  /** the files of `artifacts` not published (neither an installer nor an installer's blockmap), by name */
  ignored: string[];
}

/** The channel file in `out` named `file`, or null when there is none. */
async function readFeed(file: string): Promise<FeedInfo | null> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    return parseFeed(text);
  } catch (e) {
    throw new Error(`${file} is not a channel file this release can merge with: ${(e as Error).message}`);
  }
}

/**
 * Puts a release into the feed folder: its artifacts (copied, each signed), and its channel file in
 * every channel feed that sees it and holds an older version (or none), each signed. Everything is
 * checked before the first write; each file is written through a temporary file and a rename.
 */
export async function publishRelease(o: PublishOptions): Promise<PublishResult> {
  checkReleaseVersion(o.channel, o.version);
  const { installers, blockmaps, ignored } = releaseFiles(o.artifacts, o.platform);
  if (installers.length === 0) {
    throw new Error(`none of the artifacts is an installer electron-updater takes on ${o.platform} (${(UPDATE_EXTENSIONS[o.platform] ?? []).join(', ') || 'none'}): ${o.artifacts.map((a) => path.basename(a)).join(', ') || 'no files'}`);
  }
  const published = new Set([...installers, ...blockmaps]);
  const taken = o.artifacts.filter((a) => published.has(path.basename(a)));
  const byName = new Map(taken.map((a) => [path.basename(a), a]));
  if (byName.size !== taken.length) throw new Error('two artifacts have the same file name');
  // the signature is made (and the key checked) before anything is written
  signBytes('check', Buffer.from(''), o.privateKeyPem);
  const files = await Promise.all(installers.map((n) => describeFile(byName.get(n)!)));
  const info = feedInfo(o.version, files, o.releaseDate ?? new Date(), o.releaseNotes ?? null, o.schemaVersion, o.gpu);
  const text = feedYaml(info);
  const feeds = channelsSeeing(o.channel).map((c) => feedFileName(c, o.platform, o.arch));
  const existing = await Promise.all(feeds.map((f) => readFeed(path.join(o.out, f))));
  for (const [i, e] of existing.entries()) {
    if (o.gpu !== undefined && e?.gpu !== undefined && e.gpu !== o.gpu) throw new Error(`${feeds[i]} in ${o.out} is the ${e.gpu} build's feed, not the ${o.gpu} build's: each GPU build has its own feed folder`);
  }
  // the release's own channel file must take it: otherwise it would reach nobody on that channel
  const own = feeds.indexOf(feedFileName(o.channel, o.platform, o.arch));
  if (!replaces(existing[own], o.version)) {
    throw new Error(`${feeds[own]} already holds ${existing[own]!.version}, not older than ${o.version}: this ${o.channel} release would reach nobody on its channel. Bump package.json's version (${o.channel === 'nightly' ? "a nightly's base" : 'the release'}) past ${existing[own]!.version}`);
  }

  await fs.promises.mkdir(o.out, { recursive: true });
  const outArtifacts: string[] = [];
  for (const [name, from] of byName) {
    const to = path.join(o.out, name);
    if (path.resolve(from) !== path.resolve(to)) await copyAtomic(from, to);
    // over the name and the streamed SHA-512: an installer is never read into memory
    await writeAtomic(to + SIGNATURE_SUFFIX, await signArtifact(name, to, o.privateKeyPem));
    outArtifacts.push(to);
  }
  const result: PublishResult = { written: [], kept: [], artifacts: outArtifacts, ignored };
  for (const [i, feed] of feeds.entries()) {
    const old = existing[i];
    if (!replaces(old, o.version)) {
      result.kept.push({ file: feed, version: old!.version });
      continue;
    }
    const file = path.join(o.out, feed);
    // the file first, then its signature: between the two a reader finds a signature that does not verify and refuses
    await writeAtomic(file, text);
    await writeAtomic(file + SIGNATURE_SUFFIX, signBytes(feed, Buffer.from(text), o.privateKeyPem));
    result.written.push(feed);
  }
  return result;
}

/**
 * Brings the feed files already published at `url` (the GPU build's folder) for the channels a
 * release goes into into `out`, so publishRelease merges with them (a stable release must not
 * replace a newer beta in beta.yml). A file the server does not have (404) is skipped; one whose
 * signature does not verify with the carried key stops the release. A file already in `out` is kept.
 */
export async function fetchPublishedFeeds(o: { url: string; channel: UpdateChannel; platform: NodeJS.Platform; arch: string; out: string; publicKeyPem: string; fetch?: typeof fetch }): Promise<string[]> {
  const get = o.fetch ?? fetch;
  const fetched: string[] = [];
  await fs.promises.mkdir(o.out, { recursive: true });
  for (const c of channelsSeeing(o.channel)) {
    const name = feedFileName(c, o.platform, o.arch);
    if (fs.existsSync(path.join(o.out, name))) continue;
    const at = new URL(name, o.url);
    const res = await get(at, { redirect: 'error', signal: AbortSignal.timeout(60_000) });
    if (res.status === 404) continue;
    if (!res.ok) throw new Error(`the published feed ${at.href} answered ${res.status}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (bytes.length > FEED_FILE_MAX_BYTES) throw new Error(`the published feed ${at.href} is larger than ${FEED_FILE_MAX_BYTES} bytes`);
    const sig = await get(new URL(name + SIGNATURE_SUFFIX, o.url), { redirect: 'error', signal: AbortSignal.timeout(60_000) });
    const sigText = sig.ok ? await sig.text() : '';
    if (!verifyBytes(name, bytes, sigText, o.publicKeyPem)) throw new Error(`the published feed ${at.href} is not signed with the key the app carries: not merging with it`);
    parseFeed(bytes.toString('utf8'));
    await writeAtomic(path.join(o.out, name), bytes);
    await writeAtomic(path.join(o.out, name + SIGNATURE_SUFFIX), sigText);
    fetched.push(name);
  }
  return fetched;
}
