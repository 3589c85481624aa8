/**
 * The Hugging Face token the user sets: kept in <data>/hf-token (mode 0600), encrypted with the
 * encrypt/decrypt pair main/app passes (Electron's safeStorage: the OS keychain) when there is one,
 * else in clear (browser mode, the hearth command, a desktop without a keychain) with a warning that
 * the settings channel returns. Without a saved token, HF_TOKEN from the environment is used. The
 * token leaves this file only towards the hub (HubClient, DownloadManager), never towards a page.
 */
import fs from 'fs';
import path from 'path';
import { readRegularFileSync } from '../regular-file';
import type { Logger } from '../logging';
import { hfTokenSchema, tokenFromEnv } from '../ipc/models';

import type { SecretCipher } from '../cipher';

export type { SecretCipher };

export type TokenStorage = 'keychain' | 'file' | 'environment' | 'none';

/** What the settings page is told when the token sits in a plain file. */
export const PLAIN_TOKEN_WARNING =
  'The Hugging Face token is stored unencrypted in the data folder (no OS keychain here): anyone who can read that folder can read it.';

const KEYCHAIN_MAGIC = 'hearth-safestorage:';
/** The most bytes <data>/hf-token may have: a token (at most hfTokenSchema's 512 characters) encrypted and in base64 is far less. */
const TOKEN_FILE_BYTES = 16 * 1024;

export class TokenVault {
  private readonly file: string;
  private cached: string | null | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    dataDir: string,
    private readonly opts: { cipher?: SecretCipher; env?: NodeJS.ProcessEnv; logger: Logger },
  ) {
    this.file = path.join(dataDir, 'hf-token');
  }

  /**
   * The token file's text: null when there is none; thrown when it is not a regular file of at most
   * TOKEN_FILE_BYTES (a link, a folder, a FIFO, a huge file: never read).
   */
  private fileText(): string | null {
    if (!fs.lstatSync(this.file, { throwIfNoEntry: false })) return null;
    const raw = readRegularFileSync(this.file, TOKEN_FILE_BYTES);
    if (!raw) throw new Error(`it is not a regular file of at most ${TOKEN_FILE_BYTES} bytes`);
    return raw.toString('utf8');
  }

  /** The saved token (decrypted and checked as a token), null when none or unreadable (logged). */
  private saved(): string | null {
    if (this.cached !== undefined) return this.cached;
    let text: string | null = null;
    try {
      const s = this.fileText();
      if (s === null) text = null;
      else if (s.startsWith(KEYCHAIN_MAGIC)) {
        if (!this.opts.cipher) throw new Error('it was encrypted with the OS keychain, which is not available here');
        text = this.opts.cipher.decrypt(Buffer.from(s.slice(KEYCHAIN_MAGIC.length).trim(), 'base64'));
      } else text = s.trim() || null;
      if (text !== null) {
        const r = hfTokenSchema.safeParse(text);
        if (!r.success) throw new Error(`it is not a Hugging Face token (${r.error.issues[0].message})`);
        text = r.data;
      }
    } catch (e) {
      this.opts.logger.warn(`settings: the Hugging Face token could not be read: ${(e as Error).message}`);
      text = null;
    }
    this.cached = text;
    return text;
  }

  private savedStorage(): TokenStorage | null {
    try {
      const s = this.fileText();
      return s === null ? null : s.startsWith(KEYCHAIN_MAGIC) ? 'keychain' : 'file';
    } catch {
      return null;
    }
  }

  /** A token is saved but kept with the OS keychain, which this process has no access to (the hearth command). */
  lockedHere(): boolean {
    return !this.opts.cipher && this.savedStorage() === 'keychain';
  }

  /** The token the hub gets: the saved one, else HF_TOKEN; undefined when neither. */
  token(): string | undefined {
    return this.saved() ?? tokenFromEnv(this.opts.env);
  }

  storage(): TokenStorage {
    if (this.saved() !== null) return this.savedStorage() ?? 'none';
    return tokenFromEnv(this.opts.env) ? 'environment' : 'none';
  }

  warnings(): string[] {
    return this.saved() !== null && this.savedStorage() === 'file' ? [PLAIN_TOKEN_WARNING] : [];
  }

  /** Saves a token (encrypted when a cipher is there), or forgets it (null). */
  set(token: string | null): void {
    if (token === null) fs.rmSync(this.file, { force: true });
    else {
      const body = this.opts.cipher ? KEYCHAIN_MAGIC + this.opts.cipher.encrypt(token).toString('base64') : token;
      const tmp = `${this.file}.tmp`;
      fs.writeFileSync(tmp, body, { mode: 0o600 });
      fs.renameSync(tmp, this.file);
    }
    this.cached = undefined;
    for (const l of this.listeners) l();
  }

  /** Told whenever the token changes. */
  onChange(fn: () => void): void {
    this.listeners.add(fn);
  }
}
