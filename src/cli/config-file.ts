import { readRegularFile } from '../regular-file.ts';
import type { OptionTable } from './flags.ts';
import { UsageError } from './usage-error.ts';

/** A config file's flags, by long name. */
export type ConfigFileFlags = Record<string, string | boolean | string[]>;

/**
 * The agent's `--config FILE`: a JSON object whose keys are the long flags without `--`
 * (`"layout-pattern": ["^/jobs/(?<id>[^/]+)$"]`, `"prometheus-port": 9464`). Values: a string
 * (a number is taken as its decimal text), a boolean for switches, a list of strings (or one
 * string) for repeatable flags. Pure: `file` names the source in messages only.
 */
export function parseConfigFile(text: string, file: string, options: OptionTable, refused: readonly string[] = []): ConfigFileFlags {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--config ${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new UsageError(`--config ${file}: expected a JSON object of flags, e.g. {"layouts": "containerd,docker"}`);
  const out: ConfigFileFlags = {};
  for (const [key, value] of Object.entries(doc)) {
    const opt = Object.hasOwn(options, key) ? options[key] : undefined;
    if (!opt || refused.includes(key)) {
      const known = Object.keys(options).filter((k) => !refused.includes(k));
      throw new UsageError(`--config ${file}: unknown key ${JSON.stringify(key)}; keys are the agent's long flags without --: ${known.join(', ')}`);
    }
    const bad = (want: string): UsageError => new UsageError(`--config ${file}: ${JSON.stringify(key)} must be ${want}, got ${JSON.stringify(value)}`);
    if (opt.type === 'boolean') {
      if (typeof value !== 'boolean') throw bad('true or false');
      out[key] = value;
    } else if (opt.multiple) {
      const list = Array.isArray(value) ? value : [value];
      if (!list.every((v) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)))) throw bad('a string or a list of strings');
      out[key] = list.map(String);
    } else {
      if (!(typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)))) throw bad('a string or a number');
      out[key] = String(value);
    }
  }
  return out;
}

/** A config file is a few KiB; a larger one is refused by its size, before it is read. */
export const MAX_CONFIG_BYTES = 1 << 20;

/**
 * Reads and parses `file`; a flag given on the command line wins over the file's value. Only a
 * regular file of at most MAX_CONFIG_BYTES is read: a FIFO or a device (`/dev/zero`) is refused
 * at once, without blocking or reading without end.
 */
export function withConfigFile<T extends object>(cli: T, file: string, options: OptionTable, refused: readonly string[] = []): T {
  let text: string;
  try {
    text = readRegularFile(file, MAX_CONFIG_BYTES, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTREG') throw new UsageError(`--config ${file}: not a regular file`);
    if (code === 'EFBIG') throw new UsageError(`--config ${file}: larger than ${MAX_CONFIG_BYTES} bytes; a config file holds flags`);
    throw new UsageError(`--config ${file}: cannot read it: ${code ?? (err as Error).message}`);
  }
  const fromFile = parseConfigFile(text, file, options, refused);
  const given = Object.fromEntries(Object.entries(cli).filter(([, v]) => v !== undefined));
  return { ...fromFile, ...given } as T;
}
