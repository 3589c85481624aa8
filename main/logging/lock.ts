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

/** The pid in a lock file, or null (missing, empty, or not a pid). */
export function lockOwner(lock: string): number | null {
  try {
    const pid = Number(fs.readFileSync(lock, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function stale(lock: string, pid: number | null): boolean {
  if (pid !== null) return !pidAlive(pid);
  try {
    return Date.now() - fs.statSync(lock).mtimeMs > FRESH_MS;
  } catch {
    return false; // gone: the next attempt creates it
  }
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
    const pid = lockOwner(lock);
    // this pid, not held here: left by an ended process that had the same pid (a container's pid 1)
    if (pid === process.pid) {
      held.add(lock);
      return true;
    }
    if (!stale(lock, pid)) return false;
    // take the stale lock aside (a rename: only one process can), and check it was the stale one
    const aside = `${lock}.${process.pid}.stale`;
    try {
      fs.renameSync(lock, aside);
    } catch {
      continue; // another process took it aside first
    }
    try {
      if (lockOwner(aside) !== pid) {
        // a live owner's lock, created since we read it: put it back unless another took the name
        // meanwhile (then the owner we moved sees that before it next rotates)
        fs.writeFileSync(lock, fs.readFileSync(aside), { flag: 'wx' });
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
  const pid = lockOwner(lock);
  if (pid === process.pid) return true;
  if (pid !== null || fs.existsSync(lock)) return false;
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
