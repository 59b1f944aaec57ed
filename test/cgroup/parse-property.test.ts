/**
 * Property tests (fast-check) for every parser of src/cgroup/parse/:
 *  (a) arbitrary strings, garbage bytes, token soup and truncated prefixes of the real fixture
 *      files never throw, and what comes out is always well-formed;
 *  (b) unknown keys in `key value` and `key=value` files are ignored by the reader-level
 *      results (pickKeys, readStats on a generated cgroup directory) while known keys parse;
 *  (c) well-formed generated input parses back to exactly what generated it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parseBlkio, type BlkioRow } from '../../src/cgroup/parse/blkio.ts';
import { parsePressure } from '../../src/cgroup/parse/pressure.ts';
import { parseMountInfo, parseProcCgroup, parseUeventDevName, type MountInfoEntry, type ProcCgroupLine } from '../../src/cgroup/parse/proc.ts';
import {
  finiteOrUndefined,
  parseCpuMax,
  parseDecimal,
  parseDevice,
  parseFlatKeyed,
  parseInteger,
  parseIntegerList,
  parseLimit,
  parseNestedKeyed,
  parseSingleValue,
  parseValue,
  pickFlatKeyed,
  pickKeys,
  type RangeSink,
} from '../../src/cgroup/parse/file-formats.ts';
import { blkioToDevices } from '../../src/cgroup/controllers/disk.ts';
import { newReadState, readStats } from '../../src/cgroup/read.ts';
import { V1_MEMORY_STAT_KEYS, V2_MEMORY_STAT_KEYS, type PsiLine, type PsiStats } from '../../src/cgroup/types.ts';
import { fakeDeviceNames } from '../helpers/device-names.ts';

const RUNS = 300;
/** Every device unnamed (`MAJ:MIN`), whatever the host's block devices. */
const NAMES = fakeDeviceNames();
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(repo, 'test/fixtures');

/** Every real fixture file, as the reader gets it. */
const FIXTURE_FILES: Array<{ name: string; text: string }> = fs
  .readdirSync(FIXTURES, { recursive: true, encoding: 'utf8' })
  .map((rel) => path.join(FIXTURES, rel))
  .filter((p) => fs.statSync(p).isFile())
  .map((p) => ({ name: path.relative(FIXTURES, p), text: fs.readFileSync(p, 'latin1') }));

// ---------------------------------------------------------------------------------------------
// Invariants every parser's output must satisfy, whatever the input.

const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v);
const isNonNegInt = (v: unknown): boolean => isInt(v) && (v as number) >= 0;
/** A kernel value as the parsers give it: an integer in [0, 2^63), a valid int64. */
const isValue = (v: unknown): boolean => isNonNegInt(v) && (v as number) < 2 ** 63;

/** A RangeSink that keeps what it is told. */
function sink(): RangeSink & { tokens: string[] } {
  const tokens: string[] = [];
  return { tokens, outOfRange: (t: string) => void tokens.push(t) };
}

function checkPsiLine(l: PsiLine | undefined): void {
  if (l === undefined) return;
  for (const k of ['avg10', 'avg60', 'avg300'] as const) assert.ok(Number.isFinite(l[k]), `${k} finite`);
  assert.ok(isValue(l.totalUs), 'total an integer in [0, 2^63)');
  for (const k of ['avg10', 'avg60', 'avg300'] as const) assert.ok(l[k] >= 0, `${k} not negative`);
  assert.deepEqual(Object.keys(l).sort(), ['avg10', 'avg300', 'avg60', 'totalUs']);
}

