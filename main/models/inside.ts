/**
 * Whether a path lies inside a folder, the one way every check of the models folder asks it (a move's
 * target, a file to delete, the loaded model before a move).
 */
import path from 'path';

/**
 * Whether `child` is `parent` itself (unless `orSelf` is false) or lies under it, by their resolved
 * paths. Correct where a plain `startsWith('..')` is not: on Windows a path on another drive is never
 * inside (path.win32.relative answers an absolute path then), and a name that begins with `..`
 * (`..foo`) is inside. `p`: the path flavour (path.win32 or path.posix; the platform's by default).
 */
export function inside(parent: string, child: string, { orSelf = true, p = path }: { orSelf?: boolean; p?: path.PlatformPath } = {}): boolean {
  const rel = p.relative(p.resolve(parent), p.resolve(child));
  if (rel === '') return orSelf;
  return rel !== '..' && !rel.startsWith(`..${p.sep}`) && !p.isAbsolute(rel);
}
