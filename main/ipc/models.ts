/**
 * The shapes of the hub, downloads and library channels, defined once here (zod, no Node imports):
 * the contract uses them for its channels, and main/models (hub.ts, downloads.ts, discover.ts,
 * library.ts) takes its own schemas and types from them, so what crosses IPC is what those make.
 */
import { z } from 'zod';
import { MemoryBreakdown } from '../params/devices';

// ---- the hub -------------------------------------------------------------------------------------

/** `owner/name`, as the hub spells repository ids. */
export const repoIdSchema = z.string().regex(/^[A-Za-z0-9][\w.-]{0,95}\/[\w.-]{1,96}$/, 'a repository id is owner/name');

/** A path inside a repository: no `..`, no leading slash, no backslash. */
export const repoPathSchema = z.string().min(1).max(1000).refine(
  (p) => !p.startsWith('/') && !p.includes('\\') && !p.split('/').some((s) => s === '' || s === '.' || s === '..'),
  'a relative path inside the repository',
);

/** A branch, tag or commit of a repository: no whitespace or control characters, no lone surrogate (it could not be put in a URL), no `..` segment. */
export const revisionSchema = z.string().min(1).max(200).refine(
  (r) => !/[\s\p{Cc}\p{Cs}]/u.test(r) && !r.split('/').includes('..'),
  'a revision: a branch, tag or commit',
);

/** What a Hugging Face access token starts with (@huggingface/hub refuses any other). */
export const HF_TOKEN_PREFIX = 'hf_';

/** A Hugging Face access token (the settings field, HF_TOKEN): printable ASCII starting with hf_. */
export const hfTokenSchema = z.string().trim().min(1).max(512)
  .regex(/^[\x21-\x7e]+$/, 'a token is printable ASCII without spaces')
  .refine((t) => t.startsWith(HF_TOKEN_PREFIX), `a Hugging Face access token starts with ${HF_TOKEN_PREFIX} (copy it from huggingface.co/settings/tokens)`);

/** HF_TOKEN from an environment, trimmed; undefined when unset or empty. */
export const tokenFromEnv = (env: Record<string, string | undefined> | undefined): string | undefined => env?.HF_TOKEN?.trim() || undefined;

export const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in hex');

export const HUB_SORTS = ['downloads', 'likes', 'lastModified', 'trendingScore', 'createdAt'] as const;

export const hubSearchSchema = z.object({
  query: z.string().max(200).optional(),
  author: z.string().max(96).optional(),
  sort: z.enum(HUB_SORTS).default('downloads'),
  limit: z.number().int().min(1).max(500).default(30),
}).strict();

export const HubModelDTO = z.object({
  /** owner/name */
  id: z.string(),
  author: z.string(),
  name: z.string(),
  downloads: z.number(),
  likes: z.number(),
  /** ms since the epoch */
  lastModified: z.number(),
  gated: z.union([z.literal(false), z.enum(['auto', 'manual'])]),
});

export const HubFileDTO = z.object({
  path: z.string(),
  size: z.number(),
  /** the LFS SHA-256 (hex); null for a file not stored with LFS */
  sha256: z.string().nullable(),
});

export const HubQuantFileDTO = z.object({
  /** the file name without the split suffix */
  name: z.string(),
  quant: z.string().nullable(),
  /** the sum of the parts' sizes */
  size: z.number(),
  /** the files in part order (one for a file that is not split) */
  parts: z.array(HubFileDTO),
  /** a vision projector (mmproj), not a model on its own */
  projector: z.boolean(),
});

export const HubQuantGroupDTO = z.object({ quant: z.string().nullable(), files: z.array(HubQuantFileDTO) });

/** A file of hub.files to judge: the repository, its revision and the file's path (a split model: its first part's). */
export const hubFitRequestSchema = z.object({
  repo: repoIdSchema,
  revision: revisionSchema.default('main'),
  file: repoPathSchema,
}).strict();

/** The verdicts of a fit for this machine (main/models/remote-fit.ts verdictOf). */
export const FIT_VERDICTS = ['full-gpu', 'partial', 'cpu-only', 'does-not-fit'] as const;
/** Each verdict in words (hub.fit's `words`, hearth pull's lines) and what it means (the hub page's legend). */
export const VERDICT_WORDS: Record<(typeof FIT_VERDICTS)[number], string> = {
  'full-gpu': 'full GPU',
  partial: 'partial GPU offload',
  'cpu-only': 'CPU only',
  'does-not-fit': 'does not fit',
};
export const VERDICT_MEANINGS: Record<(typeof FIT_VERDICTS)[number], string> = {
  'full-gpu': 'every layer on the GPU',
  partial: 'some layers on the GPU, the rest on the CPU',
  'cpu-only': 'runs on the CPU, slower',
  'does-not-fit': 'not enough memory',
};

