import { FileReader } from '../../src/cgroup/file-reader.ts';

/** A FileReader that records every path it opens, in order (the list the C floor replays). */
export class TracingReader extends FileReader {
  readonly paths: string[] = [];
  override read(file: string): string {
    this.paths.push(file);
    return super.read(file);
  }
}

/** Serves texts from memory (for the parse-only breakdown and the readFile reference). */
export class MapReader extends FileReader {
  constructor(private readonly texts: Map<string, string>) {
    super(16);
  }
  override read(file: string): string {
    const t = this.texts.get(file);
    if (t === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
    return t;
  }
}
