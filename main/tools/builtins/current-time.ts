/**
 * current_time: the date and time now, with the weekday and the time zone, in the user's zone or
 * in an IANA zone the model names.
 */
import { z } from 'zod/v4';
import type { ToolOutcome } from '../types';
import { failed, ok } from './outcome';

export const CurrentTimeArgs = z.object({
  timezone: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .describe('an IANA time zone name such as "America/New_York" or "Europe/Paris"; leave it out for the user\'s own time zone'),
});
export type CurrentTimeArgs = z.output<typeof CurrentTimeArgs>;

/** Whether Intl knows the zone (an unknown one is a RangeError from Intl). */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The host's own time zone (UTC when Intl cannot say). */
export function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** `Tuesday, 2025-03-04 14:05:09 (Europe/Paris, UTC+01:00)` */
export function formatTime(now: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'long',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'longOffset',
  }).formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  // longOffset is "GMT+01:00", or "GMT" for a zero offset
  const offset = part('timeZoneName').replace(/^GMT/, '') || '+00:00';
  return `${part('weekday')}, ${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')}:${part('second')} (${timeZone}, UTC${offset})`;
}

export function currentTime(args: CurrentTimeArgs, now: Date, userZone: string): ToolOutcome {
  const zone = args.timezone ?? userZone;
  if (!isTimeZone(zone)) return failed(`"${zone}" is not a known IANA time zone (for example "Europe/Paris", "America/New_York", "UTC")`);
  return ok(`The current date and time is ${formatTime(now, zone)}.`);
}