/** A fit verdict for a hub file from its header alone (main/models/remote-fit.ts remoteFit). */
export const HubFitDTO = z.object({
  repo: z.string(),
  revision: z.string(),
  /** the file's path (a split model: its first part's), as asked */
  file: z.string(),
  /** the model's name (a split model's without the part suffix) */
  name: z.string(),
  quant: z.string().nullable(),
  /** bytes, all parts */
  size: z.number(),
  verdict: z.enum(FIT_VERDICTS),
  /** the verdict in words (VERDICT_WORDS) */
  words: z.string(),
  /** the fit's reason in one sentence (null without a GPU) */
  reason: z.string().nullable(),
  gpuLayers: z.union([z.number(), z.literal('max')]),
  contextSize: z.number(),
  layers: z.number(),
  /** llama.cpp's estimate of the header-only file(s): bytes per device and on the host */
  estimate: MemoryBreakdown,
  /** what makes it not fit, one line each */
  problems: z.array(z.string()),
  /** what reading the header(s) cost: requests and body bytes */
  fetched: z.object({ requests: z.number(), bytes: z.number() }),
});
export type HubFitDTO = z.infer<typeof HubFitDTO>;

// ---- downloads -----------------------------------------------------------------------------------

/** How many downloads run at once: the setting's bounds and default (the download manager's default too). */
export const DOWNLOAD_CONCURRENCY = { min: 1, max: 8, default: 2 } as const;
export const downloadConcurrencySchema = z.number().int().min(DOWNLOAD_CONCURRENCY.min).max(DOWNLOAD_CONCURRENCY.max);

/** A proxy for the hub and downloads (the `proxy` setting): an http:// or https:// URL. */
export const proxyUrlSchema = z
  .string()
  .trim()
  .max(2048)
  .url('give the proxy as a URL, like http://proxy.example:3128')
  .refine((u) => /^https?:\/\//i.test(u), 'a proxy URL starts with http:// or https://');

/** A proxy URL without its credentials (a user name alone may be a token), for messages and logs. */
export function shownProxy(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(a proxy URL that cannot be read)';
  }
}

/** Names Windows keeps for devices (any extension: `NUL.gguf` is the device too). */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])(\..*)?$/i;

/**
 * A file name safe on Windows, macOS and Linux, or why not: no path separator, no `:` (an NTFS
 * stream), none of `<>"|?*` or control characters, no trailing dot or space, not a device name
 * (CON, NUL, AUX, PRN, COM1…LPT9 with any extension), not hidden, at most 255 characters.
 */
