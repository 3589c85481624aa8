/**
 * Main's services as the app composes them (composeApp: real store, real engine host) over a fresh
 * data folder, for tests that drive them through the IPC entry point; and waiting on their events.
 */
import fs from 'fs';
import path from 'path';
import { App, composeApp, type ComposeOptions } from '../../main/compose';
import type { EngineClient } from '../../main/engine/client';
import type { ChatMessage } from '../../main/engine/protocol';
import type { EventOf, MessageDTO } from '../../main/ipc/contract';
import { Logger, silentLogger } from '../../main/logging';
import type { ChatSettings } from '../../main/params';
import { TITLE_INSTRUCTIONS } from '../../main/chat/titles';
import { DataPaths, ensureDataDir } from '../../main/paths';
import { makeEngine, tempDir } from './engine';
import { copyModel, TINY_SPM } from './models';

export interface ChatAppOptions {
  /** A GGUF put into the library folder (<data>/models); null for none. Default: the tiny SPM model. */
  model?: string | null;
  /** Its path inside the library folder (subfolders are made). Default: tiny.gguf. */
  modelAs?: string;
  /** Hard-link the model in (a copy across file systems) rather than copy it: for a large model. */
  link?: boolean;
  /** The data folder. Default: a fresh temporary one. close() removes it either way. */
  dir?: string;
  /** The engine client (closed by close()). Default: makeEngine(). */
  engine?: EngineClient;
  /** Default: silentLogger. */
  logger?: Logger;
  /** Runs on the data folder after the model is in and before the app opens its store. */
  prepare?(paths: DataPaths): void;
  /** Chat defaults set in the store over Hearth's (setChatDefaults). */
  chatDefaults?: Partial<ChatSettings>;
  /** composeApp's bound on the context meter's refresh while a reply streams. */
  usageRefreshMs?: number;
  /** More of composeApp's options (the environment read for HF_ENDPOINT/HF_TOKEN, discovery's home, the token's and tool secrets' cipher, the recommended models' file, where other apps' MCP configs are looked for). */
  compose?: Partial<Pick<ComposeOptions, 'env' | 'discoverEnv' | 'secrets' | 'fetch' | 'recommendedFile' | 'toolImportEnv' | 'providerTimeoutMs' | 'toolSources'>>;
}

export interface ChatApp {
  app: App;
  engine: EngineClient;
  dir: string;
  paths: DataPaths;
  /** Where the model lies in the library folder ('' without one). */
  modelPath: string;
  /** A channel through the IPC entry point (Services.handle), as the renderer calls it. */
  call<T = any>(channel: string, payload?: unknown): Promise<T>;
  /** Sets these chat defaults in the store, keeping the others. */
  setChatDefaults(patch: Partial<ChatSettings>): void;
  /** Closes the app and the engine, and removes the data folder. */
  close(): Promise<void>;
}

