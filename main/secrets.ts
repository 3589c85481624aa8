/**
 * Secrets Hearth keeps for what it talks to: the tools' (web search keys, MCP servers' environment
 * and header values: <data>/tool-secrets.json) and the remote providers' API keys
 * (<data>/provider-secrets.json). Each file has mode 0600, each value encrypted with the cipher main/app passes
 * (Electron's safeStorage: the OS keychain) when there is one, else in clear (browser mode, `hearth
 * serve`) — which the Tools settings say. Values leave the file only towards what uses them, never
 * towards a page: tools.status names the secrets that are set, providers.list shows a key masked.
 */
import fs from 'fs';
import path from 'path';
import { z } from 'zod';
import type { Logger } from './logging';
import { readRegularFileSync } from './regular-file';

/** The most a secrets file is read to (a few keys take a few KiB; the schema's values up to 64 KiB each). */
const MAX_SECRETS_FILE_BYTES = 16 * 1024 * 1024;
import type { SecretCipher } from './cipher';

const FileSchema = z.record(z.string().max(600), z.object({ keychain: z.boolean(), value: z.string().max(64 * 1024) }).strict());

export class SecretStore {
  private readonly file: string;
  private cache: z.infer<typeof FileSchema> | null = null;
  /** why the file there could not be read or used (not a regular file, too large, not parsed): moved aside before a write */
  private unreadable: string | null = null;

  constructor(
    dataDir: string,
    private readonly opts: { cipher?: SecretCipher; logger: Logger; file?: string },
  ) {
    this.file = path.join(dataDir, opts.file ?? 'tool-secrets.json');
  }

  /** Where values are kept: encrypted with the OS keychain, or a file only this user may read. */
  get kind(): 'keychain' | 'file' {
    return this.opts.cipher ? 'keychain' : 'file';
  }

  private read(): z.infer<typeof FileSchema> {
    if (this.cache) return this.cache;
    let data: z.infer<typeof FileSchema> = {};
    const name = path.basename(this.file);
    // a file there that cannot be used is kept under another name before a write (its secrets are not lost)
    const unusable = (why: string) => {
      this.unreadable = why;
      this.opts.logger.warn(`secrets: ${name} ${why}: its secrets are not used; it is kept as ${name}.unreadable-<time> when a secret is next set`);
    };
    try {
      // a regular file only (a link to one is followed: a dotfiles setup), bounded: a FIFO or a link to a device
      // in the data folder would block or never end
      const bytes = readRegularFileSync(this.file, MAX_SECRETS_FILE_BYTES, { follow: true });
      if (bytes === null) {
        if (fs.existsSync(this.file)) unusable(`is not a regular file, or holds more than ${MAX_SECRETS_FILE_BYTES / 1024 / 1024} MiB`);
      } else {
        const parsed = FileSchema.safeParse(JSON.parse(bytes.toString('utf8')));
        if (parsed.success) data = parsed.data;
        else unusable('does not parse');
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') unusable(`could not be read (${(e as Error).message})`);
    }
    this.cache = data;
    return data;
  }

  private write(data: z.infer<typeof FileSchema>): void {
    if (this.unreadable) {
      // what could not be read or used is moved aside, not written over (gone meanwhile: nothing to keep)
      const kept = `${this.file}.unreadable-${Date.now()}`;
      try {
        fs.renameSync(this.file, kept);
        this.opts.logger.warn(`secrets: ${path.basename(this.file)} (${this.unreadable}) was moved to ${path.basename(kept)}; its secrets are not used`);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      this.unreadable = null;
    }
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(data), { mode: 0o600 });
    // the mode applies to a file the write creates: a stale one left by a crash keeps its own
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, this.file);
    this.cache = data;
  }

  /** A secret's value; null when not set, or kept with a keychain this process cannot use (logged). */
  get(name: string): string | null {
    const e = this.read()[name];
    if (!e) return null;
    if (!e.keychain) return e.value;
    if (!this.opts.cipher) {
      this.opts.logger.warn(`secrets: ${name} was kept with the OS keychain, which is not available here`);
      return null;
    }
    try {
      return this.opts.cipher.decrypt(Buffer.from(e.value, 'base64'));
    } catch (err) {
      this.opts.logger.warn(`secrets: ${name} could not be decrypted: ${(err as Error).message}`);
      return null;
    }
  }

  /** A secret as it is kept (encrypted or not): to move it under another name without reading it (a keychain this process cannot use). */
  raw(name: string): { keychain: boolean; value: string } | null {
    return this.read()[name] ?? null;
  }

  /** Keeps a secret as raw() gave it. */
  setRaw(name: string, entry: { keychain: boolean; value: string }): void {
    this.write({ ...this.read(), [name]: entry });
  }

  /** Sets a secret, or forgets it (null). */
  set(name: string, value: string | null): void {
    const data = { ...this.read() };
    if (value === null) delete data[name];
    else data[name] = this.opts.cipher ? { keychain: true, value: this.opts.cipher.encrypt(value).toString('base64') } : { keychain: false, value };
    this.write(data);
  }

  /** Forgets every secret whose name starts with `prefix`. */
  deletePrefix(prefix: string): void {
    const data = Object.fromEntries(Object.entries(this.read()).filter(([k]) => !k.startsWith(prefix)));
    this.write(data);
  }

  names(): string[] {
    return Object.keys(this.read());
  }
}
