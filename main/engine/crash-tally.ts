/**
 * Engine hosts that crashed on something (a load of a file with given settings, a file's chat template
 * while it rendered a chat), counted by key while the file is unchanged: after two hosts, that thing is
 * refused at once instead of crashing the engine, and every model in it, each time. One crash counts
 * once however many requests shared it; a replaced or edited file starts the count again.
 */
import { promises as fsp } from 'fs';
import type { EngineError } from './protocol';

/** A file as it is now: a replaced or edited file is another one. */
export async function fileIdentity(file: string): Promise<string | undefined> {
  try {
    const st = await fsp.stat(file, { bigint: true });
    return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(':');
  } catch {
    return undefined;
  }
}

/** the hosts after whose crashes a thing is refused */
export const CRASHES_REFUSED = 2;

interface Entry {
  file: string;
  identity: Promise<string | undefined>;
  /** the hosts, by HostChannel.serial */
  hosts: Set<number>;
  error?: EngineError;
}

export class CrashTally {
  private readonly entries = new Map<string, Entry>();

  /**
   * The host numbered `host` (HostChannel.serial) crashed on `key` (whose file is `file`, as it is now). True when this made
   * CRASHES_REFUSED hosts: from then on `refusal(key)` is the error `refuse` makes.
   */
  note(key: string, file: string, host: number, refuse: () => EngineError): boolean {
    const entry = this.entries.get(key) ?? { file, identity: fileIdentity(file), hosts: new Set<number>() };
    entry.hosts.add(host);
    this.entries.set(key, entry);
    if (entry.hosts.size < CRASHES_REFUSED || entry.error) return false;
    entry.error = refuse();
    return true;
  }

  /** The refusal of `key` while its file is what it was when it crashed; a changed file forgets the count. */
  async refusal(key: string): Promise<EngineError | undefined> {
    const known = this.entries.get(key);
    if (!known?.error) return undefined;
    if ((await known.identity) === (await fileIdentity(known.file))) return known.error;
    if (this.entries.get(key) === known) this.entries.delete(key);
    return undefined;
  }

  /** It worked: the count starts again. */
  clear(key: string): void {
    this.entries.delete(key);
  }
}
