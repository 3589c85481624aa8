/**
 * The hearth command line. Every command that touches a model goes through the engine host process
 * (EngineClient), never the addon in this process. Exit codes: 0 ok, 1 error (one line on stderr).
 */
import fs from 'fs';
import path from 'path';
import { addonLlamaCommit } from '../engine/addon';
import { EngineClient } from '../engine/client';
import { followingLogger, Logger, logLevelFrom, logUncaught, openFileLogger, silentLogger, stderrLogger, teeLogger } from '../logging';
import { dataPaths, ensureDataDir, modelsFolderOf, projectRoot, resolveDataDir } from '../paths';
import { checkKnownFlags, intFlag, ParsedArgs, parseArgs, spelling, UsageError } from './args';
import { resolveModelArg } from './model-arg';
import { OFFLOAD_ALIASES, OFFLOAD_FLAGS, OFFLOAD_USAGE } from './offload-flags';
import { SPEC_ALIASES, SPEC_FLAGS, specUsage } from './speculative-flags';
import { fitCommand, infoCommand, mib, notice, runCommand } from './model-commands';
import { CHATS_BOOLEANS, CHATS_FLAGS, CHATS_USAGE, chatsCommand } from './chats';
import { apiListenError, checkFlags, errorLine, listenError } from './errors';
import { BrowserServer } from '../browser/server';
import { restartableApp } from './restartable';
import { hostHeaderOf, isLoopbackHost, isWildcardHost, machineNames } from '../browser/guard';
import { composeApp, type App } from '../compose';
import { ApiServerSettings, type ApiStatusDTO } from '../ipc/api';
import { discover, discoverEnvOf, PEER_APP_NAMES } from '../models/discover';
import { ModelLibrary, storeDeps } from '../models/library';
import { IMPORT_MODES } from '../models/import';
import { importFile, pull } from './pull';
import { checkRpcProbes, rpcFlag, rpcServerCommand } from './rpc';
import { Store } from '../store';
import { FILE_ROLE_LABELS, loadableRole } from '../params';

const USAGE = `usage: hearth <command> [options]

commands:
  info MODEL [--json]                           model metadata
  run MODEL -p TEXT [-n N] [--seed S] [--temp T] [--ctx N] [--threads N] [--gpu-layers N|max|auto]
      [--lora FILE[:SCALE],…] [--control-vector FILE[:STRENGTH],…] [--rpc HOST:PORT[,...]]
      ${specUsage(96).join('\n      ')}
      ${OFFLOAD_USAGE}
                                                stream a completion (with LoRA adapters and
                                                control vectors: GGUF files made for the model;
                                                speculative decoding: a draft model, or KIND
                                                ngram-simple, ngram-map-k, ...)
  fit MODEL [--gpu-layers N|max|auto] [--ctx N] [--cache-type q8_0] [--margin MiB] [--rpc ...] [--draft FILE]
      [--mmproj FILE] [--json]
      ${OFFLOAD_USAGE}
                                                memory per device before loading (llama.cpp's estimate;
                                                --draft: with a draft model beside it; --mmproj: with
                                                a vision projector);
                                                auto shows where the fit puts a MoE model's experts;
                                                --n-cpu-moe N keeps the experts of the first N layers
                                                in system RAM, -ot puts tensors by name on a buffer
                                                type (both need --gpu-layers N or max)
  devices [--rpc HOST:PORT[,HOST:PORT]] [--json]
                                                backends and devices with memory; --rpc adds the
                                                devices of rpc-servers on other machines
  rpc-server [--host 127.0.0.1] [--port 50052] [--threads N]
                                                lend this machine's memory and compute to another
                                                one's engine (llama.cpp's rpc-server; no
                                                authentication: loopback unless --host is given)
  models [--json]                               the library: the models folder's models and those
                                                added by reference
  discover [--json]                             GGUF models LM Studio, Ollama, Jan and GPT4All keep
                                                on this disk, one entry per model with its locations
  pull OWNER/REPO[:QUANT] [--json]              download a model from Hugging Face (HF_ENDPOINT,
                                                HF_TOKEN) into the models folder: the quantization
                                                named, or the best that fits this machine; Ctrl+C
                                                pauses, the same pull again resumes
  import FILE [--copy|--move|--link] [--json]   a GGUF file into the library: checked first, then
                                                copied (default) or moved into the models folder,
                                                or added by reference where it is
${CHATS_USAGE}
  serve [--port 1420] [--host 127.0.0.1] [--allow-remote] [--api [--api-host H] [--api-port P]]
                                                browser mode: the UI on a local URL; a --host
                                                beyond loopback needs --allow-remote. --api also
                                                starts the local API server (OpenAI, Anthropic and
                                                Ollama APIs; default 127.0.0.1:1337, or the saved
                                                settings) with this host and port for this run; an
                                                --api-host beyond loopback needs no --allow-remote
                                                but always a key (generated and saved if none)

MODEL: a .gguf file's path, or the name of a model in the data folder's models/ (its file name without .gguf)
global options: --data-dir DIR (or HEARTH_DATA_DIR), --verbose
hearth --version (-v)                           Hearth's version and the llama.cpp commit of its engine`;

