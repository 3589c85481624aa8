/**
 * Every error code Hearth uses, once: what it means, whether it is the user's to fix, and the hint the
 * UI shows. Everything else derives from this list: the IPC contract's codes (IPC_ERROR_CODES), the
 * engine's and the store's code types, the renderer's words, the hearth command's hints, and the
 * addon's codes (native/src/error_codes.h, compared with this list by test/errors/catalogue.test.ts).
 * No imports: main, the engine host, the preload and the renderer all read it.
 */

/**
 * Who makes or carries a code:
 * - `native`: the addon throws it (native/src/error_codes.h); the engine passes it on as it is
 * - `engine`: EngineError (the engine host and client, main/engine/)
 * - `store`: StoreError (main/store/)
 * - `gguf`: GgufError (the GGUF reader, main/gguf/); the engine reports such a file as `invalid_model`
 * - `ipc`: crosses IPC as itself (IpcError; Services turns any other code into `internal`)
 * - `renderer`: made in the renderer (its bridge, a slice)
 * - `hub`: HubError (the Hugging Face client and the download manager, main/models/hub.ts, downloads.ts);
 *   its codes cross IPC as themselves (the hub.* and downloads.* channels)
 * - `updates`: UpdateError (the updater, main/updates/); the page reads them in UpdateStateDTO.error
 */
export type ErrorLayer = 'native' | 'engine' | 'store' | 'gguf' | 'ipc' | 'renderer' | 'hub' | 'updates';

export interface ErrorSpec {
  /** what happened, for someone reading the code or a log */
  readonly meaning: string;
  /**
   * the answer to what the user asked or set, which they can change (other input, settings, model or
   * file); false for a bug, and for a failure of the engine, the store or the machine
   */
  readonly userFixable: boolean;
  /**
   * the one sentence the UI shows, saying what to do next. `{message}` stands for the error's message
   * as main wrote it, `{Message}` for the same as a sentence (capital first, full stop at the end).
   */
  readonly hint: string;
  /** for a reply the store could not save (MessageDTO.error `store_<code>: …`): what the UI shows instead */
  readonly replyHint?: string;
  /**
   * what the hearth command adds to the message; without it, a code that is not the user's to fix gets
   * CLI_LOG_HINT and the others nothing (their message says it)
   */
  readonly cli?: string;
  readonly layers: readonly ErrorLayer[];
}

/** What the hearth command adds to an error that is not the user's to fix. */
export const CLI_LOG_HINT = 'run again with --verbose to see the engine log';

const SOMETHING_WENT_WRONG = 'Something went wrong: {message}';

