import * as fs from 'node:fs';

// libuv adds O_CLOEXEC itself.
const FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;
/** No cgroup file comes near this; a device planted in a tree (/dev/zero) would otherwise never end. */
const MAX_FILE_BYTES = 4 << 20;

/**
 * Synchronous reads into one reused buffer, of a file opened for the read or of one kept open
 * (see kept-files.ts). Open/read/close costs close to C's per cgroupfs file and several times
 * less than fs.promises.readFile; a positional read of a kept file a third of that (figures
 * in BENCHMARKS.md). O_NONBLOCK so
 * that a FIFO or another special file planted in a cgroup tree cannot block the thread in
 * open() or read(). Callers slice their work (see read-cycle.ts) because these calls block
 * the event loop.
 */
export class FileReader {
  private buf: Buffer;

  constructor(initialSize = 16384) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** The file's text (latin1: cgroup files are ASCII). Throws the errno error (ENOENT, EACCES, ENODEV, ...). */
  read(file: string): string {
    const fd = this.open(file);
    try {
      return this.readFd(fd, file, false);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Opens a file to read (read-only, O_NONBLOCK). Throws the errno error. */
  open(file: string): number {
    return fs.openSync(file, FLAGS);
  }

  /**
   * The whole text of an open file, read with positional reads from offset 0: a kernfs or
   * procfs file generates its content afresh for a read at offset 0, so a file kept open reads
   * current values with one syscall. `file` names it in errors. `positional` false reads on
   * from the file's offset instead (a fresh fd: a FIFO answers a positional read with ESPIPE).
   */
  readFd(fd: number, file: string, positional = true): string {
    let n = 0;
    for (;;) {
      const room = this.buf.length - n;
      const r = fs.readSync(fd, this.buf, n, room, positional ? n : null);
      n += r;
      // kernfs/seq_file fills the buffer unless at EOF: a short read ends the file without a second syscall.
      if (r < room) break;
      if (this.buf.length >= MAX_FILE_BYTES) {
        throw Object.assign(new Error(`${file} is larger than ${MAX_FILE_BYTES} bytes: not a cgroup file`), { code: 'EFBIG' });
      }
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, n);
      this.buf = bigger;
    }
    return this.buf.toString('latin1', 0, n);
  }
}
