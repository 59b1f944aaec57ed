import * as fs from 'node:fs';

// libuv adds O_CLOEXEC itself.
const FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

/**
 * Reads a regular file of at most `maxBytes`, without ever blocking: opened O_NONBLOCK (a FIFO
 * planted where a file is expected opens at once instead of waiting for a writer), then
 * fstat'ed, and anything that is not a regular file (a FIFO, /dev/zero, a socket) refused with
 * the code ENOTREG before a byte is read. A file larger than `maxBytes` is refused with EFBIG,
 * by its size when stat gives one, else (procfs, cgroupfs report 0) once the read passes it.
 * Throws the errno error (ENOENT, EACCES, ...) like fs.readFileSync.
 */
export function readRegularFile(file: string, maxBytes: number, encoding: BufferEncoding = 'latin1'): string {
  const fd = fs.openSync(file, FLAGS);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: 'ENOTREG' });
    if (st.size > maxBytes) throw tooLarge(file, maxBytes);
    let buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(st.size + 1, 4096)));
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > maxBytes) throw tooLarge(file, maxBytes);
        const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const r = fs.readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
    }
    if (n > maxBytes) throw tooLarge(file, maxBytes);
    return buf.toString(encoding, 0, n);
  } finally {
    fs.closeSync(fd);
  }
}

function tooLarge(file: string, maxBytes: number): Error {
  return Object.assign(new Error(`${file} is larger than ${maxBytes} bytes`), { code: 'EFBIG' });
}