export function chatApp(opts: ChatAppOptions = {}): ChatApp {
  const dir = opts.dir ?? tempDir();
  const paths = ensureDataDir(dir);
  const model = opts.model === undefined ? TINY_SPM : opts.model;
  let modelPath = '';
  if (model) {
    modelPath = path.join(paths.models, opts.modelAs ?? 'tiny.gguf');
    fs.mkdirSync(path.dirname(modelPath), { recursive: true });
    if (opts.link) {
      try {
        fs.linkSync(model, modelPath);
      } catch {
        copyModel(model, modelPath);
      }
    } else copyModel(model, modelPath);
  }
  opts.prepare?.(paths);
  const engine = opts.engine ?? makeEngine();
  const app = composeApp({ paths, engine, appVersion: '0.0.0-test', logger: opts.logger ?? silentLogger, usageRefreshMs: opts.usageRefreshMs, ...opts.compose });
  const setChatDefaults = (patch: Partial<ChatSettings>) => {
    app.store.settings.update({ chatDefaults: { ...app.store.settings.get('chatDefaults'), ...patch } });
  };
  if (opts.chatDefaults) setChatDefaults(opts.chatDefaults);
  return {
    app,
    engine,
    dir,
    paths,
    modelPath,
    call: (channel, payload = {}) => app.services.handle(channel, payload) as Promise<any>,
    setChatDefaults,
    async close() {
      await app.close();
      await engine.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The next `chat.done` of a thread: its final message. */
export function nextDone(app: App, threadId: string): Promise<MessageDTO> {
  return new Promise((resolve) => {
    const off = app.services.subscribe((event, payload) => {
      if (event === 'chat.done' && (payload as EventOf<'chat.done'>).threadId === threadId) {
        off();
        resolve((payload as EventOf<'chat.done'>).message);
      }
    });
  });
}

/**
 * Continues a stored reply of a thread whose question is `question` (as an earlier turn, or an import,
 * left them: `reply` its fields) through the IPC entry point; answers the reply once it is done.
 */
export async function continueStored(chat: ChatApp, threadId: string, question: string, reply: { content: string; reasoning?: string }): Promise<MessageDTO> {
  chat.app.store.messages.add({ threadId, role: 'user', content: question });
  const stored = chat.app.store.messages.add({ threadId, role: 'assistant', ...reply, status: 'done', finishReason: 'maxTokens' });
  const done = nextDone(chat.app, threadId);
  await chat.call('chat.continue', { threadId, messageId: stored.id });
  return done;
}

/**
 * `engine` with each chat request's messages pushed to `sent` as it goes (what main sent; nothing else
 * changed), but for a thread's title request (main/chat/titles.ts), which follows the first turn of a
 * thread that had no messages, after the turn's end: the turn's own requests are what tests look at.
 */
export function recordingMessages(engine: EngineClient, sent: ChatMessage[][]): EngineClient {
  const chatFn = engine.chat.bind(engine);
  engine.chat = ((id, req, opts) => {
    if (req.messages[0]?.content !== TITLE_INSTRUCTIONS) sent.push(req.messages);
    return chatFn(id, req, opts);
  }) as EngineClient['chat'];
  return engine;
}

/**
 * A turn of a tool loop as the store holds one, added to `threadId`: the question, a step that thought
 * (`thought`, none when empty) and called weather {city: Paris}, the call's result, and the answer, cut
 * off by the max tokens. Answers the answer's id (a Continue sends the turn's steps again).
 */
export function storedToolLoop(chat: ChatApp, threadId: string, thought: string): string {
  const add = (m: Omit<Parameters<ChatApp['app']['store']['messages']['add']>[0], 'threadId'>) => chat.app.store.messages.add({ threadId, ...m });
  add({ role: 'user', content: 'What is the weather in Paris?' });
  add({ role: 'assistant', content: '', reasoning: thought, status: 'done', finishReason: 'toolCalls', toolCalls: [{ id: 'c1', name: 'weather', arguments: '{"city": "Paris"}' }] });
  add({ role: 'tool', content: 'Sunny and 21 degrees in Paris.', toolCallId: 'c1', status: 'done' });
  return add({ role: 'assistant', content: 'It is sunny', status: 'done', finishReason: 'maxTokens' }).id;
}

/**
 * A suite's apps and temporary folders, closed and removed after each test: `open` makes a chatApp
 * (options as chatApp's), `folder` a temporary folder named with `prefix`.
 */
export function useChatApps(defaults: (extra: ChatAppOptions) => ChatAppOptions = (extra) => extra): { open(extra?: ChatAppOptions): ChatApp; folder(prefix: string): string } {
  const apps: ChatApp[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    while (apps.length) await apps.pop()!.close();
    while (dirs.length) fs.rmSync(dirs.pop()!, { recursive: true, force: true });
  });
  return {
    open(extra = {}) {
      const a = chatApp(defaults(extra));
      apps.push(a);
      return a;
    },
    folder(prefix) {
      const d = tempDir(prefix);
      dirs.push(d);
      return d;
    },
  };
}