const BOOLEANS = new Set(['json', 'verbose', 'help', 'version', 'allow-remote', 'copy', 'move', 'link', 'api', ...CHATS_BOOLEANS]);
const ALIASES: Record<string, string> = { p: 'prompt', n: 'n-predict', h: 'help', v: 'version', t: 'threads', c: 'ctx', ...OFFLOAD_ALIASES, ...SPEC_ALIASES };
const GLOBAL_FLAGS = ['data-dir', 'verbose', 'help'];
const PORT_MAX = 65535;
/** the options each command takes, besides the global ones */
const COMMAND_FLAGS: Record<string, string[]> = {
  info: ['json'],
  run: ['prompt', 'n-predict', 'seed', 'temp', 'ctx', 'threads', 'gpu-layers', 'lora', 'control-vector', 'rpc', ...SPEC_FLAGS, ...OFFLOAD_FLAGS],
  fit: ['gpu-layers', 'ctx', 'cache-type', 'margin', 'json', 'rpc', 'draft', 'mmproj', ...OFFLOAD_FLAGS],
  devices: ['json', 'rpc'],
  'rpc-server': ['host', 'port', 'threads', 'mem'],
  models: ['json'],
  discover: ['json'],
  pull: ['json'],
  import: ['json', 'copy', 'move', 'link'],
  chats: [...CHATS_FLAGS],
  serve: ['port', 'host', 'allow-remote', 'api', 'api-host', 'api-port'],
};

/** serve's --api, --api-host and --api-port: null without --api (the saved settings decide then). */
function apiFlags(parsed: ParsedArgs): Partial<Pick<ApiServerSettings, 'host' | 'port'>> | null {
  const given = (['api-host', 'api-port'] as const).filter((f) => parsed.flags[f] !== undefined);
  if (parsed.flags.api !== true) {
    if (given.length) throw new UsageError(`${spelling(parsed, given[0])} sets the API server's address: add --api to start it`);
    return null;
  }
  const port = intFlag(parsed, 'api-port');
  const host = typeof parsed.flags['api-host'] === 'string' ? parsed.flags['api-host'] : undefined;
  // only the options given: the others stay the saved settings'
  const chosen = { ...(host !== undefined ? { host } : {}), ...(port !== undefined ? { port } : {}) };
  return checkFlags(ApiServerSettings.pick({ host: true, port: true }).partial(), chosen, { host: 'api-host', port: 'api-port' }, (f) => spelling(parsed, f));
}

/**
 * The machine's other addresses a server bound to `host` answers on: every one when `host` is a
 * wildcard (0.0.0.0: IPv4 only, its IPv6 addresses would refuse the connection), else none.
 */
function networkNames(host: string): string[] {
  if (!isWildcardHost(host)) return [];
  const ipv4Only = host === '0.0.0.0';
  return machineNames().filter((n) => !isLoopbackHost(n) && !n.startsWith('fe80:') && !(ipv4Only && n.includes(':')));
}

/**
 * Starts the API server beside the UI: with --api (this run's host and port over the saved ones), else
 * when the settings page left it on. A failure with --api is the command's error.
 */
async function startApi(app: App, overrides: Partial<Pick<ApiServerSettings, 'host' | 'port'>> | null): Promise<ApiStatusDTO> {
  if (overrides) {
    const st = await app.api.start(overrides);
    if (st.phase === 'failed') throw apiListenError(st.error, st.settings.host, st.settings.port);
  } else {
    await app.api.startIfEnabled();
  }
  return app.api.status();
}

