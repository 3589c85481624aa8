/**
 * Browser mode's restart port (`hearth serve`): the App closes, the work runs (a restore's, a move's
 * or an erase's file swap), a new App is composed on the data folder as it now resolves, and `started`
 * hands it to the running server (whose pages reconnect). The process and the engine stay; the models the
 * closed App had loaded are unloaded (the new App starts with none, like a new process).
 */
import type { App } from '../compose';
import type { EngineClient } from '../engine/client';
import type { RestartPort } from '../data-folder/restart';
import type { Logger } from '../logging';

export interface RestartableApp {
  /** the App in use now */
  current(): App;
  /** settles once a restart under way (if any) is done */
  settled(): Promise<void>;
}

export function restartableApp(
  compose: (restart: RestartPort) => App,
  started: (app: App) => void | Promise<void>,
  logger: Logger,
  engine: Pick<EngineClient, 'unloadAll'>,
  /** the new App could not be composed (the old one is closed): the host ends */
  failed: (e: Error) => void = () => undefined,
): RestartableApp {
  let settled: Promise<void> = Promise.resolve();
  const restart: RestartPort = (reason, work) => {
    logger.info('restarting', { reason });
    settled = (async () => {
      await app.close();
      await engine.unloadAll().catch((e: Error) => logger.warn(`restart: the models could not be unloaded: ${e.message}`));
      try {
        await work();
      } catch (e) {
        logger.error(`restart (${reason}): ${(e as Error).message}`);
      }
      app = compose(restart);
      await started(app);
      logger.info('restarted', { reason, dataDir: app.services.paths.root });
    })().catch((e: Error) => {
      logger.error(`restart (${reason}) failed: ${e.message}`);
      process.stderr.write(`Hearth could not start again (${e.message}): start it again\n`);
      failed(e);
    });
  };
  let app = compose(restart);
  return { current: () => app, settled: () => settled };
}
