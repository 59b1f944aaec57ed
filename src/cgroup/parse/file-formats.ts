/**
 * Pure parsers for the value shapes cgroupfs uses. Text in, values out; they never throw:
 * malformed input gives `undefined` (or skips the malformed line) so that one bad file
 * cannot take the rest of a reading down.
 *
 * Kernel values (counters, gauges, limits) are integers in [0, 2^63): int64's range, which
 * OTLP carries. A well-formed integer outside it (a negative counter, a value that rounds to
 * 2^63 or more) is no value either: the parsers that take a `RangeSink` leave it out, as they
 * do a malformed one, and tell the sink, which counts it as a read error of type `range`.
 */

/** Told of each well-formed integer token outside [0, 2^63) that a parser left out. */
export interface RangeSink {
  outOfRange(token: string): void;
}

/** 2^63: no kernel value reaches it (int64's limit; a double at or past it is no int64). */
export const VALUE_LIMIT = 2 ** 63;

/**
 * A kernel value: a decimal integer in [0, 2^63), or undefined. A well-formed integer out of
 * that range is reported to `range` (and gives undefined).
 */
export function parseValue(token: string, range?: RangeSink): number | undefined {
  const v = parseInteger(token);
  if (v === undefined || (v >= 0 && v < VALUE_LIMIT)) return v;
  range?.outOfRange(token);
  return undefined;
}

/**
 * v1 writes "unlimited" as PAGE_COUNTER_MAX × page size (9223372036854771712 with 4 KiB
 * pages, other values with other page sizes); anything this large is no limit.
 */
const UNLIMITED_THRESHOLD = 2 ** 62;

