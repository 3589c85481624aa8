/**
 * The Hugging Face hub client: search GGUF repositories and list a repository's GGUF files grouped by
 * quantization, each with its LFS SHA-256, through `@huggingface/hub` (listModels, listFiles) at the
 * base address `HF_ENDPOINT` (default https://huggingface.co) with `HF_TOKEN`. Every answer is checked
 * with zod. Downloads are main/models/downloads.ts's; this file also holds what both share: the
 * endpoint, the resolve URL of a file and HubError.
 */
import { listFiles, listModels } from '@huggingface/hub';
import { z } from 'zod';
import type { HubErrorCode } from '../errors/catalogue';
import { HF_TOKEN_PREFIX, HUB_SORTS, hubSearchSchema, repoIdSchema, repoPathSchema, revisionSchema, sha256Schema, tokenFromEnv } from '../ipc/models';
import { HUB_LISTING_LIMITS, HubError, hubFetch, libraryCall, statusError, tokenProblem, type HubConfig, type HubListingLimits, type LibraryCall } from './hub-http';
import { MAX_SPLIT_PARTS, SPLIT_GGUF as SPLIT } from '../gguf/split-name';

export type { HubErrorCode };

export const DEFAULT_HUB_URL = 'https://huggingface.co';

export { HubError, hubFetch, type HubConfig };

export function hubConfigFromEnv(env: NodeJS.ProcessEnv = process.env): HubConfig {
  const url = env.HF_ENDPOINT?.trim();
  const token = tokenFromEnv(env);
  return { hubUrl: (url || DEFAULT_HUB_URL).replace(/\/+$/, ''), ...(token ? { token } : {}) };
}

export { repoIdSchema, repoPathSchema, sha256Schema } from '../ipc/models';

/** The address of a file's bytes: the hub answers with a redirect to its CDN, which serves Range requests. */
export function resolveUrl(hubUrl: string, repo: string, file: string, revision = 'main'): string {
  const p = file.split('/').map(encodeURIComponent).join('/');
  return `${hubUrl}/${repo}/resolve/${encodeURIComponent(revision)}/${p}`;
}

/** A library's error (createApiError sets statusCode) or a network failure, as a HubError. */
export function toHubError(e: unknown, what: string): HubError {
  if (e instanceof HubError) return e;
  const status = (e as { statusCode?: unknown }).statusCode;
  // the library ends its messages with `. URL: …. Request ID: …`: noise on one line
  const msg = `${what}: ${((e as Error)?.message ?? String(e)).replace(/\.? URL: [\s\S]*$/, '')}`;
  if (typeof status === 'number') {
    const mapped = statusError(status, what);
    if (mapped) return new HubError(mapped.code, msg, mapped.details, { cause: e });
  }
  // @huggingface/hub's checkCredentials refuses a token not starting with hf_ (a TypeError, before any request)
  if (e instanceof TypeError && e.message.includes(HF_TOKEN_PREFIX)) {
    return new HubError('hub_unauthorized', `${what}: the Hugging Face token must start with ${HF_TOKEN_PREFIX} (${e.message})`, undefined, { cause: e });
  }
  if (e instanceof z.ZodError) return new HubError('hub_bad_response', `${what}: ${e.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`, undefined, { cause: e });
  return new HubError('hub_unreachable', msg, typeof status === 'number' ? { status } : undefined, { cause: e });
}

/** `value` checked against `schema`; HubError invalid_input naming `what` otherwise. */
export function checkInput<S extends z.ZodTypeAny>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new HubError('invalid_input', `${what}: ${r.error.issues.map((i) => `${i.path.join('.') || 'value'} ${i.message}`).join('; ')}`);
}

// ---- search --------------------------------------------------------------------------------------

export { HUB_SORTS, hubSearchSchema };
export type HubSearch = z.input<typeof hubSearchSchema>;

/** What listModels yields, as Hearth reads it. */
const modelEntrySchema = z.object({
  name: repoIdSchema,
  downloads: z.number().int().nonnegative().default(0),
  likes: z.number().int().nonnegative().default(0),
  updatedAt: z.date().refine((d) => !Number.isNaN(d.getTime()), 'a date'),
  gated: z.union([z.literal(false), z.enum(['auto', 'manual'])]).default(false),
  private: z.boolean().default(false),
  author: z.string().optional(),
}).passthrough();