/** Runs every parser on `text`: none may throw, every output must be well-formed. */
function checkAllParsers(text: string): void {
  const tok = text.trim();

  const i = parseInteger(text);
  assert.ok(i === undefined || isInt(i));
  const d = parseDecimal(text);
  assert.ok(d === undefined || Number.isFinite(d));
  const sr = sink();
  const sv = parseSingleValue(text, sr);
  assert.ok(sv === undefined || isValue(sv));
  assert.equal(sv, parseValue(tok));
  // A well-formed integer is either the value or told to the sink, never both, never lost.
  const whole = parseInteger(tok);
  assert.equal(sr.tokens.length, whole !== undefined && sv === undefined ? 1 : 0);

  const lim = parseLimit(text);
  assert.ok(lim === undefined || lim === Infinity || (isNonNegInt(lim) && lim <= 2 ** 62), `limit ${lim}`);
  const fin = finiteOrUndefined(lim);
  assert.ok(fin === undefined || Number.isFinite(fin));

  const flat = parseFlatKeyed(text, sink());
  for (const [k, v] of flat) {
    assert.ok(k.length > 0 && !k.includes(' ') && !k.includes('\n'), `key ${JSON.stringify(k)}`);
    assert.ok(isValue(v));
  }
  const picked = pickKeys(flat, V2_MEMORY_STAT_KEYS);
  for (const [k, v] of Object.entries(picked)) assert.equal(flat.get(k), v);

  const list = parseIntegerList(text, sink());
  assert.ok(list === undefined || list.every(isValue));

  const cm = parseCpuMax(text);
  if (cm) {
    assert.ok(isInt(cm.periodUs) && cm.periodUs > 0);
    assert.ok(cm.quotaUs === undefined || isNonNegInt(cm.quotaUs));
  }

  const nested = parseNestedKeyed(text, sink());
  assert.ok(nested.length <= text.split('\n').length);
  for (const l of nested) {
    assert.ok(isNonNegInt(l.major) && isNonNegInt(l.minor));
    for (const [k, v] of l.values) {
      assert.ok(k.length > 0 && !/\s/.test(k));
      assert.ok(isValue(v));
    }
  }

  const dev = parseDevice(tok);
  assert.ok(dev === undefined || (isNonNegInt(dev.major) && isNonNegInt(dev.minor)));

  const rows = parseBlkio(text, sink());
  for (const r of rows) {
    assert.ok(isNonNegInt(r.major) && isNonNegInt(r.minor) && isValue(r.value));
    assert.ok(r.op.length > 0 && !/\s/.test(r.op));
  }
  for (const dv of blkioToDevices(rows, rows, NAMES)) {
    for (const k of ['readBytes', 'writeBytes', 'readOps', 'writeOps'] as const) assert.ok(dv[k] >= 0);
  }

  const psi = parsePressure(text, sink());
  for (const k of Object.keys(psi)) assert.ok(k === 'some' || k === 'full');
  checkPsiLine(psi.some);
  checkPsiLine(psi.full);

  for (const m of parseMountInfo(text)) {
    assert.ok(isInt(m.mountId) && isInt(m.parentId));
    assert.ok(typeof m.fsType === 'string' && typeof m.source === 'string' && typeof m.root === 'string');
    assert.ok(m.superOptions.length >= 1);
  }

  for (const l of parseProcCgroup(text)) {
    assert.ok(isNonNegInt(l.hierarchyId));
    assert.ok(l.path.startsWith('/'));
    assert.ok(!l.path.includes('\n'));
    for (const c of l.controllers) assert.ok(!c.includes(',') && !c.includes(':'));
  }

  const dn = parseUeventDevName(text);
  assert.ok(dn === undefined || (dn.length > 0 && !dn.includes('\n') && dn === dn.trim()));
}

/** Text made of the tokens the formats are built from, so that parsers get deep into their paths. */
const tokenSoup = fc
  .array(
    fc.constantFrom(
      ' ',
      ' ',
      '\n',
      '\n',
      '\t',
      ':',
      '=',
      '-',
      '.',
      ',',
      '/',
      '0',
      '1',
      '9',
      '254',
      '18446744073709551615',
      '9223372036854771712',
      'max',
      'some',
      'full',
      'avg10=',
      'avg60=',
      'avg300=',
      'total=',
      'rbytes=',
      'Read',
      'Write',
      'Total',
      'DEVNAME=',
      'cgroup',
      'cgroup2',
      ' - ',
      '\\040',
      '\\',
      'nr_periods',
      '0::/',
      '1:cpu,cpuacct:/',
      '31 23 0:28 / /sys/fs/cgroup rw - ',
      '\r',
      '\0',
      'é',
    ),
    { maxLength: 60 },
  )
  .map((a) => a.join(''));

