/**
 * Parsers over a file's bytes as read (bytes [start, end) of a Buffer), for the files every reading
 * reads: no latin1 string is made for a file in the usual shape. Each one gives exactly what its
 * string twin of file-formats.ts / pressure.ts gives on the same bytes read as latin1 (property
 * tests hold them to it): the usual shape takes a fast path over the bytes, anything else is
 * handed to the string parser. Like those, they never throw and report out-of-range values to
 * the RangeSink.
 */
import type { PsiLine, PsiStats } from '../types.ts';
import { parseLimit, parseSingleValue, parseValue, type RangeSink } from './file-formats.ts';
import { parsePressure } from './pressure.ts';

/** Bytes [from, to) as latin1 text (the string parsers' input). */
function latin1(buf: Buffer, from: number, to: number): string {
  return buf.toString('latin1', from, to);
}

/** A non-negative integer below 2^53 as V8 makes it from text: an int32 when it fits (see file-formats.ts small()). */
function small(v: number): number {
  return v <= 0x7fffffff ? v | 0 : v;
}

/**
 * `\d{1,15}` filling [from, to) exactly, else -1. Fifteen digits at most: the value is exact,
 * below 2^62 (no v1 "unlimited") and needs no range check.
 */
function digitsIn(buf: Buffer, from: number, to: number): number {
  const len = to - from;
  if (len <= 0 || len > 15) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const d = (buf[i] as number) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return small(v);
}

/** The end of a one-line file's value: its end less one trailing newline. */
function endOfLine(buf: Buffer, start: number, end: number): number {
  return end > start && buf[end - 1] === 10 ? end - 1 : end;
}

/** `parseSingleValue` of bytes [start, end) of `buf`. */
export function singleValueBytes(buf: Buffer, start: number, end: number, range?: RangeSink): number | undefined {
  const v = digitsIn(buf, start, endOfLine(buf, start, end));
  return v >= 0 ? v : parseSingleValue(latin1(buf, start, end), range);
}

/** 2^62 in decimal: a limit of 19 digits from here up is no limit (see parseLimit). */
const UNLIMITED_19 = '4611686018427387904';

/** `parseLimit` of bytes [start, end) of `buf`. */
export function limitBytes(buf: Buffer, start: number, end: number, range?: RangeSink): number | undefined {
  const last = endOfLine(buf, start, end);
  const v = digitsIn(buf, start, last);
  if (v >= 0) return v;
  // No limit as the kernel writes it: `max` (v2), `-1` (v1 CFS quota), or v1's unlimited value
  // (PAGE_COUNTER_MAX × page size: 19 digits, at or past 2^62).
  const len = last - start;
  if (len === 3 ? at(buf, start, last, 'max') : len === 2 ? at(buf, start, last, '-1') : len === 19 && atLeast(buf, start, UNLIMITED_19)) return Infinity;
  return parseLimit(latin1(buf, start, end), range);
}

/** Whether the `min.length` bytes at `start` are digits spelling a number at or past `min` (digits, no leading zero). */
function atLeast(buf: Buffer, start: number, min: string): boolean {
  for (let i = 0; i < min.length; i++) {
    const c = buf[start + i] as number;
    if (c < 48 || c > 57) return false;
    const m = min.charCodeAt(i);
    if (c !== m) return c > m && allDigits(buf, start + i + 1, start + min.length);
  }
  return true;
}

