/*
 * The C floor for bench/read-cycle.ts: reads a list of files (one path a line, the exact
 * files one read cycle opened, from FileReader.trace) the way src/cgroup/file-reader.ts
 * does: open(O_RDONLY | O_NONBLOCK | O_CLOEXEC) (libuv adds O_CLOEXEC), one read() into a
 * reused buffer, a second read only if the buffer was filled (growing it), close().
 * Nothing is parsed: this is the syscall cost alone.
 *
 * With a third argument `kept`: the floor for files kept open (src/cgroup/kept-files.ts).
 * Every file of the list is opened once (same flags), then one untimed pass warms them (a
 * seq_file allocates its buffer at the first read), then each timed pass preads every file at
 * offset 0 into the reused buffer (growing it as above, a second pread at the offset reached
 * only if the buffer was filled), as FileReader.readFd does. Nothing is closed until the end.
 *
 *   cc -O2 -o read-files read-files.c && ./read-files LIST REPETITIONS [kept]
 *
 * Prints one JSON object: {"files":N,"failed":F,"bytes":B,"ns":[rep1,rep2,...]}, each rep
 * being the wall time (CLOCK_MONOTONIC) of one pass over the whole list.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 3 && !(argc == 4 && strcmp(argv[3], "kept") == 0)) {
    fprintf(stderr, "usage: %s LIST REPETITIONS [kept]\n", argv[0]);
    return 2;
  }
  const int kept = argc == 4;
  int reps = atoi(argv[2]);
  if (reps <= 0) reps = 1;

  FILE *lf = fopen(argv[1], "r");
  if (!lf) {
    perror(argv[1]);
    return 2;
  }
  size_t cap = 1024, n = 0;
  char **paths = malloc(cap * sizeof *paths);
  char *line = NULL;
  size_t linecap = 0;
  ssize_t len;
  while ((len = getline(&line, &linecap, lf)) > 0) {
    if (line[len - 1] == '\n') line[--len] = '\0';
    if (len == 0) continue;
    if (n == cap) paths = realloc(paths, (cap *= 2) * sizeof *paths);
    paths[n++] = strdup(line);
  }
  free(line);
  fclose(lf);

  size_t bufsize = 16384; /* FileReader's initial size */
  char *buf = malloc(bufsize);
  long long *ns = malloc((size_t)reps * sizeof *ns);
  long long bytes = 0;
  size_t failed = 0;
  const int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;

  if (kept) {
    int *fds = malloc(n * sizeof *fds);
    for (size_t i = 0; i < n; i++) fds[i] = open(paths[i], flags);
    /* Pass -1 warms (untimed); passes 0..reps-1 are timed. */
    for (int r = -1; r < reps; r++) {
      long long t0 = now_ns();
      long long b = 0;
      size_t f = 0;
      for (size_t i = 0; i < n; i++) {
        if (fds[i] < 0) {
          f++;
          continue;
        }
        size_t got = 0;
        for (;;) {
          size_t room = bufsize - got;
          ssize_t k = pread(fds[i], buf + got, room, (off_t)got);
          if (k < 0) {
            f++;
            break;
          }
          got += (size_t)k;
          if ((size_t)k < room) break;
          bufsize *= 2;
          buf = realloc(buf, bufsize);
        }
        b += (long long)got;
      }
      if (r >= 0) ns[r] = now_ns() - t0;
      bytes = b;
      failed = f;
    }
    for (size_t i = 0; i < n; i++)
      if (fds[i] >= 0) close(fds[i]);
    free(fds);
  }
  for (int r = 0; r < reps && !kept; r++) {
    long long t0 = now_ns();
    long long b = 0;
    size_t f = 0;
    for (size_t i = 0; i < n; i++) {
      int fd = open(paths[i], flags);
      if (fd < 0) {
        f++;
        continue;
      }
      size_t got = 0;
      for (;;) {
        size_t room = bufsize - got;
        ssize_t k = read(fd, buf + got, room);
        if (k < 0) {
          f++;
          break;
        }
        got += (size_t)k;
        if ((size_t)k < room) break; /* short read: end of file, as in FileReader */
        bufsize *= 2;
        buf = realloc(buf, bufsize);
      }
      close(fd);
      b += (long long)got;
    }
    ns[r] = now_ns() - t0;
    bytes = b;
    failed = f;
  }

  printf("{\"files\":%zu,\"failed\":%zu,\"bytes\":%lld,\"ns\":[", n, failed, bytes);
  for (int r = 0; r < reps; r++) printf(r ? ",%lld" : "%lld", ns[r]);
  printf("]}\n");
  return 0;
}
