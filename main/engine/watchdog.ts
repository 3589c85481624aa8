/**
 * The engine host's task watchdog. The supervisor's heartbeat (supervisor.ts) proves the host's JS
 * thread alive, but native work runs elsewhere (model loads on the libuv pool, each context's worker
 * thread), and some of it cannot be interrupted: llama.cpp's Jinja engine has no step or time limit,
 * so a chat template with nested `range(99999)` loops runs for days, and a decode on some backends
 * ignores the abort callback. The native side registers that work as activities and stamps their
 * progress (native/src/activity.h); this module reads them on the host's JS thread and gives a
 * verdict when one runs past a bound. The host then answers the requests concerned, tells the client
 * (`hung`) and ends itself, since nothing else frees a thread stuck in native code.
 */
import path from 'path';
import { z } from 'zod';
import type { NativeActivity } from './addon';

/** The bounds on native work. One definition; tests shorten them (taskBounds). */
export const TASK_BOUNDS = {
  /** how long one chat template render may run (the template's check when a model loads, or a chat's prompt) */
  templateMs: 15_000,
  /**
   * how long native work may go without progress: a load's progress, one decode (a ubatch), a graph
   * node on the CPU. Generous for a slow CPU or a software GPU (lavapipe) decoding one ubatch of a
   * large model.
   */
  stallMs: 120_000,
  /** how long a cancelled request or an unload may take to end before the host gives up on it and restarts */
  stopMs: 10_000,
} as const;
export type TaskBounds = { -readonly [K in keyof typeof TASK_BOUNDS]: number };

/**
 * The slowest read throughput a model load is expected to keep before its first progress: on Linux
 * llama.cpp maps the file with MAP_POPULATE (src/llama-mmap.cpp), reading all of it before it reports
 * any progress, so a load without progress yet may run as long as reading the file at this rate
 * (a busy hard disk), and never less than the stall bound.
 */
export const SLOW_DISK_BYTES_PER_S = 20_000_000;

/** How long a load of a `bytes`-long file may go without its first progress. */
export function firstProgressMs(bytes: number | undefined, bounds: TaskBounds): number {
  return Math.max(bounds.stallMs, Math.ceil(((bytes ?? 0) / SLOW_DISK_BYTES_PER_S) * 1000));
}

/** Test hook (honoured only with HEARTH_TEST_HOOKS=1): JSON with any of TASK_BOUNDS' keys, e.g. {"templateMs":1500}. */
export const TEST_BOUNDS_ENV = 'HEARTH_TEST_TASK_BOUNDS';
const TestBounds = z
  .object({ templateMs: z.number().int().min(10), stallMs: z.number().int().min(10), stopMs: z.number().int().min(10) })
  .partial()
  .strict();

/** The bounds this host runs with: TASK_BOUNDS, or shorter ones a test asked for. */
export function taskBounds(env: NodeJS.ProcessEnv = process.env): TaskBounds {
  const raw = env.HEARTH_TEST_HOOKS === '1' ? env.HEARTH_TEST_TASK_BOUNDS : undefined;
  if (!raw) return { ...TASK_BOUNDS };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(`${TEST_BOUNDS_ENV} is not JSON`);
  }
  const parsed = TestBounds.safeParse(json);
  if (!parsed.success) throw new Error(`${TEST_BOUNDS_ENV}: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  return { ...TASK_BOUNDS, ...parsed.data };
}

/** The error code of a chat template that ran past its deadline (main/errors/catalogue.ts; it crosses IPC). */
export const TEMPLATE_TIMEOUT = 'template_timeout';

/** Work the host gives up on: the code and words the requests concerned fail with, and the model files (or ids) it was on. */
export interface Verdict {
  code: typeof TEMPLATE_TIMEOUT | 'engine_hung';
  message: string;
  files: string[];
  /** models concerned besides those loaded or loading from `files` (one being unloaded is neither any more) */
  modelIds?: string[];
  /** the chat template in `files` themselves hung: a load of them is refused until they change (client.ts) */
  refuseFiles?: boolean;
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
const name = (file: string) => `"${path.basename(file)}"`;

const DOING: Record<string, string> = {
  load: 'loading it',
  context: 'creating its context',
  work: 'generating or embedding',
  render: 'rendering its chat template',
  fit: 'measuring its memory (llama.cpp fitting)',
  free: 'freeing its memory',
};

/** `given`: the template was the user's (the model's Chat template setting), not the file's own. */
export function templateVerdict(file: string, bounds: TaskBounds, given = false): Verdict {
  if (given) {
    return {
      code: TEMPLATE_TIMEOUT,
      message:
        `the Chat template setting of ${name(file)} ran for more than ${seconds(bounds.templateMs)} without finishing, so Hearth ` +
        `stopped it and restarted the engine. Change the setting (blank: the model's own template)`,
      files: [file],
    };
  }
  return {
    code: TEMPLATE_TIMEOUT,
    message:
      `the chat template of ${name(file)} ran for more than ${seconds(bounds.templateMs)} without finishing (the template in the ` +
      `model file is broken or hostile), so Hearth stopped it and restarted the engine. Pick another model: this one cannot ` +
      `be used until its file is replaced`,
    files: [file],
    refuseFiles: true,
  };
}

