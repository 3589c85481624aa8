/**
 * Session files as native/src/session.cpp writes them (HEARTHS2): where their parts are, and edits that
 * keep the file's own length and checksum in agreement with an edited state (to reach llama.cpp's reader).
 */

/** Where a session file's parts begin. */
export function sessionLayout(buf: Buffer) {
  const headerBytes = buf.readUInt32LE(8);
  const tokensAt = 12 + headerBytes;
  const lengthAt = tokensAt + 4 + 4 * buf.readUInt32LE(tokensAt);
  return { headerBytes, tokensAt, lengthAt, stateAt: lengthAt + 16 };
}

/** The state's length and checksum made to agree with an edited state (the layout of the file before the edit). */
export function agreeingSession(b: Buffer, { lengthAt, stateAt }: { lengthAt: number; stateAt: number }): Buffer {
  b.writeBigUInt64LE(BigInt(b.length - stateAt), lengthAt);
  b.writeBigUInt64LE(sessionChecksum(b.subarray(stateAt)), lengthAt + 8);
  return b;
}

/**
 * native/src/session.cpp's checksum of a session's state, as the file format states it (four lanes of a
 * 64-bit multiply-rotate mix over 8-byte words, the bytes past the last 32 one at a time, then the length).
 */
export function sessionChecksum(b: Buffer): bigint {
  const M64 = (1n << 64n) - 1n;
  const mix = (h: bigint, w: bigint): bigint => {
    h ^= (w * 0x9e3779b97f4a7c15n) & M64;
    h = ((h << 31n) | (h >> 33n)) & M64;
    return (h * 0xc2b2ae3d27d4eb4fn) & M64;
  };
  const lanes = [1n, 2n, 3n, 4n];
  let i = 0;
  for (; i + 32 <= b.length; i += 32) for (let l = 0; l < 4; l++) lanes[l] = mix(lanes[l], b.readBigUInt64LE(i + 8 * l));
  for (; i < b.length; i++) lanes[i % 4] = mix(lanes[i % 4], BigInt(b[i]));
  return mix(mix(mix(mix(BigInt(b.length), lanes[0]), lanes[1]), lanes[2]), lanes[3]);
}