export function fileNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > 255) return 'a file name of 1 to 255 characters';
  if (/[/\\:<>"|?*\p{Cc}]/u.test(name)) return 'a file name without / \\ : < > " | ? * or control characters';
  if (name.startsWith('.')) return 'a file name not starting with a dot';
  if (/[. ]$/.test(name)) return 'a file name not ending with a dot or a space';
  if (WINDOWS_DEVICE.test(name)) return `${name} is a device name on Windows`;
  return null;
}

/** A model file's name in the models folder: safe on every OS (fileNameProblem), ending .gguf. */
export const downloadNameSchema = z.string().superRefine((n, ctx) => {
  const problem = fileNameProblem(n) ?? (/\.gguf$/i.test(n) ? null : 'a .gguf file name');
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

export const downloadRequestSchema = z.object({
  repo: repoIdSchema,
  /** the file's path in the repository */
  file: repoPathSchema,
  revision: revisionSchema.default('main'),
  /** the LFS SHA-256 the hub lists for the file (hub.files) */
  sha256: sha256Schema,
  size: z.number().int().nonnegative(),
  /** the file's name in the models folder (default: the file's own name) */
  name: downloadNameSchema.optional(),
}).strict();

export const DOWNLOAD_VIEW_STATES = ['queued', 'downloading', 'paused', 'failed', 'verifying', 'done', 'cancelled'] as const;

export const DownloadErrorDTO = z.object({ code: z.string(), message: z.string() });

/** A download as a page shows it. `done` and `cancelled` are reached once and leave the list. */
export const DownloadDTO = z.object({
  id: z.string(),
  repo: z.string(),
  revision: z.string(),
  file: z.string(),
  /** where the finished file goes */
  target: z.string(),
  size: z.number(),
  sha256: z.string(),
  state: z.enum(DOWNLOAD_VIEW_STATES),
  /** bytes on disk */
  bytes: z.number(),
  /** bytes per second over the last few seconds; 0 when not downloading */
  speed: z.number(),
  /** seconds left at that speed; null when unknown */
  etaSeconds: z.number().nullable(),
  error: DownloadErrorDTO.nullable(),
});
export type DownloadDTO = z.infer<typeof DownloadDTO>;

export const DownloadProgressDTO = z.object({ id: z.string(), bytes: z.number(), size: z.number(), speed: z.number(), etaSeconds: z.number().nullable() });

// ---- the library: references and discovery ---------------------------------------------------------

export const PEER_APPS = ['lmstudio', 'ollama', 'jan', 'gpt4all'] as const;
export type PeerApp = (typeof PEER_APPS)[number];
/** Each app as the user knows it (the CLI's and the first-run view's words). */
export const PEER_APP_NAMES: Readonly<Record<PeerApp, string>> = { lmstudio: 'LM Studio', ollama: 'Ollama', jan: 'Jan', gpt4all: 'GPT4All' };
/** Who keeps a model file added by reference: an app discovery found it in, or the user ('file'). */
export const REFERENCE_SOURCES = [...PEER_APPS, 'file'] as const;

/** What a model's GGUF header says (main/models/facts.ts HeaderFacts). */
export const ModelFactsDTO = z.object({
  architecture: z.string().nullable(),
  name: z.string().nullable(),
  fileType: z.string().nullable(),
  parameters: z.number(),
  layers: z.number().nullable(),
  trainedContext: z.number().nullable(),
  hasChatTemplate: z.boolean(),
  projector: z.boolean(),
  /** a model's embedding length, a projector's projection dim: what pairs them (main/models/projector.ts) */
  width: z.number().nullable().default(null),
});

export const DiscoveredModelDTO = z.object({
  /** the identity key (main/models/identity.ts) */
  id: z.string(),
  name: z.string(),
  size: z.number(),
  sha256: z.string().nullable(),
  facts: ModelFactsDTO,
  locations: z.array(z.object({ app: z.enum(PEER_APPS), path: z.string(), name: z.string(), projector: z.string().nullable() })),
  /** a location of it is in the library already (referenced) */
  inLibrary: z.boolean(),
});

export const DiscoveryDTO = z.object({
  models: z.array(DiscoveredModelDTO),
  skipped: z.array(z.object({ app: z.enum(PEER_APPS), path: z.string(), reason: z.string() })),
  searched: z.array(z.object({ app: z.enum(PEER_APPS), folder: z.string(), from: z.enum(['settings', 'environment', 'default']), source: z.string().nullable(), exists: z.boolean() })),
});

// ---- the library: the Library page (facts, import, delete) -------------------------------------------

/** How a file joins the library: copied or moved into the models folder, or referenced where it is. */
export const IMPORT_MODES = ['copy', 'move', 'link'] as const;

/** An absolute path: POSIX `/…`, Windows `C:\\…` or `\\\\server\\…` (a typed path is never resolved against main's working folder; the renderer reads this file too, so no `path`). */
export const ABSOLUTE_PATH = /^(\/|[A-Za-z]:[\\/]|\\\\)/;
export const absolutePathSchema = z.string().min(1).max(4096).refine((p) => ABSOLUTE_PATH.test(p), 'an absolute path');

export const libraryImportSchema = z.object({ path: absolutePathSchema, mode: z.enum(IMPORT_MODES) }).strict();

export const LibraryImportDTO = z.object({
  mode: z.enum(IMPORT_MODES),
  /** where the model is now (a split model's first part) */
  path: z.string(),
  /** every file of the model where it is now */
  files: z.array(z.string()),
  size: z.number(),
});

/** A model of the library as the Library page shows it: its files (a split model's parts) and its header's facts (null when unreadable: `error` says why). */
export const LibraryFactsDTO = z.object({
  path: z.string(),
  files: z.array(z.string()),
  facts: ModelFactsDTO.nullable(),
  /** the vision projector (mmproj) paired with it in its folder (main/models/projector.ts), null when none */
  projector: z.string().nullable(),
  error: z.string().nullable(),
});

/** What library.delete removed from disk, and whether the model was unloaded first. */
export const LibraryDeleteDTO = z.object({ files: z.array(z.string()), bytes: z.number(), unloaded: z.boolean() });

// ---- recommended models (resources/recommended.json) -------------------------------------------------

export const RECOMMENDED_USES = ['chat', 'coding', 'reasoning', 'embedding'] as const;
export const RECOMMENDED_SIZES = ['small', 'medium', 'large'] as const;

/** A model the first-run view recommends: a GGUF repository of the hub and what it is for. */
export const RecommendedModelDTO = z.object({
  repo: repoIdSchema,
  /** what the view calls it */
  name: z.string().trim().min(1).max(100),
  /** one short sentence */
  description: z.string().trim().min(1).max(300),
  use: z.enum(RECOMMENDED_USES),
  size: z.enum(RECOMMENDED_SIZES),
  /** the quantization to pick first among the repository's files */
  quant: z.string().regex(/^[A-Za-z0-9_]{2,20}$/, 'a quantization name such as Q4_K_M'),
  /** about how many parameters (weights) it has */
  parameters: z.number().positive().max(1e13),
}).strict();
export type RecommendedModelDTO = z.infer<typeof RecommendedModelDTO>;

/** The file's shape: a version and the list (one entry per repository). */
export const recommendedFileSchema = z.object({
  version: z.literal(1),
  models: z.array(RecommendedModelDTO).min(1).max(200)
    .refine((ms) => new Set(ms.map((m) => m.repo.toLowerCase())).size === ms.length, 'each repository is listed once'),
}).strict();