/** The running API server's URLs and its key (whenever one is set: every client must send it), with a warning beyond loopback. */
function printApi(st: ApiStatusDTO): void {
  if (st.phase === 'failed') process.stderr.write(`warning: the API server (on in settings) did not start: ${st.error}\n`);
  if (st.phase !== 'running' || !st.url) return;
  process.stdout.write(`Hearth API: ${st.url}\n`);
  const port = Number(new URL(st.url).port);
  for (const n of networkNames(st.settings.host)) process.stdout.write(`  on the network: http://${hostHeaderOf(n, port)}${st.settings.prefix}\n`);
  if (st.settings.apiKey) process.stdout.write(`API key: ${st.settings.apiKey}\n`);
  if (!isLoopbackHost(st.settings.host)) {
    process.stderr.write(
      `warning: the API server listens on ${st.settings.host}, beyond this machine. The connection is plain HTTP: the key and every request travel unencrypted, and anyone on the network who has the key can use your models.\n`,
    );
  }
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv, BOOLEANS, ALIASES);
  const { positional, flags } = parsed;
  const [command, ...rest] = positional;
  if (flags.version && !command) return printVersion();
  if (!command || flags.help) {
    process.stdout.write(USAGE + '\n');
    return command || flags.help ? 0 : 1;
  }
  if (!Object.prototype.hasOwnProperty.call(COMMAND_FLAGS, command)) {
    throw new UsageError(`unknown command ${command}: the commands are ${Object.keys(COMMAND_FLAGS).join(', ')} (see hearth --help)`);
  }
  checkKnownFlags(parsed, new Set([...GLOBAL_FLAGS, ...COMMAND_FLAGS[command]]), command);
  if (command === 'rpc-server') return rpcServerCommand(parsed);
  const dataDir = resolveDataDir(typeof flags['data-dir'] === 'string' ? flags['data-dir'] : undefined);
  // serve keeps main.log and engine.log in <data>/logs (like the app); --verbose also prints to stderr
  const logDir = command === 'serve' ? openDataDir(dataDir).logs : undefined;
  // main.log: serve's follows the data folder when a move restarts it there (see serve below)
  let file = logDir ? openFileLogger(logDir, 'main', { level: logLevelFrom() }) : undefined;
  const fileLog: Logger | undefined = file ? followingLogger(() => file ?? silentLogger) : undefined;
  const sinks = [...(fileLog ? [fileLog] : []), ...(flags.verbose === true ? [stderrLogger()] : [])];
  const logger: Logger = sinks.length ? teeLogger(...sinks) : silentLogger;
  if (fileLog) logUncaught(fileLog);
  const rpcServers = rpcFlag(parsed);
  const engine = new EngineClient({ logger, logDir, ...(rpcServers ? { rpcServers } : {}) });
  /** the MODEL argument: a path, or a library model's name */
  const modelArg = async () => (rest[0] === undefined ? undefined : resolveModelArg(rest[0], () => libraryOf(dataDir, logger)));
  const modelCtx = { parsed, engine, modelArg };
  try {
    if (rpcServers) {
      // remote devices that do not answer are the command's error (the engine would leave them out)
      await engine.start();
      checkRpcProbes(engine.rpcServers);
    }
    switch (command) {
      case 'info':
        return await infoCommand(modelCtx);
      case 'run':
        return await runCommand(modelCtx);
      case 'fit':
        return await fitCommand(modelCtx);
      case 'devices': {
        const [v, devices] = await Promise.all([engine.version(), engine.devices()]);
        if (flags.json) process.stdout.write(JSON.stringify({ llamaCommit: v.llamaCommit, backends: v.backends, modules: v.modules, devices, rpc: engine.rpcServers }, null, 2) + '\n');
        else {
          process.stdout.write(`llama.cpp ${v.llamaCommit}; backends: ${v.backends.join(', ')}\n`);
          for (const m of v.modules.filter((x) => x.variant)) process.stdout.write(`  ${m.backend} variant: ${m.variant} (${path.basename(m.path)})\n`);
          // a GPU's number is the one the load settings' Main GPU and Tensor split use (llama.cpp's order)
          for (const d of devices) {
            const n = d.gpuIndex;
            process.stdout.write(`  ${d.backend}/${d.name}  ${d.type}${n !== undefined ? ` (GPU ${n})` : ''}  ${d.description}  ${(d.memoryFree / 2 ** 30).toFixed(1)} / ${(d.memoryTotal / 2 ** 30).toFixed(1)} GiB free\n`);
          }
        }
        return 0;
      }
      case 'models': {
        const paths = openDataDir(dataDir);
        const store = Store.open(paths.database, { logger, appVersion: appVersion() });
        paths.models = modelsFolderOf(paths, store.settings);
        const library = new ModelLibrary({
          engine,
          modelsDir: paths.models,
          logger,
          ...storeDeps(store),
          onState: () => undefined,
        });
        try {
          const entries = await library.entries();
          // projectors and adapters go with a model: listed apart, never as models
          const models = entries.filter((m) => loadableRole(m.role));
          const companions = entries.filter((m) => !loadableRole(m.role));
          if (flags.json) process.stdout.write(JSON.stringify({ modelsFolder: paths.models, models, companions }, null, 2) + '\n');
          else {
            process.stdout.write(`models folder: ${paths.models}\n`);
            if (models.length === 0) process.stdout.write('no models: put .gguf files in the models folder\n');
            for (const m of models) {
              const where = m.origin === 'reference' ? `  [${m.source === 'file' ? 'by reference' : `from ${PEER_APP_NAMES[m.source!]}`}${m.missing ? ', missing' : ''}]` : '';
              process.stdout.write(`${m.name}  ${mib(m.fileSize)}${where}\n  ${m.path}\n`);
            }
            if (companions.length > 0) process.stdout.write('\nprojectors and adapters (they load with a model):\n');
            for (const m of companions) process.stdout.write(`${m.name}  ${mib(m.fileSize)}  [${FILE_ROLE_LABELS[m.role!]}]\n  ${m.path}\n`);
          }
        } finally {
          library.close();
          store.close();
        }
        return 0;
      }
      case 'discover': {
        const found = await discover(discoverEnvOf());
        if (flags.json) process.stdout.write(JSON.stringify(found, null, 2) + '\n');
        else {
          if (found.models.length === 0) process.stdout.write('no models of LM Studio, Ollama, Jan or GPT4All found\n');
          for (const m of found.models) {
            process.stdout.write(`${m.name}  (${m.facts.architecture ?? '?'}, ${m.facts.fileType ?? '?'}, ${mib(m.size)})\n`);
            for (const l of m.locations) process.stdout.write(`  ${PEER_APP_NAMES[l.app].padEnd(10)} ${l.name}  ${l.path}\n`);
          }
          for (const k of found.skipped) process.stdout.write(`skipped (${PEER_APP_NAMES[k.app]}): ${k.path}: ${k.reason}\n`);
        }
        return 0;
      }
      case 'pull': {
        if (rest.length !== 1) throw new UsageError('usage: hearth pull OWNER/REPO[:QUANT] [--json]');
        return await pull(rest[0], { engine, paths: openModelsFolder(dataDir, logger), logger, json: flags.json === true });
      }
      case 'import': {
        if (rest.length !== 1) throw new UsageError('usage: hearth import FILE [--copy|--move|--link] [--json]');
        const modes = IMPORT_MODES.filter((m) => flags[m] === true);
        if (modes.length > 1) throw new UsageError(`give one of --copy, --move, --link, not ${modes.map((m) => `--${m}`).join(' and ')}`);
        return await importFile(rest[0], modes[0] ?? 'copy', { engine, paths: openModelsFolder(dataDir, logger), logger, json: flags.json === true });
      }
      case 'chats':
        return await chatsCommand({ parsed, rest, dataDir, logger, openStore: () => Store.open(openDataDir(dataDir).database, { logger, appVersion: appVersion() }) });
      case 'serve': {
        const port = intFlag(parsed, 'port', 1420)!;
        if (port < 0 || port > PORT_MAX) throw new UsageError(`--port ${port} is not a port: give one from 0 to ${PORT_MAX} (0 picks a free one)`);
        const host = typeof flags.host === 'string' ? flags.host : '127.0.0.1';
        const allowRemote = flags['allow-remote'] === true;
        const api = apiFlags(parsed);
        if (!isLoopbackHost(host) && !allowRemote) {
          throw new UsageError(`--host ${host} is not a loopback address: add --allow-remote to serve Hearth to other machines (its token and your chats then travel unencrypted)`);
        }
        const version = appVersion();
        // a restore, a move or an erase of everything composes a new App (on the data folder as it then resolves) for the same server
        let stop: (code: number) => void = () => undefined;
        const served = restartableApp(
          (restart) => composeApp({ paths: openDataDir(resolveDataDir(typeof flags['data-dir'] === 'string' ? flags['data-dir'] : undefined)), engine, appVersion: version, logger, restart }),
          async (next) => {
            const logs = next.services.paths.logs;
            if (file && path.dirname(file.file) !== logs) {
              // moved: main.log goes on in the new folder (engine.log stays where the engine host opened it until Hearth restarts)
              const old = file;
              file = openFileLogger(logs, 'main', { level: logLevelFrom() });
              old.close();
            }
            server.setServices(next.services);
            next.backups.start();
            // this run's --api host and port again, as at start
            await startApi(next, api).catch((e: Error) => {
              logger.warn(`api: ${e.message}`);
              process.stderr.write(`warning: the API server did not start again: ${errorLine(e)}\n`);
            });
          },
          logger,
          engine,
          // a new App that could not be composed: the server would answer with a closed one, so the command ends
          () => stop(1),
        );
        const app = served.current();
        const paths = app.services.paths;
        const server: BrowserServer = new BrowserServer({ services: app.services, host, port, rendererDir: path.join(projectRoot(), 'dist', 'renderer'), logger, allowRemote });
        try {
          await server.listen();
        } catch (e) {
          await app.close();
          throw listenError(e, host, port);
        }
        app.backups.start();
        // the address without its token: the token never goes to a log
        logger.info('browser mode started', { version, platform: process.platform, arch: process.arch, host, port: server.port });
        engine.start().catch((e: Error) => process.stderr.write(`engine: ${e.message}\n`));
        // the API first: a failure there ends the command before any URL is printed
        let apiStatus: ApiStatusDTO;
        try {
          apiStatus = await startApi(app, api);
        } catch (e) {
          await server.close();
          await app.close();
          throw e;
        }
        process.stdout.write(`Hearth UI: ${server.url}\n`);
        if (server.remote) {
          for (const n of networkNames(host)) process.stdout.write(`  on the network: ${server.urlFor(n)}\n`);
          process.stderr.write(
            `warning: Hearth listens on ${host}, beyond this machine. The connection is plain HTTP: the token in the URL and every chat travel unencrypted, and anyone on the network who sees the URL can use Hearth.\n`,
          );
        }
        printApi(apiStatus);
        process.stdout.write(`data folder: ${paths.root}\n`);
        const code = await new Promise<number>((resolve) => {
          stop = resolve;
          process.once('SIGINT', () => resolve(0));
          process.once('SIGTERM', () => resolve(0));
        });
        await server.close();
        await served.settled();
        await served.current().close().catch((e: Error) => logger.warn(`close: ${e.message}`));
        return code;
      }
      default:
        throw new UsageError(`unknown command ${command}: see hearth --help`);
    }
  } finally {
    await engine.close();
    file?.close();
  }
}

