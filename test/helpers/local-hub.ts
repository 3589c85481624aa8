/**
 * A suite's local Hugging Face hub (hf-server.ts) over the generated tiny models, with a temporary
 * folder: one setup for the hub, download, fit and pull suites.
 */
import { createHash } from 'crypto';
import fs from 'fs';
import { tempDir } from './engine';
import { startHfServer, type HfServer, type HfServerOptions } from './hf-server';
import { TINY_EMBED, TINY_SPM } from './models';

/** The SHA-256 of some bytes, in hex (what the hub lists for an LFS file). */
export const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface LocalHub {
  server: HfServer;
  /** the bytes of TINY_SPM and TINY_EMBED, which the repos serve */
  spm: Buffer;
  embed: Buffer;
  /** a temporary folder, removed after the suite */
  dir: string;
}

/**
 * Registers the suite's beforeAll (read the tiny models, start the hub with the options `options`
 * makes of them, make the folder) and afterAll (close the hub, remove the folder). The fields are
 * set once beforeAll has run.
 */
export function useLocalHub(dirPrefix: string, options: (models: { spm: Buffer; embed: Buffer }) => HfServerOptions): LocalHub {
  const hub = {} as LocalHub;
  beforeAll(async () => {
    hub.spm = fs.readFileSync(TINY_SPM);
    hub.embed = fs.readFileSync(TINY_EMBED);
    hub.server = await startHfServer(options(hub));
    hub.dir = tempDir(dirPrefix);
  });
  afterAll(async () => {
    await hub.server?.close();
    if (hub.dir) fs.rmSync(hub.dir, { recursive: true, force: true });
  });
  return hub;
}
