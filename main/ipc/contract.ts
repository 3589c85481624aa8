/**
 * The one IPC contract: channel names with zod schemas for request and response. Imported by main,
 * the Electron preload, the browser-mode WebSocket bridge and the renderer.
 */
import { z } from 'zod';

export const DeviceInfo = z.object({
  backend: z.string(),
  name: z.string(),
  description: z.string(),
  type: z.string(),
  memoryTotal: z.number(),
  memoryFree: z.number(),
});

export const AppInfo = z.object({
  appVersion: z.string(),
  llamaCommit: z.string(),
  backends: z.array(z.string()),
  devices: z.array(DeviceInfo),
  dataDir: z.string(),
  engineError: z.string().optional(),
});
export type AppInfo = z.infer<typeof AppInfo>;

export const contract = {
  'app.info': { request: z.object({}).strict(), response: AppInfo },
} as const;

export type Channel = keyof typeof contract;
export type RequestOf<C extends Channel> = z.input<(typeof contract)[C]['request']>;
export type ResponseOf<C extends Channel> = z.infer<(typeof contract)[C]['response']>;

/** Frames on the browser-mode WebSocket. */
export const WsRequest = z.object({ id: z.number().int(), channel: z.string(), payload: z.unknown() });
export const WsResponse = z.union([
  z.object({ id: z.number().int(), ok: z.literal(true), result: z.unknown() }),
  z.object({ id: z.number().int(), ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type WsResponse = z.infer<typeof WsResponse>;

export class IpcError extends Error {
  constructor(
    public readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function isChannel(name: string): name is Channel {
  return Object.prototype.hasOwnProperty.call(contract, name);
}