describe('(a) no parser throws, and outputs are well-formed', () => {
  test('arbitrary strings (full Unicode)', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), checkAllParsers), { numRuns: RUNS });
  });

  test('garbage bytes (as latin1, as the reader decodes them)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => checkAllParsers(Buffer.from(bytes).toString('latin1'))),
      { numRuns: RUNS },
    );
  });

  test('token soup', () => {
    fc.assert(fc.property(tokenSoup, checkAllParsers), { numRuns: RUNS });
  });

  test('truncated prefixes of every real fixture file', () => {
    assert.ok(FIXTURE_FILES.length > 300, `found ${FIXTURE_FILES.length} fixture files`);
    fc.assert(
      fc.property(fc.constantFrom(...FIXTURE_FILES), fc.nat(), ({ text }, cut) => checkAllParsers(text.slice(0, cut % (text.length + 1)))),
      { numRuns: RUNS },
    );
    // And each whole file once.
    for (const f of FIXTURE_FILES) checkAllParsers(f.text);
  });

  test('a truncated key-value or nested-keyed file keeps the complete lines exactly; only the cut line may differ', () => {
    const keyed = FIXTURE_FILES.filter((f) => /(cpu\.stat|memory\.stat|memory\.events|oom_control|cpuacct\.stat|cgroup\.stat|io\.stat)$/.test(f.name));
    assert.ok(keyed.length >= 15);
    fc.assert(
      fc.property(fc.constantFrom(...keyed), fc.nat(), ({ name, text }, n) => {
        const cut = n % (text.length + 1);
        const prefix = text.slice(0, cut);
        const complete = prefix.slice(0, prefix.lastIndexOf('\n') + 1);
        if (name.endsWith('io.stat')) {
          const full = parseNestedKeyed(text);
          const part = parseNestedKeyed(complete);
          assert.deepEqual(part, full.slice(0, part.length));
          assert.ok(parseNestedKeyed(prefix).length - part.length <= 1);
          return;
        }
        const full = parseFlatKeyed(text);
        const part = parseFlatKeyed(complete);
        for (const [k, v] of part) assert.equal(full.get(k), v, k);
        assert.equal(part.size, complete.split('\n').length - 1);
        const cutMap = parseFlatKeyed(prefix);
        const differing = [...cutMap].filter(([k, v]) => part.get(k) !== v);
        assert.ok(differing.length <= 1, JSON.stringify(differing));
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Generators of well-formed input.

const U64 = 2n ** 64n - 1n;
/** The largest integer whose double is below 2^63 (from 2^63 - 512 on, Number() rounds to 2^63). */
const MAX_VALUE = 2n ** 63n - 513n;
/** A counter as the kernel prints it: decimal, in [0, 2^63) (as a double); biased to the interesting sizes. */
const counterStr = fc.oneof(
  fc.nat().map(String),
  fc.maxSafeNat().map(String),
  fc.bigInt({ min: 0n, max: MAX_VALUE }).map(String),
  fc.bigInt({ min: MAX_VALUE - 1000n, max: MAX_VALUE }).map(String),
  fc.constantFrom('0', '9223372036854771712', String(MAX_VALUE), String(2 ** 53), String(2 ** 53 + 1)),
);
/** A well-formed integer that is no kernel value: negative, or 2^63 or more once a double. */
const outOfRangeStr = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: -1n }).map(String),
  fc.bigInt({ min: MAX_VALUE + 1n, max: U64 }).map(String),
  fc.bigInt({ min: MAX_VALUE + 1n, max: 2n ** 63n + 1000n }).map(String),
  fc.constantFrom('-1', '9223372036854775807', '9223372036854775808', '18446744073709551615', '100000000000000000000000'),
);
const signedIntStr = fc.oneof(counterStr, outOfRangeStr);
const keyName = fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/);
const whitespace = fc.constantFrom(' ', '  ', '\t', ' \t ');

const psiLine = fc.record({
  avg10: fc.nat({ max: 10000 }),
  avg60: fc.nat({ max: 10000 }),
  avg300: fc.nat({ max: 10000 }),
  totalUs: fc.maxSafeNat(),
});
/** 797 → "7.97", as PSI prints averages. */
const cents = (c: number): string => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`;

function shuffled<T>(items: T[]): fc.Arbitrary<T[]> {
  return fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length });
}

describe('(c) well-formed input parses back to exactly what generated it', () => {
  test('parseInteger: decimal integers up to u64 and down to -2^63; parseSingleValue: those in [0, 2^63)', () => {
    fc.assert(
      fc.property(signedIntStr, fc.constantFrom('', '\n', ' \n'), (s, tail) => {
        assert.equal(parseInteger(s), Number(s));
        const inRange = Number(s) >= 0 && Number(s) < 2 ** 63;
        assert.equal(parseSingleValue(s + tail), inRange ? Number(s) : undefined);
      }),
      { numRuns: RUNS },
    );
  });

  test('parseDecimal: PSI averages', () => {
    fc.assert(
      fc.property(fc.nat({ max: 10000 }), fc.nat({ max: 99 }), (whole, cents) => {
        const s = `${whole}.${String(cents).padStart(2, '0')}`;
        assert.equal(parseDecimal(s), (whole * 100 + cents) / 100);
        assert.equal(parseDecimal(s), Number(s));
      }),
      { numRuns: RUNS },
    );
  });

  test('parseLimit: max, -1, values below 2^62 exactly, values ≥ 2^62 unlimited', () => {
    const below = fc.oneof(fc.nat().map(BigInt), fc.bigInt({ min: 0n, max: 2n ** 62n - 1n }), fc.bigInt({ min: 2n ** 62n - 1000n, max: 2n ** 62n - 1n }));
    const atOrAbove = fc.oneof(
      fc.bigInt({ min: 2n ** 62n, max: 2n ** 62n + 1000n }),
      fc.bigInt({ min: 2n ** 62n, max: U64 }),
      fc.constant(9223372036854771712n),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          below.map((v) => ({ v, unlimited: false })),
          atOrAbove.map((v) => ({ v, unlimited: true })),
        ),
        fc.constantFrom('', '\n'),
        ({ v, unlimited }, tail) => {
          const got = parseLimit(`${v}${tail}`);
          if (unlimited) {
            assert.equal(got, Infinity);
            assert.equal(finiteOrUndefined(got), undefined);
          } else {
            assert.equal(got, Number(v));
            assert.equal(finiteOrUndefined(got), Number(v));
          }
        },
      ),
      { numRuns: RUNS },
    );
    for (const t of ['max', 'max\n', '-1', '-1\n']) assert.equal(parseLimit(t), Infinity, t);
    assert.equal(parseLimit('4611686018427387903'), Number('4611686018427387903'));
    assert.equal(parseLimit('4611686018427387904'), Infinity);
  });

  test('parseFlatKeyed: `key value` lines (unique keys, counters up to 2^63)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(keyName, counterStr), { selector: ([k]) => k, maxLength: 40 }), fc.boolean(), (pairs, trailingNewline) => {
        const text = pairs.map(([k, v]) => `${k} ${v}`).join('\n') + (trailingNewline ? '\n' : '');
        assert.deepEqual(
          [...parseFlatKeyed(text)],
          pairs.map(([k, v]) => [k, Number(v)]),
        );
      }),
      { numRuns: RUNS },
    );
  });

  test('parseNestedKeyed: io.stat lines, including device lines with no pairs (`253:0 `)', () => {
    const line = fc.record({
      major: fc.nat({ max: 4095 }),
      minor: fc.nat({ max: 1048575 }),
      pairs: fc.uniqueArray(fc.tuple(keyName, counterStr), { selector: ([k]) => k, maxLength: 8 }),
      sep: whitespace,
    });
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
        const text = `${lines.map((l) => `${l.major}:${l.minor}${l.sep}${l.pairs.map(([k, v]) => `${k}=${v}`).join(l.sep)}`).join('\n')}\n`;
        const got = parseNestedKeyed(text);
        assert.deepEqual(
          got.map((g) => ({ major: g.major, minor: g.minor, values: [...g.values] })),
          lines.map((l) => ({ major: l.major, minor: l.minor, values: l.pairs.map(([k, v]) => [k, Number(v)]) })),
        );
      }),
      { numRuns: RUNS },
    );
  });

  test('parseBlkio: `MAJ:MIN Op value` rows; the `Total N` line and two-field lines are dropped', () => {
    const row = fc.record({
      major: fc.nat({ max: 4095 }),
      minor: fc.nat({ max: 1048575 }),
      op: fc.constantFrom('Read', 'Write', 'Sync', 'Async', 'Discard', 'Total'),
      value: counterStr,
    });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 30 }), counterStr, fc.boolean(), (rows, total, withDefault) => {
        const text =
          (withDefault ? 'default 100\n' : '') +
          rows.map((r) => `${r.major}:${r.minor} ${r.op} ${r.value}`).join('\n') +
          (rows.length ? '\n' : '') +
          `Total ${total}\n`;
        const want: BlkioRow[] = rows.map((r) => ({ major: r.major, minor: r.minor, op: r.op, value: Number(r.value) }));
        assert.deepEqual(parseBlkio(text), want);
      }),
      { numRuns: RUNS },
    );
  });

  test('blkioToDevices sums Read/Write rows per device', () => {
    const row = fc.record({
      major: fc.nat({ max: 3 }),
      minor: fc.nat({ max: 3 }),
      op: fc.constantFrom('Read', 'Write', 'Sync', 'Total'),
      value: fc.nat({ max: 1e9 }),
    });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 30 }), fc.array(row, { maxLength: 30 }), (bytes, ops) => {
        const devs = blkioToDevices(bytes, ops, NAMES);
        const sum = (rs: BlkioRow[], maj: number, min: number, op: string) =>
          rs.filter((r) => r.major === maj && r.minor === min && r.op === op).reduce((a, r) => a + r.value, 0);
        // Only Read and Write rows make a device (Sync, Total... are other views of the same I/O).
        const keys = new Set([...bytes, ...ops].filter((r) => r.op === 'Read' || r.op === 'Write').map((r) => `${r.major}:${r.minor}`));
        assert.equal(devs.length, keys.size);
        for (const d of devs) {
          assert.deepEqual(d, {
            major: d.major,
            minor: d.minor,
            device: `${d.major}:${d.minor}`,
            readBytes: sum(bytes, d.major, d.minor, 'Read'),
            writeBytes: sum(bytes, d.major, d.minor, 'Write'),
            readOps: sum(ops, d.major, d.minor, 'Read'),
            writeOps: sum(ops, d.major, d.minor, 'Write'),
          });
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('parsePressure: some/full lines', () => {
    fc.assert(
      fc.property(fc.option(psiLine, { nil: undefined }), fc.option(psiLine, { nil: undefined }), (some, full) => {
        const fmt = (k: string, l: typeof some) =>
          l ? `${k} avg10=${cents(l.avg10)} avg60=${cents(l.avg60)} avg300=${cents(l.avg300)} total=${l.totalUs}\n` : '';
        const want: PsiStats = {};
        if (some) want.some = { avg10: some.avg10 / 100, avg60: some.avg60 / 100, avg300: some.avg300 / 100, totalUs: some.totalUs };
        if (full) want.full = { avg10: full.avg10 / 100, avg60: full.avg60 / 100, avg300: full.avg300 / 100, totalUs: full.totalUs };
        assert.deepEqual(parsePressure(fmt('some', some) + fmt('full', full)), want);
      }),
      { numRuns: RUNS },
    );
  });

  test('parseIntegerList: cpuacct.usage_percpu style lists (trailing space, any whitespace)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(counterStr, whitespace), { maxLength: 64 }), fc.constantFrom('', ' ', ' \n', '\n'), (items, tail) => {
        const text = items.map(([v, ws], i) => (i === 0 ? v : ws + v)).join('') + tail;
        assert.deepEqual(
          parseIntegerList(text),
          items.map(([v]) => Number(v)),
        );
      }),
      { numRuns: RUNS },
    );
  });

  test('parseCpuMax: `QUOTA PERIOD` and `max PERIOD`', () => {
    fc.assert(
      fc.property(fc.option(fc.maxSafeNat(), { nil: undefined }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), whitespace, (quota, period, ws) => {
        const text = `${quota === undefined ? 'max' : quota}${ws}${period}\n`;
        assert.deepEqual(parseCpuMax(text), quota === undefined ? { periodUs: period } : { quotaUs: quota, periodUs: period });
      }),
      { numRuns: RUNS },
    );
  });

  test('parseDevice: MAJ:MIN', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.maxSafeNat(), (major, minor) => assert.deepEqual(parseDevice(`${major}:${minor}`), { major, minor })),
      { numRuns: RUNS },
    );
  });

  test('parseProcCgroup: v1 lines with controllers (named hierarchies too) and the 0:: line; paths may hold `:` and spaces', () => {
    const controller = fc.oneof(fc.stringMatching(/^[a-z_]{1,12}$/), fc.stringMatching(/^name=[a-z0-9_.-]{1,12}$/));
    const segment = fc.string({ unit: fc.constantFrom('a', 'z', '0', '-', '_', '.', ':', ' ', '@', 'é'), minLength: 1, maxLength: 10 });
    const cgPath = fc.array(segment, { maxLength: 5 }).map((s) => `/${s.join('/')}`);
    const line = fc.oneof(
      fc.record({ hierarchyId: fc.integer({ min: 1, max: 2 ** 31 - 1 }), controllers: fc.array(controller, { minLength: 1, maxLength: 4 }), path: cgPath }),
      fc.record({ hierarchyId: fc.constant(0), controllers: fc.constant<string[]>([]), path: cgPath }),
    );
    fc.assert(
      // fc.record builds null-prototype objects: copy them into plain ones for deepEqual.
      fc.property(
        fc.array(
          line.map((l): ProcCgroupLine => ({ ...l })),
          { maxLength: 14 },
        ),
        (lines) => {
          const text = `${lines.map((l) => `${l.hierarchyId}:${l.controllers.join(',')}:${l.path}`).join('\n')}\n`;
          assert.deepEqual(parseProcCgroup(text), lines);
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('parseMountInfo: lines with optional fields and \\040-style escapes of space, tab, newline and backslash', () => {
    /** proc(5): the kernel escapes these four as octal. */
    const mangle = (s: string): string => s.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
    const pathChar = fc.constantFrom('a', 'b', 'z', '0', '9', '-', '_', '.', ',', ':', '=', ' ', '\t', '\n', '\\', 'é', '/');
    const absPath = fc.string({ unit: pathChar, maxLength: 24 }).map((s) => `/${s}`);
    const entry = fc.record({
      mountId: fc.nat({ max: 2 ** 31 - 1 }),
      parentId: fc.nat({ max: 2 ** 31 - 1 }),
      root: absPath,
      mountPoint: absPath,
      fsType: fc.stringMatching(/^[a-z0-9][a-z0-9._]{0,10}$/),
      source: fc.string({ unit: pathChar, minLength: 1, maxLength: 16 }),
      superOptions: fc.array(fc.stringMatching(/^[a-z0-9_=]{1,12}$/), { minLength: 1, maxLength: 5 }),
    });
    const optional = fc.array(
      fc.oneof(
        fc.nat().map((n) => `shared:${n}`),
        fc.nat().map((n) => `master:${n}`),
        fc.nat().map((n) => `propagate_from:${n}`),
        fc.constant('unbindable'),
      ),
      { maxLength: 3 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(entry, optional, fc.nat({ max: 300 })), { maxLength: 10 }), (items) => {
        const text = items
          .map(([e, opt, minor]) =>
            [
              e.mountId,
              e.parentId,
              `0:${minor}`,
              mangle(e.root),
              mangle(e.mountPoint),
              'rw,relatime',
              ...opt,
              '-',
              e.fsType,
              mangle(e.source),
              e.superOptions.join(','),
            ].join(' '),
          )
          .join('\n');
        const want: MountInfoEntry[] = items.map(([e]) => ({ ...e }));
        assert.deepEqual(parseMountInfo(`${text}\n`), want);
      }),
      { numRuns: RUNS },
    );
    // A backslash followed by digits in the original name survives the round trip.
    assert.equal(parseMountInfo(`1 0 0:1 / /a${mangle('\\040 x')} rw - ext4 /dev/vda rw\n`)[0]?.mountPoint, '/a\\040 x');
  });

  test('parseUeventDevName: the DEVNAME among other KEY=VALUE lines', () => {
    const other = fc.tuple(
      fc.stringMatching(/^[A-Z][A-Z_]{0,10}$/).filter((k) => k !== 'DEVNAME'),
      fc.stringMatching(/^[a-z0-9=]{0,10}$/),
    );
    fc.assert(
      fc.property(
        fc.array(other, { maxLength: 6 }),
        fc.stringMatching(/^[a-z][a-z0-9/._-]{0,20}$/),
        fc.array(other, { maxLength: 6 }),
        (before, name, afterLines) => {
          const text = `${[...before, ['DEVNAME', name] as const, ...afterLines].map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
          assert.equal(parseUeventDevName(text), name);
          assert.equal(parseUeventDevName([...before, ...afterLines].map(([k, v]) => `${k}=${v}`).join('\n')), undefined);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
describe('(b) unknown keys are ignored by reader-level results; known keys still parse', () => {
  /** Known keys with values, unknown ones (integer or garbage values), in a random order. */
  function keyedFile(known: readonly string[]) {
    const knownSet = new Set(known);
    const unknownKey = keyName.filter((k) => !knownSet.has(k));
    return fc
      .record({
        present: fc.subarray([...known]),
        values: fc.array(counterStr, { minLength: known.length, maxLength: known.length }),
        unknownInts: fc.uniqueArray(fc.tuple(unknownKey, counterStr), { selector: ([k]) => k, minLength: 1, maxLength: 10 }),
        unknownJunk: fc.array(fc.tuple(unknownKey, fc.constantFrom('x', '1.5', '0x10', '', '1 2', 'max')), { maxLength: 4 }),
      })
      .chain(({ present, values, unknownInts, unknownJunk }) => {
        const knownLines = present.map((k) => `${k} ${values[known.indexOf(k)]}`);
        const lines = [...knownLines, ...unknownInts.map(([k, v]) => `${k} ${v}`), ...unknownJunk.map(([k, v]) => `${k} ${v}`)];
        const expected = Object.fromEntries(present.map((k) => [k, Number(values[known.indexOf(k)])]));
        return shuffled(lines).map((ls) => ({ text: `${ls.join('\n')}\n`, expected }));
      });
  }

  test('pickKeys(parseFlatKeyed(...)) on memory.stat keeps exactly the known keys (v1 and v2)', () => {
    fc.assert(
      fc.property(keyedFile(V1_MEMORY_STAT_KEYS), keyedFile(V2_MEMORY_STAT_KEYS), (v1, v2) => {
        assert.deepEqual(pickKeys(parseFlatKeyed(v1.text), V1_MEMORY_STAT_KEYS), v1.expected);
        assert.deepEqual(pickKeys(parseFlatKeyed(v2.text), V2_MEMORY_STAT_KEYS), v2.expected);
      }),
      { numRuns: RUNS },
    );
  });

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-prop-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('readStats on a generated v2 cgroup: cpu.stat, memory.events, memory.stat, io.stat and cpu.pressure with unknown keys', () => {
    const dir = path.join(tmp, 'v2');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'cgroup.controllers'), 'cpu io memory\n');
    const CPU = ['usage_usec', 'user_usec', 'system_usec', 'nr_periods', 'nr_throttled', 'throttled_usec'] as const;
    const CPU_FIELD = {
      usage_usec: 'usageUsec',
      user_usec: 'userUsec',
      system_usec: 'systemUsec',
      nr_periods: 'nrPeriods',
      nr_throttled: 'nrThrottled',
      throttled_usec: 'throttledUsec',
    } as const;
    const EVENTS = ['low', 'high', 'max', 'oom', 'oom_kill'] as const;
    const IO = ['rbytes', 'wbytes', 'rios', 'wios'] as const;
    const IO_FIELD = { rbytes: 'readBytes', wbytes: 'writeBytes', rios: 'readOps', wios: 'writeOps' } as const;
    const ioKnown = new Set<string>(IO);
    const ioLine = fc.record({
      major: fc.nat({ max: 300 }),
      minor: fc.nat({ max: 300 }),
      known: fc.subarray([...IO]),
      values: fc.array(fc.maxSafeNat(), { minLength: 4, maxLength: 4 }),
      unknown: fc.uniqueArray(
        fc.tuple(
          keyName.filter((k) => !ioKnown.has(k)),
          fc.oneof(counterStr, fc.constantFrom('x', '1.5', '')),
        ),
        { selector: ([k]) => k, maxLength: 4 },
      ),
    });
    const psiKnown = new Set(['avg10', 'avg60', 'avg300', 'total']);
    const psiExtra = fc.array(
      fc.tuple(
        keyName.filter((k) => !psiKnown.has(k)),
        fc.constantFrom('1.00', '7', 'x'),
      ),
      { maxLength: 3 },
    );

    fc.assert(
      fc.property(
        keyedFile(CPU),
        keyedFile(EVENTS),
        keyedFile(V2_MEMORY_STAT_KEYS),
        fc.array(ioLine, { maxLength: 5 }),
        psiLine,
        psiExtra,
        psiExtra,
        (cpu, events, stat, io, psi, extraSome, extraFull) => {
          fs.writeFileSync(path.join(dir, 'cpu.stat'), cpu.text);
          fs.writeFileSync(path.join(dir, 'memory.events'), events.text);
          fs.writeFileSync(path.join(dir, 'memory.stat'), stat.text);
          fs.writeFileSync(
            path.join(dir, 'io.stat'),
            `${io
              .map((l) =>
                [`${l.major}:${l.minor}`, ...l.known.map((k) => `${k}=${l.values[IO.indexOf(k)]}`), ...l.unknown.map(([k, v]) => `${k}=${v}`)].join(' '),
              )
              .join('\n')}\n`,
          );
          const fields = `avg10=${cents(psi.avg10)} avg60=${cents(psi.avg60)} avg300=${cents(psi.avg300)} total=${psi.totalUs}`;
          const extra = (e: Array<[string, string]>) => e.map(([k, v]) => ` ${k}=${v}`).join('');
          fs.writeFileSync(path.join(dir, 'cpu.pressure'), `some ${fields}${extra(extraSome)}\npartial ${fields}\nfull${extra(extraFull)} ${fields}\n`);

          const r = readStats({ version: 2, path: '/', dir }, new Set(['cpu', 'memory', 'disk', 'pressure']), newReadState(), { deviceNames: NAMES });
          assert.deepEqual(r.errors, []);
          const psiWant = { avg10: psi.avg10 / 100, avg60: psi.avg60 / 100, avg300: psi.avg300 / 100, totalUs: psi.totalUs };
          const want: Record<string, unknown> = {
            version: 2,
            memory: {
              events: Object.fromEntries(Object.entries(events.expected).map(([k, v]) => [k === 'oom_kill' ? 'oomKill' : k, v])),
              stat: stat.expected,
            },
            disk: {
              devices: io.map((l) => ({
                major: l.major,
                minor: l.minor,
                device: `${l.major}:${l.minor}`,
                ...Object.fromEntries(IO.map((k) => [IO_FIELD[k], l.known.includes(k) ? (l.values[IO.indexOf(k)] ?? 0) : 0])),
              })),
            },
            pressure: { cpu: { some: psiWant, full: psiWant } },
          };
          const cpuWant = Object.fromEntries(Object.entries(cpu.expected).map(([k, v]) => [CPU_FIELD[k as (typeof CPU)[number]], v]));
          if (Object.keys(cpuWant).length) want.cpu = cpuWant;
          assert.deepEqual(r.stats, want);
        },
      ),
      { numRuns: 100 },
    );
  });

  test('readStats on a generated v1 tree: cpu.stat, cpuacct.stat ticks, memory.oom_control and memory.stat with unknown keys', () => {
    const root = path.join(tmp, 'v1');
    for (const c of ['cpu', 'cpuacct', 'memory']) fs.mkdirSync(path.join(root, c), { recursive: true });
    const CPU = ['nr_periods', 'nr_throttled', 'throttled_time'] as const;
    const CPU_FIELD = { nr_periods: 'nrPeriods', nr_throttled: 'nrThrottled', throttled_time: 'throttledTimeNs' } as const;
    const TICKS = ['user', 'system'] as const;
    const OOM = ['under_oom', 'oom_kill'] as const;
    fc.assert(
      fc.property(keyedFile(CPU), keyedFile(TICKS), keyedFile(OOM), keyedFile(V1_MEMORY_STAT_KEYS), (cpu, ticks, oom, stat) => {
        fs.writeFileSync(path.join(root, 'cpu', 'cpu.stat'), cpu.text);
        fs.writeFileSync(path.join(root, 'cpuacct', 'cpuacct.stat'), ticks.text);
        fs.writeFileSync(path.join(root, 'memory', 'memory.oom_control'), oom.text);
        fs.writeFileSync(path.join(root, 'memory', 'memory.stat'), stat.text);
        const r = readStats(
          { version: 1, path: '/', dirs: { cpu: path.join(root, 'cpu'), cpuacct: path.join(root, 'cpuacct'), memory: path.join(root, 'memory') } },
          new Set(['cpu', 'memory']),
        );
        assert.deepEqual(r.errors, []);
        const cpuWant: Record<string, number> = {};
        if (ticks.expected.user !== undefined) cpuWant.userTicks = ticks.expected.user;
        if (ticks.expected.system !== undefined) cpuWant.systemTicks = ticks.expected.system;
        for (const [k, v] of Object.entries(cpu.expected)) cpuWant[CPU_FIELD[k as (typeof CPU)[number]]] = v;
        const memWant: Record<string, unknown> = { stat: stat.expected };
        if (oom.expected.oom_kill !== undefined) memWant.oomKill = oom.expected.oom_kill;
        if (oom.expected.under_oom !== undefined) memWant.underOom = oom.expected.under_oom;
        const want: Record<string, unknown> = { version: 1, memory: memWant };
        if (Object.keys(cpuWant).length) want.cpu = cpuWant;
        assert.deepEqual(r.stats, want);
      }),
      { numRuns: 100 },
    );
  });
});

