/**
 * The services main owns, built from their dependencies, shared by the Electron face and browser mode.
 * handle() is the one entry for the IPC contract: it validates the request and the response.
 */
import { EngineClient, Logger } from './engine/client';
import { AppInfo, Channel, contract, IpcError, isChannel } from './ipc/contract';
import { DataPaths } from './paths';

export interface ServicesDeps {
  engine: EngineClient;
  paths: DataPaths;
  appVersion: string;
  logger: Logger;
}

export class Services {
  constructor(private readonly deps: ServicesDeps) {}

  get engine(): EngineClient {
    return this.deps.engine;
  }

  async appInfo(): Promise<AppInfo> {
    const base = { appVersion: this.deps.appVersion, dataDir: this.deps.paths.root };
    try {
      const [v, devices] = await Promise.all([this.deps.engine.version(), this.deps.engine.devices()]);
      return { ...base, llamaCommit: v.llamaCommit, backends: v.backends, devices };
    } catch (e) {
      return { ...base, llamaCommit: 'unavailable', backends: [], devices: [], engineError: (e as Error).message };
    }
  }

  /** Validates and dispatches one IPC call. Throws IpcError with a code for bad input. */
  async handle(channel: string, payload: unknown): Promise<unknown> {
    if (!isChannel(channel)) throw new IpcError('unknown_channel', `unknown channel ${channel}`);
    const spec = contract[channel as Channel];
    const req = spec.request.safeParse(payload ?? {});
    if (!req.success) throw new IpcError('invalid_input', `${channel}: ${req.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    let result: unknown;
    switch (channel as Channel) {
      case 'app.info':
        result = await this.appInfo();
        break;
    }
    return spec.response.parse(result);
  }
}
