/**
 * Every parser of src/cgroup/parse/ against the real kernel 6.18 fixture files (and, for the
 * /proc and /sys parsers, against this machine's live files), values checked exactly; then
 * readStats on each fixture directory.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cgroupMountsFromDirectory } from '../../src/cgroup/mounts.ts';
import { parseBlkio } from '../../src/cgroup/parse/blkio.ts';
import { parsePressure } from '../../src/cgroup/parse/pressure.ts';
import { parseMountInfo, parseProcCgroup, parseUeventDevName } from '../../src/cgroup/parse/proc.ts';
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
  pickKeys,
} from '../../src/cgroup/parse/file-formats.ts';
import { newReadState, readStats } from '../../src/cgroup/read.ts';
import { resolveCgroup } from '../../src/cgroup/resolve.ts';
import { ALL_GROUPS, DEFAULT_GROUPS, V1_MEMORY_STAT_KEYS, V2_MEMORY_STAT_KEYS, type MetricGroup, type ReadResult } from '../../src/cgroup/types.ts';
import { FIXTURE_DEVICE_NAMES } from '../helpers/device-names.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(repo, 'test/fixtures');
const V1 = path.join(FIXTURES, 'cgroup-v1-kernel-6.18');
const V2 = path.join(FIXTURES, 'cgroup-v2-kernel-6.18');

/** A fixture file's text, as the reader gets it (latin1). */
function fx(rel: string): string {
  const p = rel.startsWith('v1/') ? path.join(V1, rel.slice(3)) : path.join(V2, rel);
  return fs.readFileSync(p, 'latin1');
}

const entries = (m: Map<string, number>): Array<[string, number]> => [...m.entries()];

// ---------------------------------------------------------------------------------------------
/** memory.stat of the loaded v1 fixture: the keys the catalog uses. */
const V1_STAT_LOADED = {
  total_cache: 14524416,
  total_rss: 0,
  total_rss_huge: 0,
  total_shmem: 0,
  total_mapped_file: 49152,
  total_dirty: 57344,
  total_writeback: 0,
  total_swap: 0,
  total_inactive_file: 11816960,
  total_active_file: 2707456,
  total_inactive_anon: 0,
  total_active_anon: 0,
  total_pgfault: 30835,
  total_pgmajfault: 21,
};

/** memory.stat of the loaded v2 fixture: the keys the catalog uses. */
const V2_STAT_LOADED = {
  anon: 122880,
  file: 1306624,
  kernel: 233472,
  kernel_stack: 16384,
  sock: 0,
  shmem: 0,
  file_mapped: 28672,
  file_dirty: 0,
  file_writeback: 0,
  inactive_anon: 4096,
  active_anon: 8192,
  inactive_file: 970752,
  active_file: 335872,
  slab: 158336,
  pgfault: 23679,
  pgmajfault: 3,
};

