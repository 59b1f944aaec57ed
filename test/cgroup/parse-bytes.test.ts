/**
 * The byte parsers (src/cgroup/parse/bytes.ts) against their string twins, property tests
 * (fast-check): on arbitrary bytes, on soups of the tokens cgroup files are made of, on the real
 * fixture files and their truncated prefixes, each byte parser gives exactly what the string
 * parser gives on the same bytes read as latin1: the same value (Object.is: 0 is never -0), the
 * same `valid`, the same out-of-range tokens told to the RangeSink. The bytes sit at a random
 * offset of a larger buffer with garbage around them, as they do in the read-ahead buffer.
 * Also: FileReader subclasses that serve contents (a string from read()/readFd(), or a Buffer
 * through serve()) give the same readings as the files themselves.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { FileReader } from '../../src/cgroup/file-reader.ts';
import { FileBudget } from '../../src/cgroup/kept-files.ts';
import { cgroupMountsFromDirectory } from '../../src/cgroup/mounts.ts';
import { blkioTotalOnly, FlatKeys, limitBytes, pressureBytes, scanFlatKeyed, singleValueBytes } from '../../src/cgroup/parse/bytes.ts';
import { parseFlatKeyed, parseLimit, parseSingleValue, pickFlatKeyed, pickKeys, type RangeSink } from '../../src/cgroup/parse/file-formats.ts';
import { parsePressure } from '../../src/cgroup/parse/pressure.ts';
import { newReadState, readStats } from '../../src/cgroup/read.ts';
import { resolveCgroup } from '../../src/cgroup/resolve.ts';
import { ALL_GROUPS, V1_MEMORY_STAT_KEYS, V2_MEMORY_STAT_KEYS, type MetricGroup } from '../../src/cgroup/types.ts';

const RUNS = 1000;
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(repo, 'test/fixtures');
const FIXTURE_FILES: Buffer[] = fs
  .readdirSync(FIXTURES, { recursive: true, encoding: 'utf8' })
  .map((rel) => path.join(FIXTURES, rel))
  .filter((p) => fs.statSync(p).isFile())
  .map((p) => fs.readFileSync(p));

/** A RangeSink that keeps what it is told. */
function sink(): RangeSink & { tokens: string[] } {
  const tokens: string[] = [];
  return { tokens, outOfRange: (t: string) => void tokens.push(t) };
}

/** `bytes` at a random offset of a buffer with random bytes around them: [buffer, start, end]. */
function embed(bytes: Uint8Array, before: Uint8Array, after: Uint8Array): [Buffer, number, number] {
  const buf = Buffer.concat([before, bytes, after]);
  return [buf, before.length, before.length + bytes.length];
}

/** Text made of the tokens the formats are built from. */
const soupToken = fc.constantFrom(
  ' ',
  ' ',
  '  ',
  '\n',
  '\n',
  '\t',
  '\r',
  '\v',
  '\f',
  '\xa0',
  '\x85',
  '\0',
  ':',
  '=',
  '-',
  '+',
  '.',
  '0',
  '00',
  '1',
  '7',
  '9',
  '42',
  '0.00',
  '7.97',
  '1.5.',
  '.5',
  '123456789012345',
  '1234567890123456',
  '4611686018427387903',
  '4611686018427387904',
  '4611686018427387905',
  '9223372036854771712',
  '9223372036854775807',
  '9223372036854775808',
  '18446744073709551615',
  '100000000000000000000000',
  '1000000000000000000000000',
  '-0',
  '-1',
  'max',
  'Total',
  'Total ',
  'Read',
  '8:0',
  'some',
  'full',
  'some avg10=',
  'full avg10=',
  ' avg60=',
  ' avg300=',
  ' total=',
  'avg10=',
  'total=',
  'cache',
  'total_cache',
  'total_rss',
  'total_rss_huge',
  'anon',
  'file',
  'nr_periods',
  'oom_kill',
  'under_oom',
  'usage_usec',
  'é',
  'Ā',
);
const soup = fc.array(soupToken, { maxLength: 60 }).map((ts) => ts.join(''));
/** latin1 text as bytes. */
const latin1Bytes = (t: string): Uint8Array => Buffer.from(t, 'latin1');
/** Inputs: arbitrary bytes, token soups (characters past latin1 written as their low byte, as latin1 does), fixture files and their prefixes. */
const input = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  soup.map(latin1Bytes),
  fc.tuple(fc.constantFrom(...FIXTURE_FILES), fc.nat()).map(([b, cut]) => b.subarray(0, cut % (b.length + 1))),
);
const garbage = fc.uint8Array({ maxLength: 12 });

/** A single-value file as the kernel writes it, and near misses. */
const valueLike = fc.oneof(
  fc.constantFrom(
    'max',
    '-1',
    'max\n',
    '-1\n',
    '',
    '\n',
    '0\n',
    '-0\n',
    ' 5\n',
    '5 \n',
    '5\n\n',
    '4611686018427387904\n',
    '4611686018427387903\n',
    '9223372036854771712\n',
  ),
  fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }).map((v) => `${v}\n`),
  fc.stringMatching(/^[0-9]{1,24}\n?$/),
);