/** A decimal integer (optionally negative), or undefined. Number() alone accepts '0x1f', '1e3', ''. */
export function parseInteger(token: string): number | undefined {
  const n = token.length;
  if (n === 0 || n > 24) return undefined;
  let i = token.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  if (i === n) return undefined;
  for (; i < n; i++) {
    const c = token.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  // `-0` is 0: a negative zero would compare unequal (Object.is) to the same value read elsewhere.
  const v = Number(token);
  return v === 0 ? 0 : v;
}

/** A decimal number such as PSI's `avg10=7.97`. */
export function parseDecimal(token: string): number | undefined {
  const v = decimalAt(token, 0, token.length);
  if (!Number.isNaN(v)) return v; // the fast path took it
  if (!/^-?\d+(\.\d+)?$/.test(token)) return undefined;
  return Number(token);
}

// Fast paths over a range of a string, without slicing. Each returns NaN when the range is not
// in the plain shape it handles; the caller then falls back to the general code, so results
// are always those of Number() on the same text. With at most 15 significant digits the
// mantissa and 10^k are exact doubles, so one IEEE division gives the correctly rounded value
// that Number() gives.
const MAX_FAST_DIGITS = 15;
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/** `-?\d+` in [from, to) with at most 15 digits, else NaN. */
function integerAt(text: string, from: number, to: number): number {
  let i = from;
  let neg = false;
  if (i < to && text.charCodeAt(i) === 45 /* - */) {
    neg = true;
    i++;
  }
  const digits = to - i;
  if (digits <= 0 || digits > MAX_FAST_DIGITS) return NaN;
  let v = 0;
  for (; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return small(neg ? -v : v);
}

/**
 * An integral value in int32 range as an int32: the arithmetic above yields a double, and a
 * double stored in an object field makes V8 box that field (and every field of that shape) as a
 * heap number, which costs memory for every task kept. `Number(text)` gives small integers
 * as Smis, and the fast paths must give the same.
 */
function small(v: number): number {
  return v >= -0x80000000 && v <= 0x7fffffff && v === Math.floor(v) ? v | 0 : v;
}

/** `-?\d+(\.\d+)?` in [from, to) with at most 15 digits, else NaN. */
function decimalAt(text: string, from: number, to: number): number {
  let i = from;
  let neg = false;
  if (i < to && text.charCodeAt(i) === 45 /* - */) {
    neg = true;
    i++;
  }
  let v = 0;
  let digits = 0;
  let frac = -1; // digits after the point; -1 while there is no point
  for (; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (frac !== -1 || digits === 0) return NaN;
      frac = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
    digits++;
    if (frac !== -1) frac++;
  }
  if (digits === 0 || digits > MAX_FAST_DIGITS || frac === 0) return NaN;
  if (frac > 0) v /= POW10[frac] as number;
  return small(neg ? -v : v);
}

/** A file holding one value (`memory.usage_in_bytes`, `pids.current`); out of range: undefined, told to `range`. */
export function parseSingleValue(text: string, range?: RangeSink): number | undefined {
  return integerIn(text, 0, endOfLine(text), range);
}

/** The end of a one-line file's value: its length less one trailing newline. */
function endOfLine(text: string): number {
  const n = text.length;
  return n > 0 && text.charCodeAt(n - 1) === 10 ? n - 1 : n;
}

/**
 * A file holding a limit: an integer, or `max` (v2), `-1` (v1 CFS quota) or the v1 unlimited
 * value. Returns Infinity for "no limit" (callers leave the value absent), undefined if malformed
 * or out of range (another negative value: told to `range`).
 */
export function parseLimit(text: string, range?: RangeSink): number | undefined {
  const fast = integerAt(text, 0, endOfLine(text));
  if (fast >= 0) return fast; // < 2^62 with at most 15 digits; NaN and negatives take the general path
  const t = text.trim();
  if (t === 'max' || t === '-1') return Infinity;
  const v = parseInteger(t);
  if (v === undefined) return undefined;
  if (v < 0) {
    range?.outOfRange(t);
    return undefined;
  }
  // Number() rounds 2^62 - 256 .. 2^62 - 1 up to 2^62: compare exactly (only for such large values).
  return v >= UNLIMITED_THRESHOLD && BigInt(t) >= 2n ** 62n ? Infinity : v;
}

/** `Infinity` (no limit) becomes absent. */
export function finiteOrUndefined(v: number | undefined): number | undefined {
  return v === undefined || v === Infinity ? undefined : v;
}

/** The end of the line that starts at `start`: its newline, or the end of the text. */
function lineEnd(text: string, start: number): number {
  const end = text.indexOf('\n', start);
  return end === -1 ? text.length : end;
}

/** The space that ends a `key value` line's key in [start, end), or -1 when there is no key. */
function keyEnd(text: string, start: number, end: number): number {
  const sp = text.indexOf(' ', start);
  return sp > start && sp < end ? sp : -1;
}

/**
 * The value in [from, to) of a line, surrounding blanks allowed, or undefined (out of range:
 * told to `range`). The usual plain digits take the fast path: no slice, trim or Number(), and
 * no range check (at most 15 digits, not negative).
 */
function integerIn(text: string, from: number, to: number, range: RangeSink | undefined): number | undefined {
  const v = integerAt(text, from, to);
  return v >= 0 ? v : parseValue(text.slice(from, to).trim(), range);
}

/**
 * A `key value` file (`cpu.stat`, `memory.stat`, `memory.events`, `memory.oom_control`,
 * `cpuacct.stat`). Lines that are not `key integer` are skipped; unknown keys are kept,
 * callers pick what they know (containerd#3951 broke on a new key: we never do). A value out of
 * range is left out (its line counts as valid) and told to `range`.
 */
export function parseFlatKeyed(text: string, range?: RangeSink): Map<string, number> {
  const out = new Map<string, number>();
  for (let start = 0, end = 0; start < text.length; start = end + 1) {
    end = lineEnd(text, start);
    const sp = keyEnd(text, start, end);
    if (sp < 0) continue;
    const value = integerIn(text, sp + 1, end, range);
    if (value !== undefined) out.set(text.slice(start, sp), value);
  }
  return out;
}

/** Picks `keys` from a parsed flat-keyed file into a small object (what readings keep). */
export function pickKeys<K extends string>(values: Map<string, number>, keys: readonly K[]): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const k of keys) {
    const v = values.get(k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * `pickKeys(parseFlatKeyed(text), keys)` without building the whole map (memory.stat has ~40
 * lines, readings keep 14): only lines whose key is wanted are sliced. `valid` is whether
 * parseFlatKeyed would have kept any line (`size > 0`). The last valid line of a key wins, as
 * in the map. A wanted key's value out of range is left out and told to `range`.
 */
export function pickFlatKeyed<K extends string>(text: string, keys: readonly K[], range?: RangeSink): { values: Partial<Record<K, number>>; valid: boolean } {
  const byLength = keysByLength(keys);
  const found: Array<number | undefined> = new Array(keys.length);
  let valid = false;
  for (let start = 0, end = 0; start < text.length; start = end + 1) {
    end = lineEnd(text, start);
    const sp = keyEnd(text, start, end);
    if (sp < 0) continue;
    const candidates = byLength[sp - start];
    // Unwanted keys are parsed only until one valid line is seen.
    if (candidates === undefined && valid) continue;
    let wanted = -1;
    if (candidates !== undefined)
      for (const i of candidates) {
        if (text.startsWith(keys[i] as string, start)) {
          wanted = i;
          break;
        }
      }
    const value = integerIn(text, sp + 1, end, wanted === -1 ? undefined : range);
    if (value === undefined) continue;
    valid = true;
    if (wanted !== -1) found[wanted] = value;
  }
  const values: Partial<Record<K, number>> = {};
  for (let i = 0; i < keys.length; i++) {
    const v = found[i];
    if (v !== undefined) values[keys[i] as K] = v;
  }
  return { values, valid };
}

const keyIndexes = new WeakMap<readonly string[], Array<number[] | undefined>>();
/** Indexes of `keys` by key length (computed once per keys array). */
function keysByLength(keys: readonly string[]): Array<number[] | undefined> {
  let ix = keyIndexes.get(keys);
  if (!ix) {
    ix = [];
    for (let i = 0; i < keys.length; i++) {
      const n = (keys[i] as string).length;
      ix[n] ??= [];
      ix[n].push(i);
    }
    keyIndexes.set(keys, ix);
  }
  return ix;
}

/**
 * A space-separated list of values (`cpuacct.usage_percpu`); undefined if any token is malformed
 * or out of range (told to `range`).
 */
export function parseIntegerList(text: string, range?: RangeSink): number[] | undefined {
  const t = text.trim();
  if (t === '') return [];
  const out: number[] = [];
  for (const tok of t.split(/\s+/)) {
    const v = parseInteger(tok);
    if (v === undefined) return undefined;
    if (v < 0 || v >= VALUE_LIMIT) {
      range?.outOfRange(tok);
      return undefined;
    }
    out.push(v);
  }
  return out;
}

/** v2 `cpu.max`: `QUOTA PERIOD`, QUOTA may be `max` (quota then absent). */
export function parseCpuMax(text: string): { quotaUs?: number; periodUs: number } | undefined {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 2) return undefined;
  const period = parseValue(parts[1] ?? '');
  if (period === undefined || period <= 0) return undefined;
  if (parts[0] === 'max') return { periodUs: period };
  const quota = parseValue(parts[0] ?? '');
  if (quota === undefined || quota < 0) return undefined;
  return { quotaUs: quota, periodUs: period };
}

/**
 * A nested-keyed file (`io.stat`): `MAJ:MIN key=value key=value ...` per line. Unknown keys
 * (`dbytes`, `dios`, whatever a later kernel adds) are kept as-is; a device line with no
 * pairs (`253:0 `, seen on the root) yields an empty record. A value out of range is left out
 * and told to `range`.
 */
export interface NestedKeyedLine {
  major: number;
  minor: number;
  values: Map<string, number>;
}
export function parseNestedKeyed(text: string, range?: RangeSink): NestedKeyedLine[] {
  const out: NestedKeyedLine[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const dev = parseDevice(fields[0] ?? '');
    if (!dev) continue;
    const values = new Map<string, number>();
    for (let i = 1; i < fields.length; i++) {
      const f = fields[i] ?? '';
      const eq = f.indexOf('=');
      if (eq <= 0) continue;
      const v = parseValue(f.slice(eq + 1), range);
      if (v !== undefined) values.set(f.slice(0, eq), v);
    }
    out.push({ major: dev.major, minor: dev.minor, values });
  }
  return out;
}

/** `MAJ:MIN`. */
export function parseDevice(token: string): { major: number; minor: number } | undefined {
  const c = token.indexOf(':');
  if (c <= 0) return undefined;
  const major = parseInteger(token.slice(0, c));
  const minor = parseInteger(token.slice(c + 1));
  if (major === undefined || minor === undefined || major < 0 || minor < 0) return undefined;
  return { major, minor };
}