describe('parseFlatKeyed on real key-value files', () => {
  test('v1 cpu.stat', () => {
    assert.deepEqual(entries(parseFlatKeyed(fx('v1/cpu/cpu.stat'))), [
      ['nr_periods', 33],
      ['nr_throttled', 31],
      ['throttled_time', 1929621297],
      ['nr_bursts', 0],
      ['burst_time', 0],
    ]);
    assert.deepEqual(entries(parseFlatKeyed(fx('v1/cpu/cpu.stat.local'))), [['throttled_time', 1929621297]]);
  });

  test('v1 cpuacct.stat (USER_HZ ticks)', () => {
    assert.deepEqual(entries(parseFlatKeyed(fx('v1/cpuacct/cpuacct.stat'))), [
      ['user', 37],
      ['system', 117],
    ]);
  });

  test('v1 memory.oom_control', () => {
    assert.deepEqual(entries(parseFlatKeyed(fx('v1/memory/memory.oom_control'))), [
      ['oom_kill_disable', 0],
      ['under_oom', 0],
      ['oom_kill', 0],
    ]);
  });

  test('v1 memory.stat: all 42 lines, the unlimited hierarchical_memsw_limit as a number, and the picked total_* keys', () => {
    const m = parseFlatKeyed(fx('v1/memory/memory.stat'));
    assert.equal(m.size, 42);
    assert.equal(m.get('cache'), 14524416);
    assert.equal(m.get('mapped_file'), 49152);
    assert.equal(m.get('workingset_refault_file'), 3299);
    assert.equal(m.get('pgpgin'), 29429);
    assert.equal(m.get('pgpgout'), 25884);
    assert.equal(m.get('hierarchical_memory_limit'), 199999488);
    assert.equal(m.get('hierarchical_memsw_limit'), 2 ** 63 - 4096); // v1's "unlimited", 9223372036854771712
    assert.equal(m.get('total_unevictable'), 0);
    assert.deepEqual(pickKeys(m, V1_MEMORY_STAT_KEYS), V1_STAT_LOADED);
  });

  test('v1 pids.events', () => {
    assert.deepEqual(entries(parseFlatKeyed(fx('v1/pids/pids.events'))), [['max', 0]]);
  });

  test('v2 cpu.stat with the cpu controller (loaded, after_exit, root)', () => {
    assert.deepEqual(entries(parseFlatKeyed(fx('loaded/cpu.stat'))), [
      ['usage_usec', 1970848],
      ['user_usec', 840607],
      ['system_usec', 1130241],
      ['nice_usec', 0],
      ['nr_periods', 40],
      ['nr_throttled', 39],
      ['throttled_usec', 3269141],
      ['nr_bursts', 0],
      ['burst_usec', 0],
    ]);
    const ae = parseFlatKeyed(fx('after_exit/cpu.stat'));
    assert.equal(ae.get('usage_usec'), 2099329);
    assert.equal(ae.get('nr_periods'), 45);
    assert.equal(ae.get('nr_throttled'), 42);
    assert.equal(ae.get('throttled_usec'), 3416603);
    assert.deepEqual(entries(parseFlatKeyed(fx('after_exit/cpu.stat.local'))), [['throttled_usec', 3416603]]);
    const root = parseFlatKeyed(fx('root/cpu.stat'));
    assert.equal(root.size, 9);
    assert.equal(root.get('usage_usec'), 5614989);
    assert.equal(root.get('system_usec'), 5035126);
    assert.equal(root.get('nr_periods'), 0);
  });

  test('v2 cpu.stat without the cpu controller has only the four usage keys (self, oomed)', () => {
    assert.deepEqual(entries(parseFlatKeyed(fx('self/cpu.stat'))), [
      ['usage_usec', 265179],
      ['user_usec', 88351],
      ['system_usec', 176827],
      ['nice_usec', 0],
    ]);
    assert.deepEqual(entries(parseFlatKeyed(fx('oomed/cpu.stat'))), [
      ['usage_usec', 165878],
      ['user_usec', 81018],
      ['system_usec', 84859],
      ['nice_usec', 0],
    ]);
  });

  test('v2 memory.events, memory.swap.events, cgroup.events, cgroup.stat, hugetlb events', () => {
    assert.deepEqual(entries(parseFlatKeyed(fx('loaded/memory.events'))), [
      ['low', 0],
      ['high', 0],
      ['max', 0],
      ['oom', 0],
      ['oom_kill', 0],
      ['oom_group_kill', 0],
    ]);
    assert.deepEqual(entries(parseFlatKeyed(fx('loaded/memory.swap.events'))), [
      ['high', 0],
      ['max', 0],
      ['fail', 0],
    ]);
    assert.deepEqual(entries(parseFlatKeyed(fx('loaded/cgroup.events'))), [
      ['populated', 1],
      ['frozen', 0],
    ]);
    assert.deepEqual(entries(parseFlatKeyed(fx('after_exit/cgroup.events'))), [
      ['populated', 0],
      ['frozen', 0],
    ]);
    const st = parseFlatKeyed(fx('loaded/cgroup.stat'));
    assert.equal(st.size, 16);
    assert.equal(st.get('nr_descendants'), 0);
    assert.equal(st.get('nr_subsys_memory'), 1);
    assert.deepEqual(entries(parseFlatKeyed(fx('loaded/hugetlb.1GB.events'))), [['max', 0]]);
    assert.deepEqual(entries(parseFlatKeyed(fx('loaded/hugetlb.2MB.events'))), [['max', 0]]);
  });

  test('v2 memory.stat: all 70 keys, the picked keys exactly', () => {
    const m = parseFlatKeyed(fx('loaded/memory.stat'));
    assert.equal(m.size, 70);
    assert.equal(m.get('percpu'), 288);
    assert.equal(m.get('slab_reclaimable'), 128704);
    assert.equal(m.get('slab_unreclaimable'), 29632);
    assert.equal(m.get('pgactivate'), 9);
    assert.deepEqual(pickKeys(m, V2_MEMORY_STAT_KEYS), V2_STAT_LOADED);
    const root = parseFlatKeyed(fx('root/memory.stat'));
    assert.equal(root.size, 70);
    assert.equal(root.get('file'), 982466560);
    assert.equal(root.get('unevictable'), 8388608);
    assert.equal(root.get('pgfault'), 124402);
    assert.equal(root.get('pgmajfault'), 403);
  });

  test('files that are not key-value give no entries (numa_stat lines are `key=value ...`)', () => {
    // memory.numa_stat v1 has `total=3546 N0=3546`: the first space splits `total=3546` from `N0=3546`, which is no integer.
    assert.equal(parseFlatKeyed(fx('v1/memory/memory.numa_stat')).size, 0);
    assert.equal(parseFlatKeyed(fx('v1/memory/memory.kmem.slabinfo')).size, 0);
    assert.equal(parseFlatKeyed(fx('loaded/cgroup.procs')).size, 0);
  });
});

