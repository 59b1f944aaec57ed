import * as fs from 'node:fs';
import { compact } from '../compact.ts';
import type { Reading } from '../reading.ts';
import type { HugetlbStats } from '../types.ts';
import type { Controller } from './controller.ts';

/** Where one page size's values are: `hugetlb.<size>.<file>`. */
interface HugetlbFiles {
  /** Usage in bytes; its files also list the page sizes. */
  usage: string;
  limit: string;
  /** Peak usage: v1 only. */
  maxUsage?: string;
  /** The failure count: a single-integer file, or the `failcntKey` line of a keyed file. */
  failcnt: string;
  failcntKey?: string;
}

const V1_FILES: HugetlbFiles = { usage: 'usage_in_bytes', limit: 'limit_in_bytes', maxUsage: 'max_usage_in_bytes', failcnt: 'failcnt' };
const V2_FILES: HugetlbFiles = { usage: 'current', limit: 'max', failcnt: 'events', failcntKey: 'max' };

/** hugetlb: one entry per page size the kernel lists (`2MB`, `1GB`), in the same shape under v1 and v2. */
export const hugetlbController: Controller = {
  groups: ['hugetlb'],

  readV1(r, cg, s) {
    if (cg.dirs.hugetlb) s.hugetlb = readHugetlb(r, cg.dirs.hugetlb, V1_FILES);
  },

  readV2(r, dir, s) {
    s.hugetlb = readHugetlb(r, dir, V2_FILES);
  },
};

function readHugetlb(r: Reading, dir: string, f: HugetlbFiles): HugetlbStats[] | undefined {
  const list: HugetlbStats[] = [];
  for (const size of pageSizes(r, dir, f.usage)) {
    const prefix = `hugetlb.${size}.`;
    const h = compact({
      pageSize: size,
      usage: r.int(dir, prefix + f.usage),
      max: r.limit(dir, prefix + f.limit),
      maxUsage: f.maxUsage === undefined ? undefined : r.int(dir, prefix + f.maxUsage),
      failcnt: f.failcntKey === undefined ? r.int(dir, prefix + f.failcnt) : r.keyed(dir, prefix + f.failcnt)?.get(f.failcntKey),
    });
    // A page size with neither usage nor failures readable has nothing to report.
    if (h.usage !== undefined || h.failcnt !== undefined) list.push(h);
  }
  return list.length ? list : undefined;
}

/** The page sizes named by `hugetlb.<size>.<usage>` files, listed once per task (they are fixed at boot). */
function pageSizes(r: Reading, dir: string, usage: string): string[] {
  if (r.state.hugetlbSizes) return r.state.hugetlbSizes;
  const suffix = `.${usage}`;
  let sizes: string[] = [];
  try {
    sizes = fs
      .readdirSync(dir)
      .filter((f) => f.startsWith('hugetlb.') && f.endsWith(suffix) && f.split('.').length === 3)
      .map((f) => f.split('.')[1] as string);
  } catch {
    r.markGoneIfMissing(dir);
  }
  r.state.hugetlbSizes = sizes;
  return sizes;
}
