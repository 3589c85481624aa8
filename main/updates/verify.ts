/**
 * What the updater checks beyond electron-updater: a channel file is read only when its .sig verifies
 * with the public key the app carries (and what is parsed is the very bytes verified), and a
 * downloaded update is offered only when its own .sig verifies too. UpdateError carries the
 * catalogue's update codes; updateErrorOf gives any failure of a check or a download its code.
 */
import fs from 'fs';
import path from 'path';
import type { UpdateErrorCode } from '../errors/catalogue';
import { PUBLIC_KEY_FILE, verifyArtifact, verifyBytes } from './signature';

export class UpdateError extends Error {
  constructor(
    readonly code: UpdateErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'UpdateError';
  }
}

/** The channel file's text, when `signature` (its .sig, null: none was found) verifies for exactly `bytes`; else update_bad_signature. */
export function verifiedFeedText(bytes: Uint8Array, signature: string | null, publicKeyPem: string, name: string): string {
  if (signature === null) throw new UpdateError('update_bad_signature', `the update feed ${name} has no signature (${name}.sig)`);
  if (!verifyBytes(name, bytes, signature, publicKeyPem)) throw new UpdateError('update_bad_signature', `the signature of the update feed ${name} does not verify`);
  return Buffer.from(bytes).toString('utf8');
}

/** Throws update_bad_signature unless `signature` (null: none was found) is the carried key's signature of `file` (its SHA-512, streamed) under `name` (the file's name in the feed). */
export async function verifyDownloadedFile(file: string, name: string, signature: string | null, publicKeyPem: string): Promise<void> {
  if (signature === null) throw new UpdateError('update_bad_signature', `the update ${name} has no signature (${name}.sig)`);
  if (!(await verifyArtifact(name, file, signature, publicKeyPem))) throw new UpdateError('update_bad_signature', `the signature of the update ${name} does not verify`);
}

/** The public key the app carries (in the app's root: app.asar when packaged). */
export function readCarriedPublicKey(appRoot: string): string {
  return fs.readFileSync(path.join(appRoot, PUBLIC_KEY_FILE), 'utf8');
}

/** A failed check or download as the state shows it: our own codes as they are, electron-updater's sha512 check as update_checksum_mismatch, anything else update_failed. */
export function updateErrorOf(e: unknown): { code: UpdateErrorCode; message: string } {
  if (e instanceof UpdateError) return { code: e.code, message: e.message };
  const err = e as { code?: unknown; message?: unknown } | null;
  const message = typeof err?.message === 'string' ? err.message.split('\n')[0] : String(e);
  if (err?.code === 'ERR_CHECKSUM_MISMATCH' || /checksum mismatch/i.test(message)) return { code: 'update_checksum_mismatch', message };
  return { code: 'update_failed', message };
}
