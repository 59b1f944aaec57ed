import type { PsiLine, PsiStats } from '../types.ts';
import { parseDecimal, parseValue, type RangeSink } from './file-formats.ts';

/**
 * A PSI file (`cpu.pressure`, `memory.pressure`, `io.pressure`):
 * `some avg10=7.97 avg60=1.43 avg300=0.30 total=1869311` and the same for `full`.
 * A line missing any of the four fields is skipped; unknown fields are ignored. A line with a
 * negative average or a total out of range is skipped and told to `range`.
 */
export function parsePressure(text: string, range?: RangeSink): PsiStats {
  const out: PsiStats = {};
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const kind = f[0];
    if (kind !== 'some' && kind !== 'full') continue;
    let avg10: number | undefined, avg60: number | undefined, avg300: number | undefined, total: number | undefined;
    for (let i = 1; i < f.length; i++) {
      const tok = f[i] ?? '';
      const eq = tok.indexOf('=');
      if (eq <= 0) continue;
      const k = tok.slice(0, eq);
      const v = tok.slice(eq + 1);
      if (k === 'avg10') avg10 = parseDecimal(v);
      else if (k === 'avg60') avg60 = parseDecimal(v);
      else if (k === 'avg300') avg300 = parseDecimal(v);
      else if (k === 'total') total = parseValue(v, range);
    }
    if (avg10 === undefined || avg60 === undefined || avg300 === undefined || total === undefined) continue;
    if (avg10 < 0 || avg60 < 0 || avg300 < 0) {
      range?.outOfRange(line.trim());
      continue;
    }
    const psi: PsiLine = { avg10, avg60, avg300, totalUs: total };
    out[kind] = psi;
  }
  return out;
}