// ---------------------------------------------------------------------------------------------
describe('single values and limits', () => {
  test('parseSingleValue on v1 counters', () => {
    assert.equal(parseSingleValue(fx('v1/memory/memory.usage_in_bytes')), 14938112);
    assert.equal(parseSingleValue(fx('v1/memory/memory.max_usage_in_bytes')), 106958848);
    assert.equal(parseSingleValue(fx('v1/memory/memory.failcnt')), 0);
    assert.equal(parseSingleValue(fx('v1/memory/memory.memsw.usage_in_bytes')), 14938112);
    assert.equal(parseSingleValue(fx('v1/memory/memory.memsw.max_usage_in_bytes')), 106958848);
    assert.equal(parseSingleValue(fx('v1/memory/memory.kmem.usage_in_bytes')), 147456);
    assert.equal(parseSingleValue(fx('v1/cpuacct/cpuacct.usage')), 1549867554);
    assert.equal(parseSingleValue(fx('v1/cpuacct/cpuacct.usage_user')), 383970096);
    assert.equal(parseSingleValue(fx('v1/cpuacct/cpuacct.usage_sys')), 1191972229);
    assert.equal(parseSingleValue(fx('v1/cpu/cpu.cfs_period_us')), 100000);
    assert.equal(parseSingleValue(fx('v1/cpu/cpu.shares')), 1024);
    assert.equal(parseSingleValue(fx('v1/pids/pids.current')), 2);
    assert.equal(parseSingleValue(fx('v1/pids/pids.peak')), 10);
    // A signed setting, not a kernel counter or gauge: no value, and told to the RangeSink (a `range` error).
    const told: string[] = [];
    assert.equal(parseSingleValue(fx('v1/cpuset/cpuset.sched_relax_domain_level'), { outOfRange: (t) => void told.push(t) }), undefined);
    assert.deepEqual(told, ['-1']);
  });

  test('parseSingleValue on v2 counters; `max` and empty files are not integers', () => {
    assert.equal(parseSingleValue(fx('loaded/memory.current')), 2117632);
    assert.equal(parseSingleValue(fx('after_exit/memory.current')), 1994752);
    assert.equal(parseSingleValue(fx('self/memory.current')), 8953856);
    assert.equal(parseSingleValue(fx('loaded/memory.peak')), 96116736);
    assert.equal(parseSingleValue(fx('self/memory.peak')), 10067968);
    assert.equal(parseSingleValue(fx('loaded/memory.swap.current')), 0);
    assert.equal(parseSingleValue(fx('loaded/pids.current')), 2);
    assert.equal(parseSingleValue(fx('loaded/pids.peak')), 4);
    assert.equal(parseSingleValue(fx('loaded/hugetlb.2MB.current')), 0);
    assert.equal(parseSingleValue(fx('loaded/memory.high')), undefined); // `max`
    assert.equal(parseSingleValue(fx('loaded/cgroup.kill')), undefined); // empty
    assert.equal(parseSingleValue(fx('loaded/cgroup.procs')), 679);
  });

  test('parseLimit: finite limits', () => {
    assert.equal(parseLimit(fx('v1/memory/memory.limit_in_bytes')), 199999488);
    assert.equal(parseLimit(fx('v1/cpu/cpu.cfs_quota_us')), 50000);
    assert.equal(parseLimit(fx('v1/pids/pids.max')), 64);
    assert.equal(parseLimit(fx('loaded/memory.max')), 199999488);
    assert.equal(parseLimit(fx('loaded/pids.max')), 64);
    assert.equal(parseLimit(fx('loaded/memory.low')), 0);
  });

  test('parseLimit: the v1 unlimited value 9223372036854771712 is Infinity', () => {
    for (const f of [
      'v1/memory/memory.memsw.limit_in_bytes',
      'v1/memory/memory.kmem.limit_in_bytes',
      'v1/memory/memory.kmem.tcp.limit_in_bytes',
      'v1/memory/memory.soft_limit_in_bytes',
      'loaded/hugetlb.1GB.max',
      'loaded/hugetlb.2MB.max',
      'loaded/hugetlb.1GB.rsvd.max',
      'after_exit/hugetlb.2MB.rsvd.max',
    ]) {
      assert.equal(fx(f), '9223372036854771712\n', f);
      assert.equal(parseLimit(fx(f)), Infinity, f);
      assert.equal(finiteOrUndefined(parseLimit(fx(f))), undefined, f);
    }
  });

  test('parseLimit: `max` is Infinity (memory.swap.max, memory.max of self, memory.high, cgroup.max.depth)', () => {
    for (const f of [
      'loaded/memory.swap.max',
      'self/memory.swap.max',
      'self/memory.max',
      'loaded/memory.high',
      'loaded/memory.zswap.max',
      'loaded/cgroup.max.depth',
    ]) {
      assert.equal(fx(f), 'max\n', f);
      assert.equal(parseLimit(fx(f)), Infinity, f);
    }
    assert.equal(finiteOrUndefined(Infinity), undefined);
    assert.equal(finiteOrUndefined(199999488), 199999488);
    assert.equal(finiteOrUndefined(0), 0);
    assert.equal(finiteOrUndefined(undefined), undefined);
  });

  test('parseLimit: -1 (v1 CFS quota "none") is Infinity; empty and other negatives are malformed', () => {
    assert.equal(parseLimit('-1\n'), Infinity);
    assert.equal(parseLimit(fx('loaded/cgroup.kill')), undefined);
    assert.equal(parseLimit('-2\n'), undefined);
    assert.equal(parseLimit('50000 100000\n'), undefined);
  });

  test('parseInteger and parseDecimal refuse what Number() would accept', () => {
    assert.equal(parseInteger('9223372036854771712'), 2 ** 63 - 4096);
    assert.equal(parseInteger('-1'), -1);
    for (const bad of ['', '-', '0x1f', '1e3', ' 1', '1.5', '+1', 'Infinity', '1'.repeat(25)]) assert.equal(parseInteger(bad), undefined, bad);
    assert.equal(parseDecimal('7.97'), 7.97);
    assert.equal(parseDecimal('0.00'), 0);
    assert.equal(parseDecimal('15'), 15);
    for (const bad of ['', '.5', '5.', '1e3', 'NaN', '0x1']) assert.equal(parseDecimal(bad), undefined, bad);
  });
});

