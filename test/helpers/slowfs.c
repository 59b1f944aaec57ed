/*
 * A read-only passthrough FUSE file system whose reads of one file hang: the stand-in for a read
 * the kernel blocks (a hung network or FUSE file system; a kernfs read stalled under memory
 * pressure). Test-only: test/helpers/slowfs.ts builds and mounts it.
 *
 *   slowfs SOURCE_DIR MOUNTPOINT SLOW_PATH HANG_SECONDS   (in the foreground; SLOW_PATH as
 *   mounted, e.g. /a/memory.stat; each read of it answers after HANG_SECONDS)
 */
#define FUSE_USE_VERSION 31
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *src;
static const char *slow_path;
static int hang_s;

static void full(char *out, size_t n, const char *path) { snprintf(out, n, "%s%s", src, path); }

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  (void)fi;
  char p[4096];
  full(p, sizeof p, path);
  return lstat(p, st) == -1 ? -errno : 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags fl) {
  (void)off; (void)fi; (void)fl;
  char p[4096];
  full(p, sizeof p, path);
  DIR *d = opendir(p);
  if (!d) return -errno;
  struct dirent *e;
  while ((e = readdir(d))) fill(buf, e->d_name, NULL, 0, 0);
  closedir(d);
  return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi) {
  char p[4096];
  full(p, sizeof p, path);
  int fd = open(p, O_RDONLY);
  if (fd == -1) return -errno;
  fi->fh = fd;
  fi->direct_io = 1; /* every read reaches us, as on kernfs */
  return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  if (strcmp(path, slow_path) == 0) sleep(hang_s);
  ssize_t n = pread(fi->fh, buf, size, off);
  return n == -1 ? -errno : (int)n;
}

static int fs_release(const char *path, struct fuse_file_info *fi) {
  (void)path;
  close(fi->fh);
  return 0;
}

static const struct fuse_operations ops = {
    .getattr = fs_getattr, .readdir = fs_readdir, .open = fs_open, .read = fs_read, .release = fs_release};

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s SOURCE_DIR MOUNTPOINT SLOW_PATH HANG_SECONDS\n", argv[0]);
    return 2;
  }
  src = realpath(argv[1], NULL);
  slow_path = argv[3];
  hang_s = atoi(argv[4]);
  char *fargv[] = {argv[0], argv[2], "-f", "-o", "ro", NULL};
  return fuse_main(5, fargv, &ops, NULL);
}
