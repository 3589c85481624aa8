/**
 * The fetch fetch_url uses by default while private addresses are refused: undici's, through an
 * Agent whose connections look the host up through the private-network rule. The check before each
 * request (./private-address.ts checkPublicHost) resolves the name once; the connection resolves it
 * again, and a name whose answer changes in between (DNS rebinding) would reach the private address
 * the first answer hid. Here the connection's own lookup refuses it. (An IP literal is never looked
 * up, and the check before the request already judged it.)
 *
 * undici's fetch with undici's Agent, not the global fetch: its bundled undici may be another version
 * (as main/models/net.ts).
 */
import type { LookupAddress } from 'dns';
import type { LookupFunction } from 'net';
import { Agent, fetch as undiciFetch } from 'undici';
import { ToolFailure } from './outcome';
import { isPrivateAddress, type Lookup } from './private-address';

/** The system error codes (errno names, as dns and net give them; not Hearth's error codes) a refused lookup carries. */
const LOOKUP_CODES = { private: 'EPRIVATE', notFound: 'ENOTFOUND' } as const;

/** A net.connect lookup that answers only public addresses (a private one fails the connection). */
export function publicOnlyLookup(lookup: Lookup): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { all: true }).then(
      (found) => {
        const bad = found.find((a) => isPrivateAddress(a.address));
        if (bad) {
          const refusal = Object.assign(new ToolFailure(`refused: ${hostname} (${bad.address}) is a private-network address (it resolved to a public one a moment before)`), { code: LOOKUP_CODES.private });
          return callback(refusal, '', 0);
        }
        const family = options.family === 4 || options.family === 6 ? options.family : 0;
        const usable: LookupAddress[] = family ? found.filter((a) => a.family === family) : found;
        if (usable.length === 0) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: LOOKUP_CODES.notFound }), '', 0);
        // net.connect asks for every address when it races the families (autoSelectFamily)
        if (options.all) return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, usable);
        callback(null, usable[0].address, usable[0].family);
      },
      (e: NodeJS.ErrnoException) => callback(e, '', 0),
    );
  };
}

/** A fetch whose connections reach public addresses only. */
export function pinnedFetch(lookup: Lookup): typeof fetch {
  const agent = new Agent({ connect: { lookup: publicOnlyLookup(lookup) } });
  const f = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    try {
      return (await undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as object), dispatcher: agent })) as unknown as Response;
    } catch (e) {
      // the refusal above comes back as fetch's cause: it is the tool's answer
      const cause = (e as { cause?: unknown }).cause;
      if (cause instanceof ToolFailure && !init?.signal?.aborted) throw cause;
      throw e;
    }
  };
  return f as typeof fetch;
}