function allDigits(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = buf[i] as number;
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * The slot of a key in a FlatKeys table, from its length, its middle byte and its last two:
 * cheap to take from a line once its key's end is found, and enough to tell apart the keys of
 * one file (equal ones go to the next slot; a match is always compared byte by byte).
 */
function slotOf(len: number, mid: number, last: number, prev: number, mask: number): number {
  const h = Math.imul(len, 0x9e3779b1) ^ Math.imul(mid, 0x85ebca6b) ^ Math.imul(last, 0xc2b2ae35) ^ Math.imul(prev, 0x27d4eb2f);
  return (h ^ (h >>> 15)) & mask;
}

/**
 * The keys a reader wants from a `key value` file, made once (module level): an open-addressed
 * table over a hash of their bytes (slotOf), so that a line's key is found with one probe and
 * compared once. `values` is scratch that `scanFlatKeyed` fills: read it before the next scan
 * with the same keys.
 */
export class FlatKeys<K extends string = string> {
  readonly values: Array<number | undefined>;
  /** Slot → key index + 1; 0 is an empty slot. */
  private readonly table: Int32Array;
  private readonly mask: number;

  constructor(readonly keys: readonly K[]) {
    this.values = new Array<number | undefined>(keys.length).fill(undefined);
    let size = 16;
    while (size < keys.length * 4) size *= 2;
    this.table = new Int32Array(size);
    this.mask = size - 1;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k] as string;
      // A key no line can have: empty, or a character outside latin1. A repeated key is found at its first index (as pickFlatKeyed does).
      if (key === '' || !/^[\0-\xff]*$/.test(key) || keys.indexOf(key as K) !== k) continue;
      const len = key.length;
      let slot = slotOf(len, key.charCodeAt(len >> 1), key.charCodeAt(len - 1), len > 1 ? key.charCodeAt(len - 2) : 0, this.mask);
      while (this.table[slot] !== 0) slot = (slot + 1) & this.mask;
      this.table[slot] = k + 1;
    }
  }

  /** The index of the key that bytes [start, end) of `buf` spell (end > start), or -1. */
  indexOf(buf: Buffer, start: number, end: number): number {
    const len = end - start;
    const mask = this.mask;
    const table = this.table;
    for (
      let slot = slotOf(len, buf[start + (len >> 1)] as number, buf[end - 1] as number, len > 1 ? (buf[end - 2] as number) : 0, mask);
      ;
      slot = (slot + 1) & mask
    ) {
      const k = (table[slot] as number) - 1;
      if (k < 0) return -1;
      const key = this.keys[k] as string;
      if (key.length !== len) continue;
      let i = 0;
      while (i < len && buf[start + i] === key.charCodeAt(i)) i++;
      if (i === len) return k;
    }
  }
}

/**
 * One pass over bytes [start, n) of a `key value` file: `keys.values[i]` is the value of the last
 * valid line with key `keys.keys[i]` (undefined when none); returns whether any line was valid
 * (`parseFlatKeyed(text).size > 0`). With `all` false it is `pickFlatKeyed(text, keys)`: only
 * the wanted keys' values out of range are told to `range`; with `all` true it is
 * `pickKeys(parseFlatKeyed(text, range), keys)`: every line's value is checked, and the first
 * out-of-range token of the file is told.
 */