export interface HubModel {
  /** owner/name */
  id: string;
  author: string;
  name: string;
  downloads: number;
  likes: number;
  /** ms since the epoch */
  lastModified: number;
  gated: false | 'auto' | 'manual';
}

// ---- files ---------------------------------------------------------------------------------------

const treeEntrySchema = z.object({
  type: z.enum(['file', 'directory', 'unknown']),
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  oid: z.string().optional(),
  lfs: z.object({ oid: sha256Schema, size: z.number().int().nonnegative(), pointerSize: z.number().int().nonnegative() }).optional(),
}).passthrough();

export interface HubFile {
  path: string;
  size: number;
  /** the LFS SHA-256 (hex); null for a file not stored with LFS (the hub lists no hash of its content then) */
  sha256: string | null;
}

/** One model a user can download: a single GGUF file, or the parts of a split one (`-00001-of-00003.gguf`). */
export interface HubQuantFile {
  /** the file name without the split suffix (`Llama-3-8B-Q4_K_M.gguf`) */
  name: string;
  /** parsed from the name (`Q4_K_M`, `IQ2_XXS`, `F16`, `BF16`…); null when the name says none */
  quant: string | null;
  /** the sum of the parts' sizes */
  size: number;
  /** the files in part order (one for a file that is not split) */
  parts: HubFile[];
  /** a vision projector (`mmproj-…gguf`), not a model on its own */
  projector: boolean;
}

export interface HubQuantGroup {
  /** null: files whose name says no quantization */
  quant: string | null;
  files: HubQuantFile[];
}

/** llama.cpp's file-type names as they appear at the end of GGUF file names. */
const QUANT = /(?:^|[-_.])((?:I?Q\d(?:_[0-9A-Z]+)*)|BF16|F16|F32|FP16|FP32|TQ\d_\d|MXFP4(?:_MOE)?)$/i;

/** The quantization a GGUF file name states (`model-Q4_K_M.gguf` → `Q4_K_M`), upper-cased; null when none. */
export function quantOf(fileName: string): string | null {
  const base = fileName.split('/').pop()!.replace(SPLIT, '$1.gguf').replace(/\.gguf$/i, '');
  const m = QUANT.exec(base);
  return m ? m[1].toUpperCase() : null;
}

/** GGUF files grouped as models (split parts as one, with their total size) and the models by quantization. */
export function groupGgufFiles(files: readonly HubFile[]): HubQuantGroup[] {
  const models = new Map<string, { name: string; parts: { n: number; of: number; file: HubFile }[] }>();
  for (const f of files) {
    if (!/\.gguf$/i.test(f.path)) continue;
    const split = SPLIT.exec(f.path);
    const key = split ? `${split[1]}.gguf` : f.path;
    const entry = models.get(key) ?? { name: key.split('/').pop()!, parts: [] };
    entry.parts.push({ n: split ? Number(split[2]) : 1, of: split ? Number(split[3]) : 1, file: f });
    models.set(key, entry);
  }
  const groups = new Map<string | null, HubQuantFile[]>();
  for (const m of models.values()) {
    m.parts.sort((a, b) => a.n - b.n);
    // a split model with a part missing from the listing cannot be downloaded whole, nor loaded in more
    // parts than the engine holds open (MAX_SPLIT_PARTS): leave it out
    const of = m.parts[0].of;
    if (of > MAX_SPLIT_PARTS || m.parts.length !== of || m.parts.some((p, i) => p.n !== i + 1 || p.of !== of)) continue;
    const quant = quantOf(m.name);
    const file: HubQuantFile = {
      name: m.name,
      quant,
      size: m.parts.reduce((s, p) => s + p.file.size, 0),
      parts: m.parts.map((p) => p.file),
      projector: /(^|[-_.])mmproj([-_.]|$)/i.test(m.name),
    };
    groups.set(quant, [...(groups.get(quant) ?? []), file]);
  }
  return [...groups.entries()]
    .map(([quant, fs]) => ({ quant, files: fs.sort((a, b) => a.name.localeCompare(b.name)) }))
    .sort((a, b) => (a.quant ?? '~').localeCompare(b.quant ?? '~'));
}

