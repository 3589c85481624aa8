/**
 * Which process owns a log file's name. The app and `hearth serve` (or two serves, and the engine
 * hosts of each) can share one data folder, and only one of them may rotate <name>.log: two would
 * rename each other's files away. The owner holds <name>.log.lock, a file with its pid created
 * exclusively; a lock whose pid no longer runs (its owner crashed or was killed) is taken over. The
 * others write <name>-<pid>.log (files.ts).
 */
import fs from 'fs';
import path from 'path';
import { makeDirs } from '../dirs';
import { openRegularFileSync } from '../regular-file';

/** Locks held by this process (one per name: a second logger on a name in this process is not its owner). */
const held = new Set<string>();

/** A lock file just created may not have its pid written yet: younger than this, it counts as held. */
const FRESH_MS = 5000;

/** Whether a process with this pid runs (EPERM: it does, under another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A pid file never needs more: a longer one is not a pid. */
const MAX_LOCK_BYTES = 32;

/**
 * What a lock file holds. 'missing': no file. 'foreign': something this process must neither read
 * nor move: not a regular file (a FIFO blocks a read, a link to /dev/zero never ends), or another
 * user's. Otherwise the pid it names, or null (empty, or not a pid), and when it was last written.
 */
export type LockState = 'missing' | 'foreign' | { pid: number | null; mtimeMs: number };

/** Reads a lock file with care (see LockState). Never blocks on it, never reads more than MAX_LOCK_BYTES, never throws. */
export function readLock(lock: string): LockState {
  let opened: ReturnType<typeof openRegularFileSync>;
  try {
    // not following a link, not blocking on a FIFO (../regular-file.ts)
    opened = openRegularFileSync(lock, { follow: false });
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'foreign';
  }
  if (!opened) return 'foreign';
  const { fd, st } = opened;
  try {
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) return 'foreign';
    const buf = Buffer.alloc(MAX_LOCK_BYTES + 1);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const pid = n > MAX_LOCK_BYTES ? NaN : Number(buf.subarray(0, n).toString('utf8').trim());
    return { pid: Number.isSafeInteger(pid) && pid > 0 ? pid : null, mtimeMs: st.mtimeMs };
  } catch {
    return 'foreign';
  } finally {
    fs.closeSync(fd);
  }
}

/** The pid in a lock file, or null (missing, empty, not a pid, or not a lock this process may read). */
export function lockOwner(lock: string): number | null {
  const s = readLock(lock);
  return typeof s === 'object' ? s.pid : null;
}

/** Whether a lock read as `s` was left by a process that ended (a lock without a pid: once it is no longer fresh). */
function stale(s: { pid: number | null; mtimeMs: number }): boolean {
  return s.pid !== null ? !pidAlive(s.pid) : Date.now() - s.mtimeMs > FRESH_MS;
}

/** Takes the lock for this process: true when it holds it now. Never throws. */
export function takeLock(lock: string): boolean {
  if (held.has(lock)) return false;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      held.add(lock);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return false; // no folder, read-only: not the owner
    }
    const found = readLock(lock);
    if (found === 'missing') continue; // gone meanwhile: the next attempt creates it
    if (found === 'foreign') return false; // not a lock to read or move: not the owner
    const pid = found.pid;
    // this pid, not held here: left by an ended process that had the same pid (a container's pid 1)
    if (pid === process.pid) {
      held.add(lock);
      return true;
    }
    if (!stale(found)) return false;
    // take the stale lock aside (a rename: only one process can), and check it was the stale one
    const aside = `${lock}.${process.pid}.stale`;
    try {
      fs.renameSync(lock, aside);
    } catch {
      continue; // another process took it aside first
    }
    try {
      const moved = readLock(aside);
      if (typeof moved !== 'object' || moved.pid !== pid) {
        // a live owner's lock (or something else), created since we read it: put it back unread unless
        // another took the name meanwhile (then the owner we moved sees that before it next rotates)
        try {
          fs.linkSync(aside, lock);
        } catch (e) {
          // a file system without hard links: write the live owner's pid again
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST' && typeof moved === 'object' && moved.pid !== null) fs.writeFileSync(lock, `${moved.pid}\n`, { flag: 'wx' });
        }
      }
    } catch {
      /* as said */
    }
    try {
      fs.rmSync(aside, { force: true });
    } catch {
      /* left behind: harmless, the name is free */
    }
  }
  return false;
}

/**
 * Whether this process still owns a lock it took (checked before each rotation). A lock file gone
 * with its folder (a user emptied the logs folder) is written again.
 */
export function stillOwned(lock: string): boolean {
  if (!held.has(lock)) return false;
  const found = readLock(lock);
  if (typeof found === 'object' && found.pid === process.pid) return true;
  if (found !== 'missing') return false;
  try {
    makeDirs(path.dirname(lock));
    fs.writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch {
    return false;
  }
}

/** Gives the lock up (its file removed when it still names this process). */
export function releaseLock(lock: string): void {
  if (!held.delete(lock)) return;
  if (lockOwner(lock) === process.pid) fs.rmSync(lock, { force: true });
}
