/** A small argument parser: positional words and --flags (with values unless listed as booleans). */
export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | boolean>;
  /** the first option given without its value; reported after unknown options (a typo is named as one) */
  missingValue?: string;
  /** each option as the user typed it (`-n` for n-predict given as -n): messages name it so */
  spelled: Record<string, string>;
}

/** An option named as the user typed it, else as --NAME. */
export function spelling(parsed: Pick<ParsedArgs, 'spelled'>, name: string): string {
  return parsed.spelled[name] ?? `--${name}`;
}

/** A mistake on the command line: printed as one line that says what to give instead. */
export class UsageError extends Error {
  /** the catalogue's code for input that does not fit (main/errors/catalogue.ts) */
  readonly code = 'invalid_input';
}

export function parseArgs(argv: string[], booleans: ReadonlySet<string>, aliases: Record<string, string> = {}): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string | boolean> = {};
  const spelled: Record<string, string> = {};
  let missingValue: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      const dashes = a.startsWith('--') ? '--' : '-';
      let name = a.slice(dashes.length);
      let value: string | undefined;
      const eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.slice(eq + 1);
        name = name.slice(0, eq);
      }
      const typed = dashes + name;
      name = aliases[name] ?? name;
      spelled[name] = typed;
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
  return { positional, flags, missingValue, spelled };
}

/** Refuses an option the command does not take (a typo would otherwise be ignored without a word). */
export function checkKnownFlags(parsed: Pick<ParsedArgs, 'flags' | 'missingValue' | 'spelled'>, known: ReadonlySet<string>, command: string): void {
  for (const name of Object.keys(parsed.flags)) {
    if (!known.has(name)) throw new UsageError(`hearth ${command} has no option ${spelling(parsed, name)}: see hearth --help`);
  }
  if (parsed.missingValue !== undefined) throw new UsageError(`${spelling(parsed, parsed.missingValue)} needs a value (see hearth --help)`);
}

export function intFlag(parsed: Pick<ParsedArgs, 'flags' | 'spelled'>, name: string, def?: number): number | undefined {
  const v = parsed.flags[name];
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isInteger(n)) throw new UsageError(`${spelling(parsed, name)} must be a whole number, not ${JSON.stringify(v)}`);
  return n;
}

export function numFlag(parsed: Pick<ParsedArgs, 'flags' | 'spelled'>, name: string, def?: number): number | undefined {
  const v = parsed.flags[name];
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${spelling(parsed, name)} must be a number, not ${JSON.stringify(v)}`);
  return n;
}