describe('byte parsers agree with the string parsers', () => {
  test('singleValueBytes = parseSingleValue, limitBytes = parseLimit', () => {
    fc.assert(
      fc.property(fc.oneof(input, valueLike.map(latin1Bytes)), garbage, garbage, (bytes, before, after) => {
        const [buf, start, end] = embed(bytes, before, after);
        const text = Buffer.from(bytes).toString('latin1');
        const a = sink();
        const b = sink();
        assert.ok(Object.is(singleValueBytes(buf, start, end, a), parseSingleValue(text, b)));
        assert.deepEqual(a.tokens, b.tokens);
        const c = sink();
        const d = sink();
        assert.ok(Object.is(limitBytes(buf, start, end, c), parseLimit(text, d)));
        assert.deepEqual(c.tokens, d.tokens);
      }),
      { numRuns: RUNS },
    );
  });

  /** Keys to pick: the real sets, and generated ones (repeated keys, an empty one, characters past latin1). */
  const keySet: fc.Arbitrary<string[]> = fc.oneof(
    fc.constant<string[]>([...V1_MEMORY_STAT_KEYS]),
    fc.constant<string[]>([...V2_MEMORY_STAT_KEYS]),
    fc.constant<string[]>(['nr_periods', 'nr_throttled', 'throttled_time']),
    fc.constant<string[]>(['oom_kill', 'under_oom']),
    fc.array(fc.oneof(fc.constantFrom('cache', 'total_cache', 'anon', 'é', 'Ā', 'a\tb', '', 'x'), fc.stringMatching(/^[a-z_]{1,8}$/)), { maxLength: 8 }),
  );
  /** `key value` lines from the keys, with soup between them. */
  const keyedText = (keys: string[]) =>
    fc
      .array(
        fc.oneof(
          fc.tuple(fc.constantFrom(...(keys.length ? keys : ['k'])), valueLike).map(([k, v]) => `${k} ${v.endsWith('\n') ? v : `${v}\n`}`),
          soup,
        ),
        { maxLength: 30 },
      )
      .map((ls) => ls.join(''));

  test('scanFlatKeyed = pickFlatKeyed (all false) and pickKeys(parseFlatKeyed) (all true)', () => {
    fc.assert(
      fc.property(
        keySet.chain((keys) => fc.tuple(fc.constant(keys), fc.oneof(input, keyedText(keys).map(latin1Bytes)))),
        garbage,
        garbage,
        ([keys, bytes], before, after) => {
          const [buf, start, end] = embed(bytes, before, after);
          const text = Buffer.from(bytes).toString('latin1');
          const fk = new FlatKeys(keys);
          const toRecord = (vs: ReadonlyArray<number | undefined>): Record<string, number> => {
            const out: Record<string, number> = {};
            for (let i = 0; i < keys.length; i++) {
              const v = vs[i];
              if (v !== undefined) out[keys[i] as string] = v;
            }
            return out;
          };

          const a = sink();
          const b = sink();
          const valid = scanFlatKeyed(buf, start, end, fk, a, false);
          const want = pickFlatKeyed(text, keys, b);
          assert.equal(valid, want.valid);
          assert.deepEqual(toRecord(fk.values), want.values);
          assert.deepEqual(a.tokens, b.tokens);

          const c = sink();
          const d = sink();
          const validAll = scanFlatKeyed(buf, start, end, fk, c, true);
          const m = parseFlatKeyed(text, d);
          assert.equal(validAll, m.size > 0);
          assert.deepEqual(toRecord(fk.values), pickKeys(m, keys));
          // keyed() keeps the first token told.
          assert.equal(c.tokens[0], d.tokens[0]);
          for (const v of fk.values) assert.ok(v === undefined || !Object.is(v, -0));
        },
      ),
      { numRuns: RUNS },
    );
  });

  const psiNumber = fc.oneof(
    fc.constantFrom('0.00', '7.97', '100.00', '0', '12', '.5', '5.', '1.2.3', '-1.00', '123456789012.345', '1234567890123.456', ''),
    fc.tuple(fc.nat({ max: 99999 }), fc.nat({ max: 99 })).map(([a, b]) => `${a}.${String(b).padStart(2, '0')}`),
  );
  const psiTotal = fc.oneof(fc.constantFrom('0', '-1', '18446744073709551615', '9223372036854775807', '1234567890123456', ''), fc.nat().map(String));
  const psiLine = fc
    .tuple(fc.constantFrom('some', 'full', 'none', ' some'), psiNumber, psiNumber, psiNumber, psiTotal, fc.constantFrom('\n', '\n', '', ' \n', '\r\n', '\n\n'))
    .map(([k, a, b, c, t, end]) => `${k} avg10=${a} avg60=${b} avg300=${c} total=${t}${end}`);

  test('pressureBytes = parsePressure', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          input,
          fc
            .array(fc.oneof(psiLine, psiLine, soup), { maxLength: 4 })
            .map((ls) => ls.join(''))
            .map(latin1Bytes),
        ),
        garbage,
        garbage,
        (bytes, before, after) => {
          const [buf, start, end] = embed(bytes, before, after);
          const text = Buffer.from(bytes).toString('latin1');
          const a = sink();
          const b = sink();
          const got = pressureBytes(buf, start, end, a);
          const want = parsePressure(text, b);
          assert.deepEqual(got, want);
          assert.deepEqual(Object.keys(got), Object.keys(want));
          for (const k of ['some', 'full'] as const) {
            const g = got[k];
            const w = want[k];
            if (g && w) for (const f of ['avg10', 'avg60', 'avg300', 'totalUs'] as const) assert.ok(Object.is(g[f], w[f]), `${k}.${f}: ${g[f]} vs ${w[f]}`);
          }
          assert.deepEqual(a.tokens, b.tokens);
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('blkioTotalOnly: only a text the string path reads as no rows and no error', () => {
    const blkio = fc.oneof(
      input,
      fc
        .constantFrom('Total 0\n', 'Total 0', 'Total 12345\n', 'Total \n', 'Total 0\n\n', 'Total 1234567890123456\n', '8:0 Read 5\nTotal 5\n', ' Total 0\n')
        .map(latin1Bytes),
    );
    fc.assert(
      fc.property(blkio, garbage, garbage, (bytes, before, after) => {
        const [buf, start, end] = embed(bytes, before, after);
        const text = Buffer.from(bytes).toString('latin1');
        if (blkioTotalOnly(buf, start, end)) {
          assert.ok(!text.includes(':'), 'no device row');
          assert.ok(/^Total \d+$/m.test(text), 'the Total line: no parse error');
        }
      }),
      { numRuns: RUNS },
    );
    assert.equal(blkioTotalOnly(Buffer.from('Total 0\n'), 0, 8), true);
  });
});

describe('FileReader subclasses that serve contents', () => {
  const V1 = path.join(FIXTURES, 'cgroup-v1-kernel-6.18');
  const V2 = path.join(FIXTURES, 'cgroup-v2-kernel-6.18/loaded');
  const ALL = new Set<MetricGroup>(ALL_GROUPS);

  /** Every file of a tree, read once. */
  function contents(root: string): Map<string, Buffer> {
    const m = new Map<string, Buffer>();
    for (const rel of fs.readdirSync(root, { recursive: true, encoding: 'utf8' })) {
      const p = path.join(root, rel);
      if (fs.statSync(p).isFile()) m.set(p, fs.readFileSync(p));
    }
    return m;
  }
  const enoent = (file: string): Error => Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });

  /** Serves text: overrides read() and readFd() (a replay as bench/lib/readers.ts MapReader does). */
  class TextReader extends FileReader {
    readonly served: string[] = [];
    constructor(private readonly files: Map<string, Buffer>) {
      super(16);
    }
    override read(file: string): string {
      const b = this.files.get(file);
      if (b === undefined) throw enoent(file);
      this.served.push(file);
      return b.toString('latin1');
    }
    override readFd(_fd: number, file: string): string {
      return this.read(file);
    }
  }

  /** Serves bytes: overrides readInto() and readFdInto() and returns serve(buffer). */
  class BytesReader extends FileReader {
    readonly served: string[] = [];
    constructor(private readonly files: Map<string, Buffer>) {
      super(16);
    }
    override readInto(dir: string, name: string): number {
      const file = `${dir}/${name}`;
      const b = this.files.get(file);
      if (b === undefined) throw enoent(file);
      this.served.push(file);
      return this.serve(b);
    }
    override readFdInto(_fd: number, dir: string, name: string): number {
      return this.readInto(dir, name);
    }
  }

  for (const root of [V1, V2]) {
    test(`${path.relative(FIXTURES, root)}: a string served, a Buffer served and the files read give the same reading, files kept or not`, () => {
      const cg = resolveCgroup(cgroupMountsFromDirectory(root), '/');
      const files = contents(root);
      const direct = readStats(cg, ALL, newReadState());
      assert.deepEqual(direct.errors, []);
      for (const keep of [undefined, new FileBudget(1000)]) {
        const text = new TextReader(files);
        const bytes = new BytesReader(files);
        const textState = newReadState();
        const bytesState = newReadState();
        const directState = newReadState();
        for (let i = 0; i < 3; i++) {
          const again = readStats(cg, ALL, directState, { keep });
          const viaText = readStats(cg, ALL, textState, { reader: text, keep });
          const viaBytes = readStats(cg, ALL, bytesState, { reader: bytes, keep });
          for (const r of [again, viaText, viaBytes]) {
            assert.deepEqual(r.stats, direct.stats);
            assert.deepEqual(r.errors, []);
            assert.equal(r.gone, false);
          }
        }
        assert.ok(text.served.length > 0 && bytes.served.length > 0, 'the subclasses served the files');
        assert.equal(text.served.length, bytes.served.length);
        if (keep) assert.ok((bytesState.kept?.size ?? 0) > 0, 'the files were kept');
        for (const st of [textState, bytesState, directState]) st.kept?.retire();
      }
    });
  }
});
