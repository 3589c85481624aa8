/** A small argument parser: positional words and --flags (with values unless listed as booleans). */
export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | boolean>;
  /** the first option given without its value; reported after unknown options (a typo is named as one) */
  missingValue?: string;
}

/** A mistake on the command line: printed as one line that says what to give instead. */
export class UsageError extends Error {
  /** the catalogue's code for input that does not fit (main/errors/catalogue.ts) */
  readonly code = 'invalid_input';
}

export function parseArgs(argv: string[], booleans: ReadonlySet<string>, aliases: Record<string, string> = {}): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string | boolean> = {};
  let missingValue: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      let name = a.replace(/^--?/, '');
      let value: string | undefined;
      const eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      name = aliases[name] ?? name;
      if (booleans.has(name)) {
        flags[name] = value === undefined ? true : value !== 'false';
      } else {
        if (value === undefined) {
          // the next option is not this one's value (`--port --data-dir D`): a value may start with one dash, not two
          if (i + 1 >= argv.length || /^--./.test(argv[i + 1])) {
            missingValue ??= name;
            flags[name] = '';
            continue;
          }
          value = argv[++i];
        }
        flags[name] = value;
      }
    } else positional.push(a);
  }
  return { positional, flags, missingValue };
}

/** Refuses an option the command does not take (a typo would otherwise be ignored without a word). */
export function checkKnownFlags({ flags, missingValue }: Pick<ParsedArgs, 'flags' | 'missingValue'>, known: ReadonlySet<string>, command: string): void {
  for (const name of Object.keys(flags)) {
    if (!known.has(name)) throw new UsageError(`hearth ${command} has no option --${name}: see hearth --help`);
  }
  if (missingValue !== undefined) throw new UsageError(`--${missingValue} needs a value (see hearth --help)`);
}

export function intFlag(flags: ParsedArgs['flags'], name: string, def?: number): number | undefined {
  const v = flags[name];
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number, not ${JSON.stringify(v)}`);
  return n;
}

export function numFlag(flags: ParsedArgs['flags'], name: string, def?: number): number | undefined {
  const v = flags[name];
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, not ${JSON.stringify(v)}`);
  return n;
}
