import type { NetworkInterfaceStats } from '../types.ts';
import { parseValue, type RangeSink } from './file-formats.ts';

/**
 * /proc/<pid>/net/dev: two header lines, then `IFACE: RX(bytes packets errs drop fifo frame
 * compressed multicast) TX(bytes packets errs drop fifo colls carrier compressed)`. Never
 * throws: a line without the colon or with fewer than 16 valid values is skipped; an
 * out-of-range value (told to `range`) skips its line too. Interface names are kept as written.
 */
export function parseNetDev(text: string, range?: RangeSink): NetworkInterfaceStats[] {
  const out: NetworkInterfaceStats[] = [];
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === '' || name.includes('|')) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (f.length < 16) continue;
    const v: number[] = [];
    for (let i = 0; i < 16; i++) {
      const x = parseValue(f[i] as string, range);
      if (x === undefined) break;
      v.push(x);
    }
    if (v.length < 16) continue;
    out.push({
      interface: name,
      rxBytes: v[0] as number,
      rxPackets: v[1] as number,
      rxErrors: v[2] as number,
      rxDropped: v[3] as number,
      txBytes: v[8] as number,
      txPackets: v[9] as number,
      txErrors: v[10] as number,
      txDropped: v[11] as number,
    });
  }
  return out;
}