export function runCli(): void {
  const argv = process.argv.slice(2);
  // the stack trace only when asked for (serve also logs every uncaught error, with its stack, to main.log)
  const verbose = argv.includes('--verbose');
  const fail = (e: unknown) => {
    process.stderr.write(`hearth: ${errorLine(e)}\n`);
    if (verbose && e instanceof Error && !(e instanceof UsageError) && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  main(argv).then((code) => process.exit(code), fail);
}

/** Hearth's version (package.json). */
function appVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * hearth --version: Hearth's version first (it never fails), then the llama.cpp commit the addon was
 * built from, read from the addon's export without starting an engine; an addon that cannot be read
 * is a note on stderr, and the command still succeeds.
 */
function printVersion(): number {
  process.stdout.write(`hearth ${appVersion()}\n`);
  let commit: string;
  try {
    commit = addonLlamaCommit();
  } catch (e) {
    notice(`the llama.cpp commit is unknown: ${errorLine(e)}`);
    return 0;
  }
  process.stdout.write(`llama.cpp ${commit}\n`);
  return 0;
}

/** The paths of the models added to the library by reference (none while the data folder has no database: nothing is made for a look-up). */
/** The models folder in use (modelsFolderOf) and the models added by reference, from the data folder's store when there is one. */
function libraryOf(dataDir: string, logger: Logger): { folder: string; references: string[] } {
  const paths = dataPaths(dataDir);
  if (!fs.existsSync(paths.database)) return { folder: paths.models, references: [] };
  const store = Store.open(paths.database, { logger, appVersion: appVersion() });
  try {
    return { folder: modelsFolderOf(paths, store.settings), references: store.modelRefs.list().map((r) => r.path) };
  } finally {
    store.close();
  }
}

/** The data folder's paths (made if missing) with `models` the models folder in use. */
function openModelsFolder(dataDir: string, logger: Logger): ReturnType<typeof ensureDataDir> {
  const paths = openDataDir(dataDir);
  return { ...paths, models: libraryOf(dataDir, logger).folder };
}

/** The data folder, made if missing; a folder that cannot be made is the user's to change. */
function openDataDir(dir: string): ReturnType<typeof ensureDataDir> {
  try {
    return ensureDataDir(dir);
  } catch (e) {
    throw new UsageError(`${(e as Error).message}: choose another folder with --data-dir`);
  }
}