export class HubClient {
  readonly config: HubConfig;

  constructor(config: HubConfig = hubConfigFromEnv(), readonly limits: Readonly<HubListingLimits> = HUB_LISTING_LIMITS) {
    this.config = { ...config, hubUrl: config.hubUrl.replace(/\/+$/, '') };
  }

  /** What every `@huggingface/hub` call gets: the hub, the token, and the call's own fetch (hub-http.ts libraryCall). */
  private common(call: LibraryCall) {
    const { hubUrl, token } = this.config;
    const problem = tokenProblem(token);
    if (problem) throw new HubError('hub_unauthorized', `the Hugging Face token (settings or HF_TOKEN) cannot be used: ${problem}`);
    return { hubUrl, ...(token ? { accessToken: token } : {}), fetch: call.fetch };
  }

  /** GGUF repositories matching the search, in the hub's order for `sort` (descending). */
  async search(input: HubSearch = {}): Promise<HubModel[]> {
    const s = checkInput(hubSearchSchema, input, 'hub search');
    const out: HubModel[] = [];
    const what = `search ${JSON.stringify(s.query ?? '')}`;
    const call = libraryCall(this.config, what, this.limits);
    try {
      for await (const raw of listModels({
        ...this.common(call),
        search: { query: s.query || undefined, owner: s.author || undefined, tags: ['gguf'] },
        additionalFields: ['author'],
        sort: s.sort,
        limit: s.limit,
      })) {
        const e = modelEntrySchema.parse(raw);
        const [owner, name] = e.name.split('/');
        out.push({
          id: e.name, author: e.author ?? owner, name, downloads: e.downloads, likes: e.likes,
          lastModified: e.updatedAt.getTime(), gated: e.gated,
        });
      }
    } catch (e) {
      throw call.timedOut(e) ?? toHubError(e, what);
    }
    return out;
  }

  /**
   * Every file of a repository at a revision (recursive), with each LFS file's SHA-256; an entry whose
   * path is not a relative path inside the repository (repoPathSchema) is left out. A 404 is
   * hub_not_found in one line: no such repository (or revision) on the hub.
   */
  async files(repo: string, revision = 'main'): Promise<HubFile[]> {
    const id = checkInput(repoIdSchema, repo, 'repository');
    const rev = checkInput(revisionSchema, revision, 'revision');
    const out: HubFile[] = [];
    const what = `files of ${id}`;
    const call = libraryCall(this.config, what, this.limits);
    let entries = 0;
    try {
      // the library puts the revision into /tree/<revision> as given: a branch like `refs/pr/1` or `v1.0+x` must be encoded
      for await (const raw of listFiles({ ...this.common(call), repo: { type: 'model', name: id }, revision: encodeURIComponent(rev), recursive: true })) {
        if (++entries > this.limits.maxEntries) throw new HubError('hub_bad_response', `${what}: the hub lists more than ${this.limits.maxEntries} entries`);
        const e = treeEntrySchema.parse(raw);
        // a path that is not one inside the repository (`../x`, `/x`, `a\\b`, `a//b`) never reaches the page, a download or a range read
        if (e.type !== 'file' || !repoPathSchema.safeParse(e.path).success) continue;
        out.push({ path: e.path, size: e.lfs?.size ?? e.size, sha256: e.lfs?.oid ?? null });
      }
    } catch (e) {
      const err = call.timedOut(e) ?? toHubError(e, what);
      if (err.code === 'hub_not_found' && err.details?.status === 404) {
        const host = new URL(this.config.hubUrl).host;
        throw new HubError('hub_not_found', call.errorCode === 'RevisionNotFound'
          ? `${id} has no revision ${rev} on ${host}: check the revision`
          : `no repository ${id} on ${host}: check the name`, err.details, { cause: e });
      }
      throw err;
    }
    return out;
  }

  /** A repository's GGUF models grouped by quantization. */
  async ggufFiles(repo: string, revision = 'main'): Promise<HubQuantGroup[]> {
    return groupGgufFiles(await this.files(repo, revision));
  }
}
