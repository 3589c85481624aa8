/** Errors from main (BridgeError codes) turned into words with a next step, for inline display. */
import { ERRORS, ErrorSpec, hintFor, isErrorCode } from '../../../main/errors/catalogue';
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

/** One sentence saying what happened and what to do next: the catalogue's hint (main/errors/catalogue.ts). */
export function describeError(err: ErrorInfo): string {
  return hintFor(err.code, err.message);
}

/**
 * MessageDTO.error is `<code>: <message>` from main (main/chat/steps.ts), or `store_<code>: …` when the
 * store could not save the reply (generation was then stopped).
 */
export function describeMessageError(error: string): string {
  const m = /^([a-z_]+)(?::\s*([\s\S]*))?$/.exec(error);
  const [code, message] = m ? [m[1], m[2] ?? ''] : ['', error];
  const stored = code.startsWith('store_') ? code.slice('store_'.length) : '';
  if (isErrorCode(stored)) {
    const spec: ErrorSpec = ERRORS[stored];
    if (spec.replyHint) return spec.replyHint;
  }
  return isErrorCode(code) ? hintFor(code, message) : `The reply failed: ${error}`;
}
