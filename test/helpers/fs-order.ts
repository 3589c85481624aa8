/**
 * Records the order of the file-system calls that make a file durable, through jest spies on the real
 * fs.promises (nothing is faked: every call still runs): `sync <path>` for every FileHandle.sync()
 * (the path the handle was opened with), `rename <from> → <to>`, `rm <path>`. Power loss cannot be
 * tested; the order of flush, rename, flush and delete can.
 */
import fs from 'fs';

export function recordFsOrder(log: string[], name: (p: string) => string = (p) => p): void {
  const fsp = fs.promises;
  const open = fsp.open.bind(fsp);
  const rename = fsp.rename.bind(fsp);
  const rm = fsp.rm.bind(fsp);
  jest.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
    const fh = await open(...args);
    const sync = fh.sync.bind(fh);
    fh.sync = async () => {
      await sync();
      log.push(`sync ${name(String(args[0]))}`);
    };
    return fh;
  });
  jest.spyOn(fsp, 'rename').mockImplementation(async (a, b) => {
    await rename(a, b);
    log.push(`rename ${name(String(a))} → ${name(String(b))}`);
  });
  jest.spyOn(fsp, 'rm').mockImplementation(async (p, o) => {
    await rm(p, o);
    log.push(`rm ${name(String(p))}`);
  });
}
