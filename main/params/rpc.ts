/**
 * Remote devices' endpoints (llama.cpp's RPC backend, main/engine/rpc.ts): `host:port`, as the
 * hardware setting, `hearth devices --rpc` and the engine take them. zod only (the renderer imports it).
 */
import { z } from 'zod';

/** ggml-rpc's limit on servers (ggml-rpc.h GGML_RPC_MAX_SERVERS). */
export const RPC_SERVERS_MAX = 16;

/** The port rpc-server listens on by default (llama.cpp's tools/rpc). */
export const RPC_DEFAULT_PORT = 50052;

const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$/;

/** `host:port` → its parts (an IPv6 address without its brackets), or undefined when it is not one. */
export function parseEndpoint(s: string): { host: string; port: number } | undefined {
  const colon = s.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const host = s.slice(0, colon);
  const portText = s.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535 || !HOST.test(host)) return undefined;
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port };
}

/** `host:port`: a host name, an IPv4 address or a bracketed IPv6 address, and a port 1-65535. */
export const RpcEndpoint = z
  .string()
  .trim()
  .max(300)
  .refine((s) => parseEndpoint(s) !== undefined, { message: 'must be host:port (e.g. 192.168.1.20:50052; an IPv6 address in brackets)' });

/** A list of endpoints: distinct, at most RPC_SERVERS_MAX. */
export const RpcEndpoints = z
  .array(RpcEndpoint)
  .max(RPC_SERVERS_MAX)
  .refine((l) => new Set(l).size === l.length, { message: 'lists an endpoint twice' });
