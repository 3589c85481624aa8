/** Errors from main (BridgeError codes) turned into words with a next step, for inline display. */
import { BridgeError } from './bridge';

/** The serializable form of an error kept in the store. */
export interface ErrorInfo {
  code: string;
  message: string;
}

export function toErrorInfo(e: unknown): ErrorInfo {
  if (e instanceof BridgeError) return { code: e.code, message: e.message };
  if (e && typeof e === 'object') {
    const o = e as { code?: unknown; message?: unknown };
    return { code: typeof o.code === 'string' ? o.code : 'internal', message: typeof o.message === 'string' ? o.message : String(e) };
  }
  return { code: 'internal', message: String(e) };
}

const HINTS: Record<string, string> = {
  no_model: 'The model is not loaded — pick one in the header.',
  no_models: 'There are no models yet — put a .gguf file in the models folder (Settings → Data shows where), then pick it in the header.',
  engine_crashed: 'The engine stopped and restarted — try again.',
  engine_hung: 'The engine stopped responding, so Hearth restarted it — try again.',
  engine_unavailable: 'The engine keeps stopping, so Hearth stopped restarting it — restart Hearth or pick a smaller model.',
  out_of_memory: 'There is not enough memory for this — close other programs, or pick a smaller model or a shorter chat.',
  context_overflow: "The chat no longer fits in the model's context — start a new chat, or edit an earlier message to shorten it.",
  busy: 'The engine is busy with another reply — wait for it to finish or press Stop.',
  invalid_model: 'This model file cannot be read — it may be incomplete or not a GGUF model. Pick another one.',
  not_found: 'That chat or message no longer exists — it may have been deleted in another window.',
  model_unknown: 'That model is not in the library — put the .gguf file in the models folder (Settings → Data shows where), then pick it in the header.',
  disconnected: 'Lost the connection to Hearth — check that it is still running, then try again.',
  forbidden: 'Hearth refused this request — reload the page.',
  unauthorized: 'This page has no Hearth token — open the URL Hearth printed when it started (it carries the token).',
};

/** One sentence saying what happened and what to do next. */
export function describeError(err: ErrorInfo): string {
  const hint = HINTS[err.code];
  if (hint) return hint;
  // the guardrail's answers carry the numbers (needs, margin, free per device): keep them
  if (err.code === 'insufficient_memory') {
    return `Not loaded: ${sentence(err.message)} Lower the GPU layers or the context length, or change the guardrail in Settings → Models.`;
  }
  if (err.code === 'needs_confirmation') return sentence(err.message);
  // names the model and says what to do (main/engine/watchdog.ts)
  if (err.code === 'template_timeout') return sentence(err.message);
  if (err.code === 'invalid_input') return `That was not accepted: ${err.message}`;
  return `Something went wrong: ${err.message || err.code}`;
}

/** "this model … free" → "This model … free." */
function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const s = t[0].toUpperCase() + t.slice(1);
  return /[.?!]$/.test(s) ? s : `${s}.`;
}

/** A reply the store could not save (main/chat/service.ts: `store_<code>: …`): generation was stopped. */
const STORE_HINTS: Record<string, string> = {
  store_too_large: 'This reply reached the size limit for one message, so it was stopped — continue in a new message.',
  store_write_failed: 'Hearth could not save this reply (the disk may be full), so it was stopped — free some space, then regenerate.',
  store_busy: 'Hearth could not save this reply (its database stayed locked), so it was stopped — regenerate it.',
  store_closed: 'This reply was already finished; later text was not saved.',
};

/** MessageDTO.error is free text from main; it may start with or contain a known code. */
export function describeMessageError(error: string): string {
  const store = Object.keys(STORE_HINTS).find((c) => error.startsWith(`${c}:`));
  if (store) return STORE_HINTS[store];
  if (error.startsWith('template_timeout:')) return sentence(error.slice('template_timeout:'.length));
  const code = Object.keys(HINTS).find((c) => error === c || error.startsWith(`${c}:`) || error.includes(c));
  return code ? HINTS[code] : `The reply failed: ${error}`;
}
