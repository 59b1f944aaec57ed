import { parseDevice, parseValue, type RangeSink } from './file-formats.ts';

/** One `MAJ:MIN Op value` row of a v1 blkio file. */
export interface BlkioRow {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/**
 * A v1 blkio stats file (`blkio.io_service_bytes_recursive`, `blkio.throttle.io_serviced`, ...):
 * `MAJ:MIN Op value` rows and a trailing `Total N` line. Returns the rows (the Total line is a
 * sum over them and dropped); malformed rows are skipped, rows out of range too (told to `range`).
 */
export function parseBlkio(text: string, range?: RangeSink): BlkioRow[] {
  const rows: BlkioRow[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3) continue;
    const dev = parseDevice(f[0] ?? '');
    if (!dev) continue;
    const value = parseValue(f[2] ?? '', range);
    if (value === undefined) continue;
    rows.push({ major: dev.major, minor: dev.minor, op: f[1] ?? '', value });
  }
  return rows;
}