export function scanFlatKeyed(buf: Buffer, start: number, n: number, keys: FlatKeys, range: RangeSink | undefined, all: boolean): boolean {
  const out = keys.values;
  for (let k = 0; k < out.length; k++) out[k] = undefined;
  let valid = false;
  let i = start;
  while (i < n) {
    // The key: the line up to its first space.
    const from = i;
    let c = 0;
    for (; i < n; i++) {
      c = buf[i] as number;
      if (c === 32 || c === 10) break;
    }
    if (i === n) break; // a last line with no space: no key
    if (c === 10 || i === from) {
      // No key on this line (no space, or a space first): the next line.
      while (i < n && buf[i] !== 10) i++;
      i++;
      continue;
    }
    const wanted = keys.indexOf(buf, from, i);
    const value0 = ++i;
    if (wanted === -1 && valid && !all) {
      // Nothing to learn from a line not wanted once one line was valid.
      while (i < n && buf[i] !== 10) i++;
      i++;
      continue;
    }
    // The value: plain digits to the end of the line take the fast path.
    let v = 0;
    for (; i < n; i++) {
      const d = (buf[i] as number) - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    let value: number | undefined;
    if ((i === n || buf[i] === 10) && i > value0 && i - value0 <= 15) value = small(v);
    else {
      while (i < n && buf[i] !== 10) i++;
      value = parseValue(latin1(buf, value0, i).trim(), wanted !== -1 || all ? range : undefined);
    }
    i++;
    if (value === undefined) continue;
    valid = true;
    if (wanted !== -1) out[wanted] = value;
  }
  return valid;
}

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/** Where the last number read by psiNumber ended. */
let numberEnd = 0;

/**
 * The number starting at `i`: `\d+(\.\d+)?` with at most 15 digits, computed as
 * file-formats.ts decimalAt computes it (the same value to the bit), or NaN; `integer` takes
 * no point. `numberEnd` is set to the first byte after its digits.
 */
function psiNumber(buf: Buffer, i: number, n: number, integer: boolean): number {
  let v = 0;
  let digits = 0;
  let frac = -1;
  for (; i < n; i++) {
    const c = buf[i] as number;
    if (c === 46 /* . */ && !integer) {
      if (frac !== -1 || digits === 0) return NaN;
      frac = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
    digits++;
    if (frac !== -1) frac++;
  }
  numberEnd = i;
  if (digits === 0 || digits > 15 || frac === 0) return NaN;
  if (frac > 0) v /= POW10[frac] as number;
  return v === Math.floor(v) ? small(v) : v;
}

/** Whether bytes at `i` (before `n`) are `lit` (ASCII). */
function at(buf: Buffer, i: number, n: number, lit: string): boolean {
  if (i + lit.length > n) return false;
  for (let k = 0; k < lit.length; k++) if (buf[i + k] !== lit.charCodeAt(k)) return false;
  return true;
}

const AVG10 = Buffer.from(' avg10=', 'latin1');
const AVG60 = Buffer.from(' avg60=', 'latin1');
const AVG300 = Buffer.from(' avg300=', 'latin1');
const TOTAL = Buffer.from(' total=', 'latin1');

/** The index after `lit` when the bytes at `i` (before `n`) are `lit`, else -1. */
function after(buf: Buffer, i: number, n: number, lit: Buffer): number {
  const m = lit.length;
  if (i + m > n) return -1;
  for (let k = 0; k < m; k++) if (buf[i + k] !== lit[k]) return -1;
  return i + m;
}

/**
 * `parsePressure` of bytes [start, n) of `buf`. The kernel's shape, lines of
 * `some|full avg10=D avg60=D avg300=D total=N` each ending in a newline, is read from the bytes;
 * any other text goes to parsePressure whole.
 */
export function pressureBytes(buf: Buffer, start: number, n: number, range?: RangeSink): PsiStats {
  const out: PsiStats = {};
  let i = start;
  while (i < n) {
    let some: boolean;
    if (i + 4 <= n && buf[i] === 115 && buf[i + 1] === 111 && buf[i + 2] === 109 && buf[i + 3] === 101)
      some = true; // some
    else if (i + 4 <= n && buf[i] === 102 && buf[i + 1] === 117 && buf[i + 2] === 108 && buf[i + 3] === 108)
      some = false; // full
    else return parsePressure(latin1(buf, start, n), range);
    i = after(buf, i + 4, n, AVG10);
    const avg10 = i < 0 ? NaN : psiNumber(buf, i, n, false);
    i = Number.isNaN(avg10) ? -1 : after(buf, numberEnd, n, AVG60);
    const avg60 = i < 0 ? NaN : psiNumber(buf, i, n, false);
    i = Number.isNaN(avg60) ? -1 : after(buf, numberEnd, n, AVG300);
    const avg300 = i < 0 ? NaN : psiNumber(buf, i, n, false);
    i = Number.isNaN(avg300) ? -1 : after(buf, numberEnd, n, TOTAL);
    const total = i < 0 ? NaN : psiNumber(buf, i, n, true);
    if (Number.isNaN(total) || (numberEnd < n && buf[numberEnd] !== 10)) return parsePressure(latin1(buf, start, n), range);
    const psi: PsiLine = { avg10, avg60, avg300, totalUs: total };
    if (some) out.some = psi;
    else out.full = psi;
    i = numberEnd + 1;
  }
  return out;
}

/**
 * Whether bytes [start, end) of `buf` are a v1 blkio file with no device row: `Total N` alone
 * (what every blkio file of a cgroup without I/O holds).
 */
export function blkioTotalOnly(buf: Buffer, start: number, end: number): boolean {
  const last = endOfLine(buf, start, end);
  return at(buf, start, last, 'Total ') && digitsIn(buf, start + 6, last) >= 0;
}