export const ERRORS = {
  // ---- what was asked -----------------------------------------------------------------------------
  invalid_input: {
    meaning: 'a request or value does not fit its schema or an invariant (the IPC contract, the store’s checks)',
    userFixable: true,
    hint: 'That was not accepted: {message}',
    layers: ['ipc', 'store', 'hub'],
  },
  invalid_argument: {
    meaning:
      'an engine call’s parameters were refused (the host’s schemas, the addon’s parsing); main checks what it sends first, so one crossing IPC is a bug and becomes `internal`',
    userFixable: false,
    hint: SOMETHING_WENT_WRONG,
    layers: ['native', 'engine'],
  },
  not_found: {
    meaning: 'a well-formed id or path that names nothing (a chat, a message, a model file)',
    userFixable: true,
    hint: 'That no longer exists — it may have been deleted in another window, or moved on disk.',
    cli: 'check the path',
    layers: ['ipc', 'store', 'engine'],
  },
  image_missing: {
    meaning:
      'an image a message carries is no longer in the data folder (<data>/images): deleted or moved outside Hearth, or something else put in its place (a link, a folder, a file larger than an image may be)',
    userFixable: true,
    hint: '{Message} Attach the image again in a new message, or start a new chat.',
    layers: ['ipc'],
  },
  too_large: {
    meaning: 'content, a file or its metadata over its limit',
    userFixable: true,
    hint: 'That is larger than Hearth accepts — shorten it, or split it in parts.',
    replyHint: 'This reply reached the size limit for one message, so it was stopped — continue in a new message.',
    layers: ['ipc', 'store', 'gguf'],
  },
  busy: {
    meaning:
      'what this needs is taken: a reply is still being written in this chat, or a browser page has too many image requests waiting, or another import of chats runs (IPC), or the database stayed locked by another connection through every retry (the store: it reaches the user only as a reply’s `store_busy`)',
    userFixable: true,
    hint: 'Hearth is busy with another reply, an import, or this page’s images — wait for it to finish (or stop it) and try again.',
    replyHint: 'Hearth could not save this reply (its database stayed locked), so it was stopped — regenerate it.',
    layers: ['ipc', 'store'],
  },
  superseded: {
    meaning: 'a newer request of the same kind replaced this one (a memory estimate, an import\'s preview of another file); this one was dropped (the renderer ignores it)',
    userFixable: true,
    hint: 'A newer one is on its way.',
    layers: ['ipc'],
  },
  aborted: {
    meaning: 'the caller cancelled: Stop, an unload, a load replaced by another',
    userFixable: true,
    hint: 'Stopped.',
    layers: ['native', 'engine', 'ipc'],
  },
  unknown_channel: {
    meaning: 'a call to a channel the contract lacks, or one this face does not serve (a page from another version of Hearth)',
    userFixable: false,
    hint: 'This page does not match the running Hearth — reload the page.',
    layers: ['ipc'],
  },
  forbidden: {
    meaning: 'an Electron IPC call from a frame that is not Hearth’s own page',
    userFixable: false,
    hint: 'Hearth refused this request — reload the page.',
    layers: ['ipc'],
  },
  unauthorized: {
    meaning: 'a browser-mode page without the token Hearth printed at its start',
    userFixable: true,
    hint: 'This page has no Hearth token — open the URL Hearth printed when it started (it carries the token).',
    layers: ['renderer'],
  },
  disconnected: {
    meaning: 'the browser-mode page lost (or never had) its WebSocket to Hearth',
    userFixable: false,
    hint: 'Lost the connection to Hearth — check that it is still running, then try again.',
    layers: ['renderer'],
  },

  // ---- models -------------------------------------------------------------------------------------
  no_model: {
    meaning: 'a chat turn while no model is loaded',
    userFixable: true,
    hint: 'The model is not loaded — pick one in the header.',
    layers: ['ipc'],
  },
  no_models: {
    meaning: 'a chat turn while the models folder holds no model (the renderer knows before asking)',
    userFixable: true,
    hint: 'There are no models yet — download one with Find models (in the sidebar), or put a .gguf file in the models folder (Settings → Models shows where).',
    layers: ['renderer'],
  },
  model_unknown: {
    meaning: 'a model path outside the library and not picked this session; the same answer whatever is at the path',
    userFixable: true,
    hint: 'That model is not in the library — put the .gguf file in the models folder (Settings → Models shows where), then pick it in the header.',
    layers: ['ipc'],
  },
  invalid_model: {
    meaning: 'the file is not a model llama.cpp can read (the GGUF reader’s or the hyperparameter checks’ refusal, named in the message)',
    userFixable: true,
    hint: 'This model file cannot be read — it may be incomplete or not a GGUF model. Pick another one.',
    cli: 'is it a complete .gguf model file?',
    layers: ['engine', 'ipc'],
  },
  model_changed: {
    meaning: 'the model file was replaced or written while it loaded (main/engine/model-file.ts); nothing was loaded',
    userFixable: true,
    hint: '{Message}',
    layers: ['engine', 'ipc'],
  },
  needs_confirmation: {
    meaning: 'guardrail "warn": the load may not fit in memory; the message says why, and the user is asked',
    userFixable: true,
    hint: '{Message}',
    layers: ['ipc'],
  },
  insufficient_memory: {
    meaning: 'guardrail "strict": the load does not fit in memory; the message carries the figures',
    userFixable: true,
    hint: 'Not loaded: {Message} Lower the GPU layers or the context length, or change the guardrail in Settings → Models.',
    layers: ['ipc'],
  },
  out_of_memory: {
    meaning:
      'an allocation failed: llama.cpp could not allocate a model’s weights, a context’s cache or compute buffers, or a batch’s (llama_decode’s -2), in RAM or on a GPU, or the addon ran out (std::bad_alloc)',
    userFixable: true,
    hint: 'There is not enough memory for this — close other programs, or pick a smaller model or a shorter chat.',
    cli: 'try a smaller --ctx or fewer --gpu-layers',
    layers: ['native', 'engine', 'ipc'],
  },
  load_failed: {
    meaning: 'llama.cpp could not load the model for another reason (an architecture it does not know, a file it refuses; the engine log says)',
    userFixable: false,
    hint: 'This model could not be loaded: {message}',
    layers: ['native', 'engine', 'ipc'],
  },
  context_failed: {
    meaning:
      'llama.cpp could not create a context with these settings, for another reason than memory (out_of_memory); it does not cross IPC: a model switch that fails with it reaches the app’s pages as `load_failed` with its message (main/models/library.ts), so its hint is load_failed’s, and the hearth command adds `cli`',
    userFixable: true,
    hint: 'This model could not be loaded: {message}',
    cli: 'try a smaller --ctx',
    layers: ['native', 'engine'],
  },
  not_loaded: {
    meaning: 'an engine call names a model id that is not loaded (it was unloaded meanwhile)',
    userFixable: false,
    hint: 'The model is no longer loaded — pick it again in the header.',
    layers: ['engine'],
  },
  template_timeout: {
    meaning: 'a model’s chat template ran past its deadline (main/engine/watchdog.ts); the message names the model',
    userFixable: true,
    hint: '{Message}',
    layers: ['engine', 'ipc'],
  },
  not_supported: {
    meaning: 'the model or context cannot do this (no chat template, embeddings on a context made without them, a reranker)',
    userFixable: true,
    hint: 'This model cannot do that — pick another model.',
    layers: ['native', 'engine'],
  },

  // ---- generating ---------------------------------------------------------------------------------
  context_overflow: {
    meaning: 'the prompt, or the sequences sharing the context, do not fit in it',
    userFixable: true,
    hint: "The chat no longer fits in the model's context — start a new chat, or edit an earlier message to shorten it.",
    cli: 'give a larger --ctx or a shorter prompt',
    layers: ['native', 'engine', 'ipc'],
  },
  decode_failed: {
    meaning: 'llama_decode failed for another reason than memory (for a generation: on its own, after a failed shared batch was retried run by run)',
    userFixable: false,
    hint: 'The engine failed while writing this reply — try again; if it keeps failing, try other load settings for this model.',
    layers: ['native', 'engine'],
  },
  sampling_failed: {
    meaning: 'the sampler or grammar threw for one generation (the others in its batch go on)',
    userFixable: true,
    hint: 'The engine could not pick the next token with these sampling settings — change them (a grammar or JSON schema may allow nothing), then try again.',
    layers: ['native', 'engine'],
  },
  session_mismatch: {
    meaning: 'a saved session belongs to another model, cache type or context size',
    userFixable: true,
    hint: 'That saved session was made with another model or other context settings.',
    layers: ['native', 'engine'],
  },
  session_failed: {
    meaning: 'a session file could not be read or written',
    userFixable: false,
    hint: 'A session file could not be read or written — check the disk and the folder’s permissions.',
    layers: ['native', 'engine'],
  },
  disposed: {
    meaning: 'a call on a native model or context that was already disposed',
    userFixable: false,
    hint: 'The model was unloaded while this ran — load it again, then try again.',
    layers: ['native', 'engine'],
  },

  // ---- the engine itself --------------------------------------------------------------------------
  engine_crashed: {
    meaning: 'the engine host process ended; it is restarted',
    userFixable: false,
    hint: 'The engine stopped and restarted — try again.',
    layers: ['engine', 'ipc'],
  },
  engine_hung: {
    meaning: 'the engine host stopped answering, or its native work stopped making progress, and it was restarted',
    userFixable: false,
    hint: 'The engine stopped responding, so Hearth restarted it — try again.',
    layers: ['engine', 'ipc'],
  },
  engine_unavailable: {
    meaning: 'the engine host keeps crashing (more starts after a crash within a minute than the supervisor allows), so it is not restarted until that minute has passed; or its script is missing',
    userFixable: false,
    hint: 'The engine keeps stopping, so Hearth waits a minute before starting it again — try again then, or pick a smaller model. Settings → About → Logs says why it stopped.',
    layers: ['engine', 'ipc'],
  },
  engine_closed: {
    meaning: 'a call after the engine was shut down (Hearth is quitting)',
    userFixable: false,
    hint: 'Hearth is shutting down.',
    layers: ['engine'],
  },
  addon_missing: {
    meaning: 'the native addon is not built, or not shipped with this build',
    userFixable: false,
    hint: 'The engine is missing from this installation — reinstall Hearth (from source: npm run build:native).',
    layers: ['engine'],
  },
  backend_failed: {
    meaning: 'a ggml backend module (a CPU variant, Vulkan, CUDA) could not be opened or loaded, or none supports this machine',
    userFixable: false,
    hint: 'The engine could not start its compute backend on this machine — reinstall Hearth, or update the graphics driver.',
    layers: ['native', 'engine'],
  },

  // ---- the store ----------------------------------------------------------------------------------
  closed: {
    meaning: 'the store was closed, or a streamed reply was already finished, or (IPC) a call reached an App that closed for a restart or at quit',
    userFixable: false,
    hint: 'Hearth is shutting down or restarting — this was not done; try again in a moment.',
    replyHint: 'This reply was already finished; later text was not saved.',
    layers: ['store', 'ipc'],
  },
  write_failed: {
    meaning: 'a write failed for good (SQLITE_FULL, an I/O error…)',
    userFixable: false,
    hint: 'Hearth could not save this — the disk may be full. Free some space, then try again.',
    replyHint: 'Hearth could not save this reply (the disk may be full), so it was stopped — free some space, then regenerate.',
    layers: ['store'],
  },
  newer_schema: {
    meaning: 'the database was written by a newer Hearth; it is refused and left untouched',
    userFixable: true,
    hint: 'This data was written by a newer version of Hearth — update Hearth to open it.',
    layers: ['store'],
  },
  invalid_database: {
    meaning: 'the database file is not SQLite, or not a Hearth database',
    userFixable: true,
    hint: 'This is not a Hearth database — choose another data folder.',
    layers: ['store'],
  },
  migration_failed: {
    meaning:
      'this version could not open a database it had just backed up to migrate (a migration, the foreign key check, the version stamp or the store\'s opening steps failed); the backup was put back',
    userFixable: false,
    hint: '{Message}',
    layers: ['store'],
  },
  in_use: {
    meaning:
      'an update that changes the schema was refused before its backup because another connection (the app, `hearth serve`, a `hearth` command, of any version) has the database open; nothing was changed',
    userFixable: true,
    hint: '{Message}',
    layers: ['store'],
  },
  import_failed: {
    meaning: 'an import file is unreadable or malformed; nothing was imported (the store; data.import.preview answers it too)',
    userFixable: true,
    hint: 'Nothing was imported: {Message}',
    layers: ['store', 'ipc'],
  },

  // ---- GGUF files (the reader's; the engine reports them as invalid_model) -------------------------
  bad_magic: {
    meaning: 'the file does not start with "GGUF"',
    userFixable: true,
    hint: 'This file is not a GGUF model — pick a .gguf file.',
    layers: ['gguf'],
  },
  bad_version: {
    meaning: 'a GGUF version the reader does not handle (only 2 and 3 are)',
    userFixable: true,
    hint: 'This GGUF version is not supported — get the model as GGUF version 3.',
    layers: ['gguf'],
  },
  truncated: {
    meaning: 'the file ends before the header or the tensor data it describes',
    userFixable: true,
    hint: 'This model file is incomplete — download it again.',
    layers: ['gguf'],
  },
  corrupt: {
    meaning: 'a value in the file that cannot be right (an absurd count or length, an unknown type, a bad offset…)',
    userFixable: true,
    hint: 'This model file is damaged — download it again.',
    layers: ['gguf'],
  },

  // ---- the Hugging Face hub and downloads (main/models/hub.ts, downloads.ts) ------------------------
  hub_unauthorized: {
    meaning: 'the hub answered 401 or 403: a gated or private repository, and no token, a wrong one, or one whose account has not accepted the repository’s terms',
    userFixable: true,
    hint: 'This model needs a Hugging Face token — accept its terms on huggingface.co, then add your token in Settings.',
    cli: 'set HF_TOKEN to a token whose account accepted the repository’s terms',
    layers: ['hub', 'ipc'],
  },
  hub_not_found: {
    meaning: 'the hub has no such repository, revision or file (404)',
    userFixable: true,
    hint: 'Hugging Face has no such model or file — it may have been renamed or removed.',
    layers: ['hub', 'ipc'],
  },
  hub_unreachable: {
    meaning: 'the hub could not be reached or kept failing (network errors, 5xx) through every retry',
    userFixable: true,
    hint: 'Hugging Face could not be reached — check the connection (and the proxy), then try again.',
    cli: 'check the connection, or set HF_ENDPOINT',
    layers: ['hub', 'ipc'],
  },
  hub_busy: {
    meaning: 'the hub answered 429 (too many requests) or a 5xx (a passing server problem); Retry-After, when sent, says how long to wait (details.retryAfterMs)',
    userFixable: true,
    hint: 'Hugging Face is busy right now — wait a minute, then try again.',
    layers: ['hub', 'ipc'],
  },
  hub_file_changed: {
    meaning: 'a file changed on the hub while it was being downloaded (its ETag is not the SHA-256 the download expects); the partial file was deleted so two versions are never spliced',
    userFixable: true,
    hint: 'This file changed on Hugging Face while it was downloading — open the model again and download the new version.',
    layers: ['hub', 'ipc'],
  },
  hub_bad_response: {
    meaning: 'a hub answer that does not fit its schema (zod), or a download whose size or range does not match what the hub listed',
    userFixable: false,
    hint: 'Hugging Face sent an answer Hearth does not understand: {message}',
    layers: ['hub', 'ipc'],
  },
  checksum_mismatch: {
    meaning: 'a downloaded file’s SHA-256 differs from the hub’s LFS hash; the file was deleted and nothing was registered',
    userFixable: true,
    hint: 'The downloaded file was damaged on the way (its checksum did not match), so it was deleted — download it again.',
    layers: ['hub', 'ipc'],
  },
  disk_full: {
    meaning: 'the disk has less free space than a download still needs (checked before the start and while it runs; the download is paused with its bytes kept) or than an import\'s upload keeps free (the upload is dropped), or a write failed with ENOSPC',
    userFixable: true,
    hint: 'There is not enough free disk space — free some space, then try again ({message}).',
    layers: ['hub', 'ipc'],
  },

  // ---- remote providers (main/providers/) ----------------------------------------------------------
  provider_auth: {
    meaning: 'a remote provider answered 401 or 403: no API key, a wrong or revoked one, or one without access to the model',
    userFixable: true,
    hint: 'The provider refused the API key — check it in Settings → Providers ({message}).',
    layers: ['ipc'],
  },
  provider_rate_limited: {
    meaning: 'a remote provider answered 429 (too many requests, or the quota is used up); its Retry-After, when sent, is in the message',
    userFixable: true,
    hint: 'The provider is limiting requests — {Message}',
    layers: ['ipc'],
  },
  provider_offline: {
    meaning: 'a remote provider could not be reached (no network, a wrong address, a refused connection) or did not answer in time',
    userFixable: true,
    hint: 'The provider could not be reached — check the connection and its address in Settings → Providers ({message}).',
    layers: ['ipc'],
  },
  provider_error: {
    meaning: 'a remote provider refused the request or failed (any other 4xx or 5xx): the message is the provider’s own words',
    userFixable: true,
    hint: 'The provider answered with an error: {message}',
    layers: ['ipc'],
  },
  provider_unknown: {
    meaning: 'a thread names a remote provider that was removed or turned off',
    userFixable: true,
    hint: 'This chat’s provider is gone or turned off — pick another model in the header ({message}).',
    layers: ['ipc'],
  },
  remote_forbidden: {
    meaning: 'a chat turn on a remote model while the setting that forbids remote providers is on',
    userFixable: true,
    hint: 'Remote providers are turned off in Settings → Providers — pick a local model, or allow them there.',
    layers: ['ipc'],
  },

  // ---- updates (main/updates/, main/app/updater.ts) --------------------------------------------------
  update_bad_signature: {
    meaning: 'a channel file or a downloaded update whose Ed25519 signature (its .sig) is missing or does not verify with the public key the app carries; nothing was installed',
    userFixable: false,
    hint: 'This update was refused because its signature did not verify — Hearth stays on its version. Try again later.',
    layers: ['updates'],
  },
  update_checksum_mismatch: {
    meaning: 'a downloaded update whose SHA-512 differs from the signed channel file’s (electron-updater’s check); the file was deleted',
    userFixable: false,
    hint: 'The update was damaged on the way (its checksum did not match), so it was deleted — check for updates again.',
    layers: ['updates'],
  },
  update_wrong_channel: {
    meaning: 'a signed channel file offered a version of a channel the followed one does not see (a nightly to a stable user); nothing was downloaded',
    userFixable: false,
    hint: 'This update was refused because it belongs to another channel — Hearth stays on its version ({message}).',
    layers: ['updates'],
  },
  update_wrong_build: {
    meaning: 'a signed channel file of another GPU build (its `gpu` is not this install\'s, or it does not say one) served to this install; nothing was downloaded',
    userFixable: false,
    hint: 'This update was refused because it is for another build of Hearth — Hearth stays on its version ({message}).',
    layers: ['updates'],
  },
  update_install_failed: {
    meaning: 'the installer of a downloaded update failed to start, or the app had not quit within INSTALL_QUIT_DEADLINE_MS of it; the app relaunches on its current version',
    userFixable: false,
    hint: 'The update could not be installed, so Hearth restarted on its current version ({message}).',
    layers: ['updates'],
  },
  update_cannot_open_data: {
    meaning: 'an update (a downgrade) whose channel file says it reads an older data schema than the open database has: it would refuse the data, so it is not downloaded',
    userFixable: true,
    hint: '{message}',
    layers: ['updates', 'ipc'],
  },
  update_timeout: {
    meaning: 'a feed or signature request that did not finish within its deadline, or a download that made no progress for too long; it was cancelled',
    userFixable: true,
    hint: 'The update server stopped answering, so Hearth gave up — check for updates again later ({message}).',
    layers: ['updates'],
  },
  update_too_large: {
    meaning: 'a channel file, a signature or a download larger than it may be (the caps, or the size the signed channel file gives); it was cancelled',
    userFixable: false,
    hint: 'This update was refused because it was larger than it should be — Hearth stays on its version.',
    layers: ['updates'],
  },
  update_failed: {
    meaning: 'a check or a download that failed otherwise: the feed unreachable or missing, an answer electron-updater cannot read',
    userFixable: true,
    hint: 'Could not check for or download the update: {message}',
    layers: ['updates'],
  },

  // ---- anything else ------------------------------------------------------------------------------
  internal: {
    meaning: 'anything else: a bug, never an answer to input (logged as an error)',
    userFixable: false,
    hint: SOMETHING_WENT_WRONG,
    layers: ['native', 'engine', 'ipc', 'renderer'],
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** The codes a layer makes or carries. */
export type CodeOf<L extends ErrorLayer> = { [C in ErrorCode]: L extends (typeof ERRORS)[C]['layers'][number] ? C : never }[ErrorCode];

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export function codesOf<L extends ErrorLayer>(layer: L): readonly CodeOf<L>[] {
  return ERROR_CODES.filter((c) => (ERRORS[c].layers as readonly ErrorLayer[]).includes(layer)) as CodeOf<L>[];
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERRORS, code);
}

/**
 * `code` when one of `layers` makes or carries it, else `internal`: where a code arrives from outside
 * the type system (a process, a socket, a library's error), anything foreign to the layer is a bug.
 */
export function toCode<L extends ErrorLayer>(code: unknown, ...layers: L[]): CodeOf<L> {
  const known = isErrorCode(code) && (ERRORS[code].layers as readonly ErrorLayer[]).some((l) => (layers as ErrorLayer[]).includes(l));
  return (known ? code : 'internal') as CodeOf<L>;
}

/** The addon's codes (native/src/error_codes.h). */
export type NativeErrorCode = CodeOf<'native'>;
/** What an EngineError carries: the engine's own codes and the addon's, which the host passes on. */
export type EngineErrorCode = CodeOf<'engine' | 'native'>;
export type StoreErrorCode = CodeOf<'store'>;
export type GgufErrorCode = CodeOf<'gguf'>;
export type IpcErrorCode = CodeOf<'ipc'>;
export type HubErrorCode = CodeOf<'hub'>;
export type UpdateErrorCode = CodeOf<'updates'>;

/** A code's hint with the message put in (an unknown code gets `internal`'s). */
export function hintFor(code: string, message: string): string {
  const hint = ERRORS[isErrorCode(code) ? code : 'internal'].hint;
  // functions: a `$` in the message is text, not a replacement pattern
  return hint.replace('{message}', () => message || code).replace('{Message}', () => sentence(message));
}

/** "this model … free" → "This model … free." */
export function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const s = t[0].toUpperCase() + t.slice(1);
  return /[.?!]$/.test(s) ? s : `${s}.`;
}
