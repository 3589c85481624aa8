/**
 * The API server as the app runs it (composeApp's ApiService over the real store and engine host) on
 * a free loopback port, with a generated model in the library, for tests that talk to it with each
 * API's official client or raw HTTP.
 */
import type { ApiServerSettingsInput, ApiStatusDTO } from '../../main/ipc/api';
import { chatApp, type ChatApp, type ChatAppOptions } from './chat';

export interface ApiApp extends ChatApp {
  /** the server's base URL (no /v1) */
  url: string;
  port: number;
  /** the library name of the model (its file name without .gguf) */
  modelName: string;
  status(): ApiStatusDTO;
}

/** Starts the API server (port 0: a free one) with `settings` over a chat app with `opts`. */
export async function apiApp(settings: ApiServerSettingsInput = {}, opts: ChatAppOptions = {}): Promise<ApiApp> {
  const c = chatApp({ modelAs: 'tiny.gguf', ...opts });
  // the guardrail would estimate every just-in-time load; these tiny models always fit
  c.app.store.settings.set('guardrail', 'off');
  const status = await c.app.api.update({ enabled: true, port: 0, ...settings });
  if (status.phase !== 'running') {
    await c.close();
    throw new Error(`the API server did not start: ${status.error}`);
  }
  const url = status.url!;
  return {
    ...c,
    url,
    port: Number(new URL(url).port),
    modelName: (opts.modelAs ?? 'tiny.gguf').replace(/\.gguf$/, '').split('/').pop()!,
    status: () => c.app.api.status(),
  };
}
