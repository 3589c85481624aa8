/**
 * The thread-cache settings (main/chat/sessions.ts keeps the threads' KV caches): how many chat
 * threads keep a live cache in the loaded model's context, and the bounds on the caches saved to
 * <data>/sessions. Part of SettingsFields (the store keeps them; settings.update takes them).
 */
import { z } from 'zod';

export const ThreadCacheSettings = z
  .object({
    /** threads whose KV cache stays in the context (each on a sequence of its own; the least recently used gives its sequence up) */
    liveThreads: z.number().int().min(1).max(32).default(4),
    /** the most the saved caches may take on disk, in MiB (the oldest go first); 0: none are saved */
    diskBudgetMiB: z.number().int().min(0).max(1 << 20).default(2048),
    /** a saved cache older than this many days is deleted */
    maxAgeDays: z.number().int().min(1).max(3650).default(30),
  })
  .strict();
export type ThreadCacheSettings = z.output<typeof ThreadCacheSettings>;