describe('(d) values out of [0, 2^63): left out and told to the RangeSink, every other value kept', () => {
  /** A value that is in range, or not; `keep` says which. */
  const anyValue = fc.oneof(
    counterStr.map((v) => ({ v, keep: true })),
    outOfRangeStr.map((v) => ({ v, keep: false })),
  );

  test('parseSingleValue and parseLimit', () => {
    fc.assert(
      fc.property(anyValue, fc.constantFrom('', '\n'), ({ v, keep }, tail) => {
        const s = sink();
        assert.equal(parseSingleValue(v + tail, s), keep ? Number(v) : undefined);
        assert.deepEqual(s.tokens, keep ? [] : [v]);
        // Limits: -1 and values ≥ 2^62 mean "no limit"; other negatives are out of range.
        const l = sink();
        const lim = parseLimit(v + tail, l);
        if (v === '-1' || (!v.startsWith('-') && BigInt(v) >= 2n ** 62n)) assert.equal(lim, Infinity);
        else assert.equal(lim, keep ? Number(v) : undefined);
        assert.equal(l.tokens.length, v.startsWith('-') && v !== '-1' ? 1 : 0);
      }),
      { numRuns: RUNS },
    );
  });

  test('parseFlatKeyed, pickFlatKeyed, parseNestedKeyed, parseBlkio, parseIntegerList, parsePressure', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(keyName, anyValue), { selector: ([k]) => k, minLength: 1, maxLength: 20 }), (pairs) => {
        const bad = pairs.filter(([, x]) => !x.keep).map(([, x]) => x.v);
        const kept = pairs.filter(([, x]) => x.keep).map(([k, x]) => [k, Number(x.v)]);

        const s1 = sink();
        assert.deepEqual([...parseFlatKeyed(pairs.map(([k, x]) => `${k} ${x.v}`).join('\n'), s1)], kept);
        assert.deepEqual(s1.tokens, bad);

        const s2 = sink();
        const keys = pairs.map(([k]) => k);
        const picked = pickFlatKeyed(pairs.map(([k, x]) => `${k} ${x.v}`).join('\n'), keys, s2);
        assert.deepEqual(picked.values, Object.fromEntries(kept));
        assert.deepEqual(s2.tokens, bad);

        const s3 = sink();
        const nested = parseNestedKeyed(`8:0 ${pairs.map(([k, x]) => `${k}=${x.v}`).join(' ')}\n`, s3);
        assert.deepEqual([...(nested[0]?.values ?? [])], kept);
        assert.deepEqual(s3.tokens, bad);

        const s4 = sink();
        const rows = parseBlkio(pairs.map(([, x]) => `8:0 Read ${x.v}`).join('\n'), s4);
        assert.deepEqual(
          rows.map((r) => r.value),
          kept.map(([, v]) => v),
        );
        assert.deepEqual(s4.tokens, bad);

        const s5 = sink();
        const list = parseIntegerList(pairs.map(([, x]) => x.v).join(' '), s5);
        assert.deepEqual(list, bad.length ? undefined : kept.map(([, v]) => v));
        assert.deepEqual(s5.tokens, bad.slice(0, 1));

        const s6 = sink();
        const [, first] = pairs[0] as [string, { v: string; keep: boolean }];
        const psi = parsePressure(`some avg10=0.00 avg60=0.00 avg300=0.00 total=${first.v}\n`, s6);
        assert.deepEqual(psi.some?.totalUs, first.keep ? Number(first.v) : undefined);
        assert.deepEqual(s6.tokens, first.keep ? [] : [first.v]);
      }),
      { numRuns: RUNS },
    );
  });

  test('a negative PSI average is left out and told', () => {
    const s = sink();
    assert.deepEqual(parsePressure('some avg10=-1.00 avg60=0.00 avg300=0.00 total=5\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n', s), {
      full: { avg10: 0, avg60: 0, avg300: 0, totalUs: 7 },
    });
    assert.equal(s.tokens.length, 1);
  });
});