// ---------------------------------------------------------------------------------------------
describe('integer lists and cpu.max', () => {
  test('cpuacct.usage_percpu (trailing space) and its user/sys split', () => {
    assert.equal(fx('v1/cpuacct/cpuacct.usage_percpu'), '163347551 1386520003 \n');
    assert.deepEqual(parseIntegerList(fx('v1/cpuacct/cpuacct.usage_percpu')), [163347551, 1386520003]);
    const user = parseIntegerList(fx('v1/cpuacct/cpuacct.usage_percpu_user'));
    const sys = parseIntegerList(fx('v1/cpuacct/cpuacct.usage_percpu_sys'));
    assert.deepEqual(user, [55995453, 327974643]);
    assert.deepEqual(sys, [95991117, 1095981112]);
    // The per-CPU split adds up to the cgroup-wide usage_user / usage_sys of the same kernel.
    assert.equal(
      (user ?? []).reduce((a, b) => a + b, 0),
      parseSingleValue(fx('v1/cpuacct/cpuacct.usage_user')),
    );
    assert.equal(
      (sys ?? []).reduce((a, b) => a + b, 0),
      parseSingleValue(fx('v1/cpuacct/cpuacct.usage_sys')),
    );
  });

  test('a file with words (cpuacct.usage_all header) is not an integer list; an empty file is an empty list', () => {
    assert.equal(parseIntegerList(fx('v1/cpuacct/cpuacct.usage_all')), undefined);
    assert.deepEqual(parseIntegerList(fx('v1/cpu/tasks')), []);
  });

  test('cpu.max "50000 100000"', () => {
    assert.equal(fx('loaded/cpu.max'), '50000 100000\n');
    assert.deepEqual(parseCpuMax(fx('loaded/cpu.max')), { quotaUs: 50000, periodUs: 100000 });
    assert.deepEqual(parseCpuMax(fx('after_exit/cpu.max')), { quotaUs: 50000, periodUs: 100000 });
    assert.deepEqual(parseCpuMax('max 100000\n'), { periodUs: 100000 });
    assert.equal(parseCpuMax(fx('loaded/cpu.max.burst')), undefined); // one field
    assert.equal(parseCpuMax('50000 0\n'), undefined);
    assert.equal(parseCpuMax('-5 100000\n'), undefined);
  });
});

// ---------------------------------------------------------------------------------------------
describe('io.stat (nested keyed) and devices', () => {
  test('loaded io.stat: 254:0 with dbytes/dios kept by the parser', () => {
    const lines = parseNestedKeyed(fx('loaded/io.stat'));
    assert.equal(lines.length, 1);
    const l = lines[0];
    assert.ok(l);
    assert.equal(l.major, 254);
    assert.equal(l.minor, 0);
    assert.deepEqual(entries(l.values), [
      ['rbytes', 1306624],
      ['wbytes', 209715200],
      ['rios', 114],
      ['wios', 201],
      ['dbytes', 0],
      ['dios', 0],
    ]);
    assert.deepEqual(
      parseNestedKeyed(fx('after_exit/io.stat')).map((x) => [x.major, x.minor, entries(x.values)]),
      lines.map((x) => [x.major, x.minor, entries(x.values)]),
    );
  });

  test('root io.stat: empty device lines (`253:0 `, loop devices) are accepted with no values', () => {
    assert.ok(fx('root/io.stat').startsWith('253:0 \n'));
    const lines = parseNestedKeyed(fx('root/io.stat'));
    assert.deepEqual(
      lines.map((x) => [`${x.major}:${x.minor}`, Object.fromEntries(x.values)]),
      [
        ['253:0', {}],
        ['254:16', { rbytes: 127950848, wbytes: 0, rios: 2305, wios: 0, dbytes: 0, dios: 0 }],
        ['254:0', { rbytes: 658965504, wbytes: 258048, rios: 2870, wios: 37, dbytes: 151552, dios: 8 }],
        ['7:7', {}],
        ['7:6', {}],
        ['7:5', {}],
        ['7:4', {}],
        ['7:3', {}],
        ['7:2', {}],
        ['7:1', {}],
        ['7:0', {}],
      ],
    );
  });

  test('files that are not nested-keyed give no lines (io.max empty, io.weight `default 100`)', () => {
    assert.deepEqual(parseNestedKeyed(fx('loaded/io.max')), []);
    assert.deepEqual(parseNestedKeyed(fx('loaded/io.weight')), []);
    assert.deepEqual(parseNestedKeyed(fx('loaded/io.bfq.weight')), []);
  });

  test('parseDevice', () => {
    assert.deepEqual(parseDevice('254:16'), { major: 254, minor: 16 });
    assert.deepEqual(parseDevice('7:0'), { major: 7, minor: 0 });
    for (const bad of ['', ':', '254', '254:', ':0', '-1:0', '1:-1', 'a:b', 'default']) assert.equal(parseDevice(bad), undefined, bad);
  });
});

