/** A small argument parser: positional words and --flags (with values unless listed as booleans). */
export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | boolean>;
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], booleans: ReadonlySet<string>, aliases: Record<string, string> = {}): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string | boolean> = {};
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
          if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
          value = argv[++i];
        }
        flags[name] = value;
      }
    } else positional.push(a);
  }
  return { positional, flags };
}

export function intFlag(flags: ParsedArgs['flags'], name: string, def?: number): number | undefined {
  const v = flags[name];
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n)) throw new UsageError(`--${name} must be an integer`);
  return n;
}

export function numFlag(flags: ParsedArgs['flags'], name: string, def?: number): number | undefined {
  const v = flags[name];
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number`);
  return n;
}
