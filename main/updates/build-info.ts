/**
 * Which build a package is: scripts/package-app.js writes `hearthBuild: { gpu }` into the packaged
 * package.json (electron-builder's extraMetadata), and each GPU build (cpu, vulkan, cuda, metal:
 * package-app.js's GPUS) has its own feed folder, `<feed URL>/<gpu>/`, which scripts/release writes
 * (--out DIR/<gpu>) — so a CUDA install updates to the next CUDA build, never to the CPU one.
 */
import fs from 'fs';
import path from 'path';
import { z } from 'zod';

/** The packaged package.json's key. */
export const BUILD_INFO_KEY = 'hearthBuild';

/** A GPU build's name: also a folder of the feed, so a plain lowercase word. */
export const BuildGpu = z.string().regex(/^[a-z0-9]{1,16}$/, 'a build name is a lowercase word (cpu, vulkan, cuda, metal)');

const BuildInfo = z.object({ gpu: BuildGpu });
export type BuildInfo = z.infer<typeof BuildInfo>;

/** The build info of the app whose root (app.asar when packaged) is `appRoot`, or null when it has none (a development run). */
export function readBuildInfo(appRoot: string): BuildInfo | null {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(appRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
    const r = BuildInfo.safeParse(pkg[BUILD_INFO_KEY]);
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

/** The feed folder of a GPU build under the feed's root URL. */
export function feedUrlOf(root: string, gpu: string): string {
  return new URL(`${BuildGpu.parse(gpu)}/`, root.endsWith('/') ? root : `${root}/`).href;
}