export function stallVerdict(file: string, kind: string, bounds: TaskBounds, boundMs = bounds.stallMs): Verdict {
  return {
    code: 'engine_hung',
    message:
      `the engine made no progress ${DOING[kind] ?? 'working'} on ${name(file)} for ${seconds(boundMs)}, so Hearth ` +
      `restarted it. Load the model again; if this happens again, pick a smaller model or fewer GPU layers`,
    files: [file],
  };
}

export function stopVerdict(work: { file?: string; modelId?: string }, what: 'stop' | 'unload', bounds: TaskBounds): Verdict {
  const model = work.file ? name(work.file) : 'the engine';
  return {
    code: 'engine_hung',
    message: `${model} did not ${what === 'stop' ? 'stop' : 'unload'} within ${seconds(bounds.stopMs)} of being asked to, so Hearth restarted the engine; the model was unloaded`,
    files: work.file ? [work.file] : [],
    modelIds: work.modelId === undefined ? [] : [work.modelId],
  };
}

/** The size in bytes of a model file being loaded (undefined: not known). */
export type FileSizeOf = (file: string) => number | undefined;

/** How long `a` may go without progress: the stall bound, or for a load before its first progress the time to read its file (firstProgressMs). */
export function progressBoundMs(a: NativeActivity, bounds: TaskBounds, sizeOf: FileSizeOf): number {
  // never progressed: its last progress is its start
  const beforeFirst = a.kind === 'load' && a.idleMs >= a.runningMs;
  return beforeFirst ? firstProgressMs(sizeOf(a.model), bounds) : bounds.stallMs;
}

/** The first activity past a bound: a template past its deadline first, else work without progress. */
export function judge(activities: readonly NativeActivity[], bounds: TaskBounds, sizeOf: FileSizeOf = () => undefined): Verdict | undefined {
  const tmpl = activities.find((a) => a.templateMs !== null && a.templateMs > bounds.templateMs);
  if (tmpl) return templateVerdict(tmpl.model, bounds, tmpl.templateGiven);
  // a render still inside its deadline makes no progress by design: only the deadline judges it
  const stalled = activities.find((a) => a.templateMs === null && a.idleMs > progressBoundMs(a, bounds, sizeOf));
  return stalled ? stallVerdict(stalled.model, stalled.kind, bounds, progressBoundMs(stalled, bounds, sizeOf)) : undefined;
}

/**
 * Polls the native activities on the host's JS thread and reports the first verdict (once). Also
 * bounds how long a cancelled request or an unload may take to end (`bound`).
 */
export class TaskWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private fired = false;

  constructor(
    private readonly read: () => NativeActivity[],
    readonly bounds: TaskBounds,
    private readonly onVerdict: (v: Verdict) => void,
    /** the sizes of the model files being loaded */
    private readonly sizeOf: FileSizeOf = () => undefined,
  ) {}

  /** Polls often enough to act within a fifth of the shortest bound past it (at most once a second). */
  start(): void {
    const every = Math.max(20, Math.min(1000, Math.floor(Math.min(this.bounds.templateMs, this.bounds.stallMs) / 5)));
    this.timer = setInterval(() => {
      let activities: NativeActivity[];
      try {
        activities = this.read();
      } catch {
        return; // an addon that cannot tell: nothing to judge
      }
      const v = judge(activities, this.bounds, this.sizeOf);
      if (v) this.fire(v);
    }, every);
    this.timer.unref();
  }

  /**
   * Gives the verdict `verdict()` unless `p` settles within the stop bound. While llama.cpp's fitting
   * runs alone (an activity "fit" exists only then), other work waits for it (native/src/llama_gate.h):
   * the bound starts again once it is over; a fit that stops progressing is a stall the poll judges.
   */
  bound(p: Promise<unknown>, verdict: () => Verdict): void {
    let settled = false;
    let t: NodeJS.Timeout;
    const arm = () => {
      t = setTimeout(() => {
        if (settled) return;
        if (this.fitting()) arm();
        else this.fire(verdict());
      }, this.bounds.stopMs);
      t.unref();
    };
    arm();
    const done = () => {
      settled = true;
      clearTimeout(t);
    };
    p.then(done, done);
  }

  private fitting(): boolean {
    try {
      return this.read().some((a) => a.kind === 'fit');
    } catch {
      return false;
    }
  }

  private fire(v: Verdict): void {
    if (this.fired) return;
    this.fired = true;
    clearInterval(this.timer);
    this.onVerdict(v);
  }
}
