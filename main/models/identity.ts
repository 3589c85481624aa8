/**
 * What makes two model files the same model, defined once: the same size and the same bytes at the
 * start of the file (the GGUF header and the first tensors: IDENTITY_HEAD_BYTES), and, where both
 * sides know the whole file's SHA-256 (an Ollama blob is named by it, Jan's model.yml records it), the
 * same SHA-256. An Ollama blob and LM Studio's copy of the same GGUF are one model with two locations.
 *
 * Hashing the whole file would read gigabytes per model; the head is read once per file (a few MiB).
 * A known SHA-256 is taken as its owner states it (Ollama checks its blobs when it pulls them).
 */
import crypto from 'crypto';
import { openModelFile } from '../gguf/cache';

/** The bytes hashed at the start of each file. */
export const IDENTITY_HEAD_BYTES = 4 * 1024 * 1024;

/** A whole file's SHA-256 as its owner names it: 64 lowercase hex digits. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface ModelIdentity {
  /** `<size>:<sha256 of the head>`: equal keys, same model (unless known SHA-256s differ) */
  key: string;
  size: number;
  headSha256: string;
  /** the whole file's SHA-256 when its owner states it, else null */
  sha256: string | null;
}

/** The identity of a regular file (its size and head read through one open handle). */
export async function modelIdentity(file: string, knownSha256: string | null = null): Promise<ModelIdentity> {
  const fh = await openModelFile(file);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error(`${file} is not a regular file`);
    const n = Math.min(st.size, IDENTITY_HEAD_BYTES);
    const buf = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(buf, got, n - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const headSha256 = crypto.createHash('sha256').update(buf.subarray(0, got)).digest('hex');
    const sha256 = knownSha256 !== null && SHA256_HEX.test(knownSha256) ? knownSha256 : null;
    return { key: `${st.size}:${headSha256}`, size: st.size, headSha256, sha256 };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Whether two identities are one model. */
export function sameModel(a: ModelIdentity, b: ModelIdentity): boolean {
  if (a.key !== b.key) return false;
  return a.sha256 === null || b.sha256 === null || a.sha256 === b.sha256;
}

/**
 * Items grouped by identity (sameModel), in the order first seen. An item whose SHA-256 is unknown
 * joins the first group of its key.
 */
export function groupByIdentity<T extends { identity: ModelIdentity }>(items: readonly T[]): T[][] {
  const groups: { identity: ModelIdentity; items: T[] }[] = [];
  for (const item of items) {
    const g = groups.find((x) => sameModel(x.identity, item.identity));
    if (g) {
      g.items.push(item);
      if (g.identity.sha256 === null && item.identity.sha256 !== null) g.identity = item.identity;
    } else groups.push({ identity: item.identity, items: [item] });
  }
  return groups.map((g) => g.items);
}