// ---------------------------------------------------------------------------------------------
describe('blkio (v1)', () => {
  const blkioStatsFiles = [
    'blkio.bfq.io_service_bytes',
    'blkio.bfq.io_service_bytes_recursive',
    'blkio.bfq.io_serviced',
    'blkio.bfq.io_serviced_recursive',
    'blkio.throttle.io_service_bytes',
    'blkio.throttle.io_service_bytes_recursive',
    'blkio.throttle.io_serviced',
    'blkio.throttle.io_serviced_recursive',
  ];
  test('every `Total 0` file gives no rows', () => {
    for (const f of blkioStatsFiles) {
      assert.equal(fx(`v1/blkio/${f}`), 'Total 0\n', f);
      assert.deepEqual(parseBlkio(fx(`v1/blkio/${f}`)), [], f);
    }
  });

  test('the rule files (empty) and weight_device (`default 100`) give no rows', () => {
    for (const f of ['blkio.throttle.read_bps_device', 'blkio.throttle.write_iops_device', 'blkio.bfq.weight_device', 'blkio.bfq.weight']) {
      assert.deepEqual(parseBlkio(fx(`v1/blkio/${f}`)), [], f);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('PSI pressure files', () => {
  const psi = (avg10: number, avg60: number, avg300: number, totalUs: number) => ({ avg10, avg60, avg300, totalUs });
  const expected: Record<string, ReturnType<typeof parsePressure>> = {
    'loaded/cpu.pressure': { some: psi(7.97, 1.43, 0.3, 1869311), full: psi(7.97, 1.43, 0.3, 1869311) },
    'loaded/memory.pressure': { some: psi(0, 0, 0, 0), full: psi(0, 0, 0, 0) },
    'loaded/io.pressure': { some: psi(0.29, 0.06, 0.01, 42839), full: psi(0.29, 0.06, 0.01, 42839) },
    'after_exit/cpu.pressure': { some: psi(15.58, 3.02, 0.64, 2031044), full: psi(15.58, 3.02, 0.64, 2031044) },
    'after_exit/io.pressure': { some: psi(0.29, 0.06, 0.01, 42839), full: psi(0.29, 0.06, 0.01, 42839) },
    'self/cpu.pressure': { some: psi(0, 0, 0, 433), full: psi(0, 0, 0, 433) },
    'self/io.pressure': { some: psi(0, 0, 0, 184), full: psi(0, 0, 0, 184) },
    'oomed/cpu.pressure': { some: psi(0, 0, 0, 94368), full: psi(0, 0, 0, 94368) },
    'oomed/memory.pressure': { some: psi(0, 0, 0, 0), full: psi(0, 0, 0, 0) },
    'root/cpu.pressure': { some: psi(0.48, 0.46, 0.12, 693850), full: psi(0, 0, 0, 0) },
    'root/io.pressure': { some: psi(6.91, 1.52, 0.32, 997777), full: psi(6.91, 1.52, 0.32, 995934) },
  };
  for (const [f, want] of Object.entries(expected)) {
    test(f, () => assert.deepEqual(parsePressure(fx(f)), want));
  }

  test('cgroup.pressure (`1`, the PSI on/off switch) is no PSI file', () => {
    assert.deepEqual(parsePressure(fx('loaded/cgroup.pressure')), {});
  });
});

// ---------------------------------------------------------------------------------------------
describe('/proc and /sys parsers', () => {
  // Copied verbatim from this machine (kernel 6.18, hybrid layout).
  const MOUNTINFO_CGROUP_LINES = [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
    '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
  ].join('\n');

  test('parseMountInfo on mountinfo lines of this machine', () => {
    assert.deepEqual(parseMountInfo(`${MOUNTINFO_CGROUP_LINES}\n`), [
      { mountId: 31, parentId: 23, root: '/', mountPoint: '/sys/fs/cgroup', fsType: 'tmpfs', source: 'tmpfs', superOptions: ['rw', 'mode=755'] },
      { mountId: 32, parentId: 31, root: '/', mountPoint: '/sys/fs/cgroup/cpu', fsType: 'cgroup', source: 'cgroup', superOptions: ['rw', 'cpu'] },
      { mountId: 35, parentId: 31, root: '/', mountPoint: '/sys/fs/cgroup/memory', fsType: 'cgroup', source: 'cgroup', superOptions: ['rw', 'memory'] },
      { mountId: 40, parentId: 31, root: '/', mountPoint: '/sys/fs/cgroup/systemd', fsType: 'cgroup', source: 'cgroup', superOptions: ['rw', 'name=systemd'] },
      { mountId: 41, parentId: 31, root: '/', mountPoint: '/sys/fs/cgroup/unified', fsType: 'cgroup2', source: 'cgroup2', superOptions: ['rw'] },
    ]);
  });

  test('parseMountInfo on the live /proc/self/mountinfo: one entry per line, ids and fields as the kernel wrote them', () => {
    const text = fs.readFileSync('/proc/self/mountinfo', 'latin1');
    const lines = text.split('\n').filter((l) => l !== '');
    const parsed = parseMountInfo(text);
    assert.equal(parsed.length, lines.length);
    for (const [i, e] of parsed.entries()) {
      const f = (lines[i] ?? '').split(' ');
      assert.equal(e.mountId, Number(f[0]));
      assert.equal(e.parentId, Number(f[1]));
      const sep = f.indexOf('-', 6);
      assert.equal(e.fsType, f[sep + 1]);
      assert.deepEqual(e.superOptions, (f[sep + 3] ?? '').split(','));
    }
    assert.ok(
      parsed.some((e) => e.mountPoint === '/'),
      'the root mount is listed',
    );
  });

  test('parseProcCgroup on /proc/<pid>/cgroup lines of this machine', () => {
    const text = '9:name=systemd:/\n8:pids:/\n4:memory:/process_api/8732aa07d4a79c1f45e1e2a9995365a5\n2:cpuacct:/\n1:cpu,cpuacct:/a:b\n0::/\n';
    assert.deepEqual(parseProcCgroup(text), [
      { hierarchyId: 9, controllers: ['name=systemd'], path: '/' },
      { hierarchyId: 8, controllers: ['pids'], path: '/' },
      { hierarchyId: 4, controllers: ['memory'], path: '/process_api/8732aa07d4a79c1f45e1e2a9995365a5' },
      { hierarchyId: 2, controllers: ['cpuacct'], path: '/' },
      { hierarchyId: 1, controllers: ['cpu', 'cpuacct'], path: '/a:b' },
      { hierarchyId: 0, controllers: [], path: '/' },
    ]);
  });

  test('parseProcCgroup on the live /proc/self/cgroup has a line per hierarchy and the 0:: line', () => {
    const text = fs.readFileSync('/proc/self/cgroup', 'latin1');
    const parsed = parseProcCgroup(text);
    assert.equal(parsed.length, text.split('\n').filter((l) => l !== '').length);
    const v2 = parsed.filter((l) => l.hierarchyId === 0);
    assert.equal(v2.length, 1);
    assert.deepEqual(v2[0]?.controllers, []);
  });

  test('parseUeventDevName on a uevent of this machine', () => {
    assert.equal(parseUeventDevName('MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\nDISKSEQ=9\n'), 'vda');
    assert.equal(parseUeventDevName('MAJOR=254\nMINOR=1\nDEVNAME=vda1\nDEVTYPE=partition\nDISKSEQ=9\nPARTN=1\n'), 'vda1');
    assert.equal(parseUeventDevName('MAJOR=254\nMINOR=0\nDEVTYPE=disk\n'), undefined);
    assert.equal(parseUeventDevName('DEVNAME=\n'), undefined);
  });

  test('parseUeventDevName on every live /sys/dev/block/*/uevent: DEVNAME is the kernel name of that MAJ:MIN', () => {
    const devs = fs.readdirSync('/sys/dev/block');
    assert.ok(devs.length > 0, 'this machine has block devices in /sys/dev/block');
    for (const d of devs) {
      const text = fs.readFileSync(`/sys/dev/block/${d}/uevent`, 'latin1');
      const kv = new Map(
        text
          .split('\n')
          .filter((l) => l.includes('='))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
      );
      assert.equal(`${kv.get('MAJOR')}:${kv.get('MINOR')}`, d);
      // /sys/dev/block/MAJ:MIN links to .../block/<name> (or .../<disk>/<partition>).
      assert.equal(parseUeventDevName(text), path.basename(fs.realpathSync(`/sys/dev/block/${d}`)), d);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('readStats on the fixture directories', () => {
  function readDir(dir: string, groups: readonly MetricGroup[] = ALL_GROUPS): ReadResult {
    const mounts = cgroupMountsFromDirectory(dir);
    const r = readStats(resolveCgroup(mounts, '/'), new Set(groups), newReadState(), { deviceNames: FIXTURE_DEVICE_NAMES });
    assert.deepEqual(r.errors, [], `no read errors for ${dir}`);
    assert.equal(r.gone, false);
    assert.ok(Math.abs(r.timeMs - Date.now()) < 60_000);
    return r;
  }

  const PSI_LOADED = {
    cpu: { some: { avg10: 7.97, avg60: 1.43, avg300: 0.3, totalUs: 1869311 }, full: { avg10: 7.97, avg60: 1.43, avg300: 0.3, totalUs: 1869311 } },
    memory: { some: { avg10: 0, avg60: 0, avg300: 0, totalUs: 0 }, full: { avg10: 0, avg60: 0, avg300: 0, totalUs: 0 } },
    io: { some: { avg10: 0.29, avg60: 0.06, avg300: 0.01, totalUs: 42839 }, full: { avg10: 0.29, avg60: 0.06, avg300: 0.01, totalUs: 42839 } },
  };
  const EVENTS_ZERO = { low: 0, high: 0, max: 0, oom: 0, oomKill: 0 };
  const DISK_LOADED = { devices: [{ major: 254, minor: 0, device: 'vda', readBytes: 1306624, writeBytes: 209715200, readOps: 114, writeOps: 201 }] };

  // A first reading splits the exact cpuacct.usage by the sampled usage_user/usage_sys shares.
  const V1_USER_NS = 1549867554 * (383970096 / (383970096 + 1191972229));
  test('v1 tree: every group exactly; unlimited memsw absent; blkio `Total 0` gives no devices', () => {
    const r = readDir(V1);
    assert.deepEqual(r.stats, {
      version: 1,
      cpu: {
        usageNs: 1549867554,
        userNs: V1_USER_NS,
        systemNs: 1549867554 - V1_USER_NS,
        usageUserNs: 383970096,
        usageSysNs: 1191972229,
        nrPeriods: 33,
        nrThrottled: 31,
        throttledTimeNs: 1929621297,
        cfsQuotaUs: 50000,
        cfsPeriodUs: 100000,
        percpuNs: [163347551, 1386520003],
      },
      memory: {
        usage: 14938112,
        limit: 199999488,
        maxUsage: 106958848,
        failcnt: 0,
        memswUsage: 14938112,
        oomKill: 0,
        underOom: 0,
        stat: V1_STAT_LOADED,
      },
      disk: { devices: [] },
      pids: { current: 2, max: 64 },
    });
    // usage_user/usage_sys exist, so the USER_HZ fallback (cpuacct.stat) is not used.
    assert.equal('userTicks' in (r.stats.cpu ?? {}), false);
  });

  test('v1 tree with the default groups: no per-CPU list, no hugetlb', () => {
    const r = readDir(V1, DEFAULT_GROUPS);
    assert.ok(r.stats.version === 1);
    assert.deepEqual(r.stats.cpu, {
      usageNs: 1549867554,
      userNs: V1_USER_NS,
      systemNs: 1549867554 - V1_USER_NS,
      usageUserNs: 383970096,
      usageSysNs: 1191972229,
      nrPeriods: 33,
      nrThrottled: 31,
      throttledTimeNs: 1929621297,
      cfsQuotaUs: 50000,
      cfsPeriodUs: 100000,
    });
    assert.equal('hugetlb' in r.stats, false);
  });

  test('v1 tree without cpuacct.usage_user/usage_sys falls back to cpuacct.stat ticks', (t) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-parse-'));
    t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
    fs.cpSync(V1, tmp, { recursive: true });
    fs.chmodSync(path.join(tmp, 'cpuacct'), 0o755);
    fs.rmSync(path.join(tmp, 'cpuacct/cpuacct.usage_user'));
    fs.rmSync(path.join(tmp, 'cpuacct/cpuacct.usage_sys'));
    const r = readDir(tmp, ['cpu']);
    assert.deepEqual(r.stats.cpu, {
      usageNs: 1549867554,
      userNs: 1549867554 * (37 / (37 + 117)),
      systemNs: 1549867554 - 1549867554 * (37 / (37 + 117)),
      userTicks: 37,
      systemTicks: 117,
      nrPeriods: 33,
      nrThrottled: 31,
      throttledTimeNs: 1929621297,
      cfsQuotaUs: 50000,
      cfsPeriodUs: 100000,
    });
  });

  test('v2 loaded: every group exactly; dbytes/dios ignored; swap.max and hugetlb max unlimited → absent', () => {
    const r = readDir(path.join(V2, 'loaded'));
    assert.deepEqual(r.stats, {
      version: 2,
      cpu: {
        usageUsec: 1970848,
        userUsec: 840607,
        systemUsec: 1130241,
        nrPeriods: 40,
        nrThrottled: 39,
        throttledUsec: 3269141,
        maxQuotaUs: 50000,
        maxPeriodUs: 100000,
      },
      memory: { current: 2117632, max: 199999488, peak: 96116736, swapCurrent: 0, events: EVENTS_ZERO, stat: V2_STAT_LOADED },
      disk: DISK_LOADED,
      pids: { current: 2, max: 64 },
      hugetlb: [
        { pageSize: '1GB', usage: 0, failcnt: 0 },
        { pageSize: '2MB', usage: 0, failcnt: 0 },
      ],
      pressure: PSI_LOADED,
    });
    assert.equal('swapMax' in (r.stats.memory ?? {}), false);
  });

  test('v2 after_exit: the counters after the task exited', () => {
    const r = readDir(path.join(V2, 'after_exit'));
    assert.deepEqual(r.stats, {
      version: 2,
      cpu: {
        usageUsec: 2099329,
        userUsec: 892034,
        systemUsec: 1207294,
        nrPeriods: 45,
        nrThrottled: 42,
        throttledUsec: 3416603,
        maxQuotaUs: 50000,
        maxPeriodUs: 100000,
      },
      memory: { current: 1994752, max: 199999488, peak: 96116736, swapCurrent: 0, events: EVENTS_ZERO, stat: V2_STAT_LOADED },
      disk: DISK_LOADED,
      pids: { current: 2, max: 64 },
      hugetlb: [
        { pageSize: '1GB', usage: 0, failcnt: 0 },
        { pageSize: '2MB', usage: 0, failcnt: 0 },
      ],
      pressure: {
        cpu: { some: { avg10: 15.58, avg60: 3.02, avg300: 0.64, totalUs: 2031044 }, full: { avg10: 15.58, avg60: 3.02, avg300: 0.64, totalUs: 2031044 } },
        memory: PSI_LOADED.memory,
        io: PSI_LOADED.io,
      },
    });
  });

  test('v2 self (only the memory controller): no throttling keys, no cpu.max, no disk/pids/hugetlb — absent, not zero', () => {
    const r = readDir(path.join(V2, 'self'));
    assert.deepEqual(r.stats, {
      version: 2,
      cpu: { usageUsec: 265179, userUsec: 88351, systemUsec: 176827 },
      memory: {
        current: 8953856,
        peak: 10067968,
        swapCurrent: 0,
        events: EVENTS_ZERO,
        stat: {
          anon: 1134592,
          file: 679936,
          kernel: 4722688,
          kernel_stack: 81920,
          sock: 0,
          shmem: 0,
          file_mapped: 36864,
          file_dirty: 274432,
          file_writeback: 0,
          inactive_anon: 942080,
          active_anon: 49152,
          inactive_file: 577536,
          active_file: 90112,
          slab: 834536,
          pgfault: 33845,
          pgmajfault: 7,
        },
      },
      pressure: {
        cpu: { some: { avg10: 0, avg60: 0, avg300: 0, totalUs: 433 }, full: { avg10: 0, avg60: 0, avg300: 0, totalUs: 433 } },
        memory: PSI_LOADED.memory,
        io: { some: { avg10: 0, avg60: 0, avg300: 0, totalUs: 184 }, full: { avg10: 0, avg60: 0, avg300: 0, totalUs: 184 } },
      },
    });
    for (const k of ['disk', 'pids', 'hugetlb'] as const) assert.equal(k in r.stats, false, k);
    assert.equal('max' in (r.stats.memory ?? {}), false, 'memory.max `max` is absent');
  });

  test('v2 oomed (no controller enabled): only cpu usage and pressure; memory, disk, pids, hugetlb absent', () => {
    const r = readDir(path.join(V2, 'oomed'));
    assert.deepEqual(r.stats, {
      version: 2,
      cpu: { usageUsec: 165878, userUsec: 81018, systemUsec: 84859 },
      pressure: {
        cpu: { some: { avg10: 0, avg60: 0, avg300: 0, totalUs: 94368 }, full: { avg10: 0, avg60: 0, avg300: 0, totalUs: 94368 } },
        memory: PSI_LOADED.memory,
        io: { some: { avg10: 0, avg60: 0, avg300: 0, totalUs: 0 }, full: { avg10: 0, avg60: 0, avg300: 0, totalUs: 0 } },
      },
    });
    for (const k of ['memory', 'disk', 'pids', 'hugetlb'] as const) assert.equal(k in r.stats, false, k);
  });

  test('v2 root: memory.stat only, io.stat with the empty device lines as zero rows', () => {
    const r = readDir(path.join(V2, 'root'));
    const zero = (major: number, minor: number) => ({ major, minor, device: `${major}:${minor}`, readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0 });
    assert.deepEqual(r.stats, {
      version: 2,
      cpu: { usageUsec: 5614989, userUsec: 579863, systemUsec: 5035126, nrPeriods: 0, nrThrottled: 0, throttledUsec: 0 },
      memory: {
        stat: {
          anon: 1966080,
          file: 982466560,
          kernel: 9678848,
          kernel_stack: 507904,
          sock: 0,
          shmem: 7544832,
          file_mapped: 9760768,
          file_dirty: 1462272,
          file_writeback: 0,
          inactive_anon: 946176,
          active_anon: 49152,
          inactive_file: 927358976,
          active_file: 47546368,
          slab: 4979784,
          pgfault: 124402,
          pgmajfault: 403,
        },
      },
      disk: {
        devices: [
          zero(253, 0),
          { major: 254, minor: 16, device: 'vdb', readBytes: 127950848, writeBytes: 0, readOps: 2305, writeOps: 0 },
          { major: 254, minor: 0, device: 'vda', readBytes: 658965504, writeBytes: 258048, readOps: 2870, writeOps: 37 },
          zero(7, 7),
          zero(7, 6),
          zero(7, 5),
          zero(7, 4),
          zero(7, 3),
          zero(7, 2),
          zero(7, 1),
          zero(7, 0),
        ],
      },
      pressure: {
        cpu: { some: { avg10: 0.48, avg60: 0.46, avg300: 0.12, totalUs: 693850 }, full: { avg10: 0, avg60: 0, avg300: 0, totalUs: 0 } },
        memory: PSI_LOADED.memory,
        io: { some: { avg10: 6.91, avg60: 1.52, avg300: 0.32, totalUs: 997777 }, full: { avg10: 6.91, avg60: 1.52, avg300: 0.32, totalUs: 995934 } },
      },
    });
  });

  test('only the asked groups are read', () => {
    assert.deepEqual(readDir(path.join(V2, 'loaded'), ['pids']).stats, { version: 2, pids: { current: 2, max: 64 } });
    assert.deepEqual(readDir(path.join(V2, 'loaded'), ['disk']).stats, { version: 2, disk: DISK_LOADED });
    assert.deepEqual(readDir(V1, ['pids']).stats, { version: 1, pids: { current: 2, max: 64 } });
    assert.deepEqual(readDir(V1, ['cpu.percpu']).stats, { version: 1, cpu: { percpuNs: [163347551, 1386520003] } });
    assert.deepEqual(readDir(V1, ['pressure', 'hugetlb', 'uptime']).stats, { version: 1 });
  });

  test('a second read with the same ReadState gives the same values (absent files remembered)', () => {
    for (const d of [V1, path.join(V2, 'self'), path.join(V2, 'oomed')]) {
      const cg = resolveCgroup(cgroupMountsFromDirectory(d), '/');
      const state = newReadState();
      const a = readStats(cg, new Set(ALL_GROUPS), state);
      const absentAfterFirst = [...state.absent].sort();
      const b = readStats(cg, new Set(ALL_GROUPS), state);
      assert.deepEqual(b.stats, a.stats, d);
      assert.deepEqual(b.errors, []);
      assert.deepEqual([...state.absent].sort(), absentAfterFirst);
    }
    // oomed lacks the memory files: they are remembered as absent.
    const cg = resolveCgroup(cgroupMountsFromDirectory(path.join(V2, 'oomed')), '/');
    const state = newReadState();
    readStats(cg, new Set(ALL_GROUPS), state);
    assert.ok(state.absent.has(path.join(V2, 'oomed', 'memory.current')));
    assert.ok(state.absent.has(path.join(V2, 'oomed', 'io.stat')));
    assert.ok(!state.absent.has(path.join(V2, 'oomed', 'cpu.stat')));
  });

  describe('hybrid tree (v1 fixture hierarchies + the loaded cgroup2 dir as `unified`)', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-hybrid-'));
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));
    for (const c of ['cpu', 'cpuacct', 'memory', 'blkio', 'pids', 'cpuset']) fs.symlinkSync(path.join(V1, c), path.join(tmp, c));
    fs.symlinkSync(path.join(V2, 'loaded'), path.join(tmp, 'unified'));

    test('pressure comes from the cgroup2 twin, everything else from v1', () => {
      const mounts = cgroupMountsFromDirectory(tmp);
      assert.equal(mounts.mode, 'hybrid');
      const cg = resolveCgroup(mounts, '/');
      assert.equal(cg.version, 1);
      assert.equal(cg.version === 1 ? cg.unified : undefined, path.join(tmp, 'unified'));
      const r = readStats(cg, new Set(ALL_GROUPS));
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.stats.pressure, PSI_LOADED);
      assert.equal(r.stats.version, 1);
      assert.equal(r.stats.cpu?.nrThrottled, 31);
      assert.equal(r.stats.memory?.limit, 199999488);
    });
  });
});

test('-0 is read as 0, never as a negative zero (fast-check found parseValue and parseSingleValue disagreeing on it)', () => {
  for (const v of [parseInteger('-0'), parseValue('-0'), parseSingleValue('-0\n'), parseInteger('-000')])
    assert.ok(Object.is(v, 0), `got ${Object.is(v, -0) ? '-0' : v}`);
});
