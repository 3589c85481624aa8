/**
 * A failed install relaunches the app (its services and engine host were already closed), so the
 * reason is kept in a small file the next start reads once: Settings → Updates then says the update
 * was not installed and why, instead of the reason living only in the log.
 */
import fs from 'fs';
import path from 'path';
import { z } from 'zod';
import { readRegularFileSync } from '../regular-file';

/** The most an install-failure note is read to. */
const MAX_NOTE_BYTES = 64 * 1024;

const InstallFailure = z.object({ version: z.string().max(100), message: z.string().max(2000), at: z.number() }).strict();
export type InstallFailure = z.infer<typeof InstallFailure>;

export interface InstallFailureNote {
  /** the failure kept by the run before, once (the note is removed), or null */
  take(): InstallFailure | null;
  keep(f: InstallFailure): void;
}

/** The note as a JSON file (in the data folder's updater/ folder); a missing or unreadable file is no note. */
export function installFailureFile(file: string): InstallFailureNote {
  return {
    take() {
      let text: string;
      try {
        // a regular file only, bounded: a note is a few hundred bytes
        const bytes = readRegularFileSync(file, MAX_NOTE_BYTES);
        if (bytes === null) return null;
        text = bytes.toString('utf8');
      } catch {
        return null;
      }
      fs.rmSync(file, { force: true });
      try {
        const r = InstallFailure.safeParse(JSON.parse(text));
        return r.success ? r.data : null;
      } catch {
        return null;
      }
    },
    keep(f) {
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, JSON.stringify(InstallFailure.parse({ ...f, version: f.version.slice(0, 100), message: f.message.slice(0, 2000) })));
      } catch {
        /* a full or read-only disk: the reason is still in the log */
      }
    },
  };
}
