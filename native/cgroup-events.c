/*
 * cgroup-events: a thread of its own that waits on cgroup.events files (epoll, EPOLLPRI: the
 * kernel wakes it in the context of the exiting task) and, when one says `populated 0`, reads
 * that task's cgroup files at once, before any JavaScript runs. The JavaScript thread that
 * opened the watcher gets the event and the captured contents later (a thread-safe function),
 * so a collection, a scrape or a garbage collection on that thread cannot make the read lose
 * the race with the runtime's rmdir. Node-API only: one build serves every Node.js >= 20,
 * and each watcher is its own state (no globals), so any thread, worker threads too, may open one.
 *
 * JavaScript API (see src/discovery/native-events.ts):
 *   open(callback, nice) -> handle  callback(id, text | undefined, captures | undefined, wakeMs, doneMs);
 *                                   nice: the thread's nice value (-20..19; 0 leaves it as is)
 *   watch(handle, fd, id)           fd: an open cgroup.events (read once by the caller)
 *   capture(handle, id, paths)      the files to read at `populated 0` (replaces the list)
 *   unwatch(handle, id)             after it returns, the fd is no longer used: the caller closes it
 *   close(handle)                   stops and joins the thread
 *   preadAll(...)                   batched positional reads of kept files (see js_pread_all)
 * captures: [path, Buffer | errno number][], in the order of `paths`. wakeMs / doneMs: CLOCK_REALTIME
 * in ms (fractional) when epoll_wait returned and when the last capture was read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_MAX 4096
#define FILE_MAX (1 << 20)
#define WAKE_ID UINT64_MAX

typedef struct {
  uint64_t id;
  int fd;
  char **paths;
  size_t n;
} entry_t;

typedef struct {
  char *path;
  char *data; /* NULL: err holds errno */
  size_t len;
  int err;
} file_t;

typedef struct {
  uint64_t id;
  char *text; /* NULL: the events file could not be read (the cgroup is gone) */
  file_t *files;
  size_t n;
  double wake_ms, done_ms;
} item_t;

typedef struct {
  int epfd, wakefd;
  pthread_t thread;
  pthread_mutex_t mu;
  entry_t *entries;
  size_t n, cap;
  napi_threadsafe_function tsfn;
  int closed;      /* the thread is stopped and joined, the fds closed */
  int tsfn_gone;   /* the thread-safe function is finalized (released, or the environment's teardown) */
  int refs;        /* the JS external and the thread-safe function: freed when both are gone */
  int nice;        /* the thread's nice value (0: the process's) */
} watcher_t;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static entry_t *find(watcher_t *w, uint64_t id) {
  for (size_t i = 0; i < w->n; i++)
    if (w->entries[i].id == id) return &w->entries[i];
  return NULL;
}

static void free_paths(entry_t *e) {
  for (size_t i = 0; i < e->n; i++) free(e->paths[i]);
  free(e->paths);
  e->paths = NULL;
  e->n = 0;
}

/* Reads a whole file the way src/cgroup/file-reader.ts does: kernfs fills the buffer unless at EOF. */
static void read_file(file_t *f) {
  int fd = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    f->err = errno;
    return;
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  if (!buf) {
    f->err = ENOMEM;
    close(fd);
    return;
  }
  for (;;) {
    size_t room = cap - n;
    ssize_t r = pread(fd, buf + n, room, (off_t)n);
    if (r < 0) {
      if (errno == EINTR) continue;
      f->err = errno;
      free(buf);
      close(fd);
      return;
    }
    n += (size_t)r;
    if ((size_t)r < room) break;
    if (cap >= FILE_MAX) {
      f->err = EFBIG;
      free(buf);
      close(fd);
      return;
    }
    cap *= 2;
    char *bigger = realloc(buf, cap);
    if (!bigger) {
      f->err = ENOMEM;
      free(buf);
      close(fd);
      return;
    }
    buf = bigger;
  }
  close(fd);
  f->data = buf;
  f->len = n;
}

static int populated_zero(const char *text) {
  const char *p = strstr(text, "populated ");
  if (!p || (p != text && p[-1] != '\n')) return 0;
  p += 10;
  return p[0] == '0' && (p[1] == '\n' || p[1] == '\0');
}

/* One event: the events file's text and, at `populated 0`, the captures, all under the lock. */
static item_t *on_event(watcher_t *w, uint64_t id, double wake) {
  item_t *it = calloc(1, sizeof *it);
  if (!it) return NULL; /* the event is lost; the rescan or the directory watch ends the task */
  it->id = id;
  it->wake_ms = wake;
  pthread_mutex_lock(&w->mu);
  entry_t *e = find(w, id);
  if (!e) {
    pthread_mutex_unlock(&w->mu);
    free(it);
    return NULL;
  }
  char buf[EVENTS_MAX];
  ssize_t r;
  do r = pread(e->fd, buf, sizeof buf - 1, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    /* ENODEV: removed. Out of the set so that it cannot fire again; the caller unwatches. */
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, e->fd, NULL);
  } else {
    buf[r] = '\0';
    it->text = strdup(buf);
    if (populated_zero(buf) && e->n > 0 && (it->files = calloc(e->n, sizeof(file_t)))) {
      it->n = e->n;
      for (size_t i = 0; i < e->n; i++) {
        it->files[i].path = strdup(e->paths[i]);
        read_file(&it->files[i]);
      }
    }
  }
  pthread_mutex_unlock(&w->mu);
  it->done_ms = now_ms();
  return it;
}

static void free_item(item_t *it) {
  for (size_t i = 0; i < it->n; i++) {
    free(it->files[i].path);
    free(it->files[i].data);
  }
  free(it->files);
  free(it->text);
  free(it);
}

static void *run(void *arg) {
  watcher_t *w = arg;
  struct epoll_event evs[64];
  /* It sleeps but for a few reads per ended task: a higher weight lets it run at once on a
   * node whose CPUs the containers keep busy (CAP_SYS_NICE, i.e. the agent as root; else as is). */
  pthread_setname_np(pthread_self(), "ocm-events");
  if (w->nice != 0) setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), w->nice);
  for (;;) {
    int n = epoll_wait(w->epfd, evs, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    double wake = now_ms();
    for (int i = 0; i < n; i++) {
      if (evs[i].data.u64 == WAKE_ID) return NULL;
      item_t *it = on_event(w, evs[i].data.u64, wake);
      if (it && napi_call_threadsafe_function(w->tsfn, it, napi_tsfn_nonblocking) != napi_ok) free_item(it);
    }
  }
  return NULL;
}

static void free_buffer(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  item_t *it = data;
  if (env == NULL || cb == NULL) {
    free_item(it);
    return;
  }
  napi_value argv[5], undef, global;
  napi_get_undefined(env, &undef);
  napi_get_global(env, &global);
  napi_create_double(env, (double)it->id, &argv[0]);
  if (it->text)
    napi_create_string_latin1(env, it->text, NAPI_AUTO_LENGTH, &argv[1]);
  else
    argv[1] = undef;
  if (it->files) {
    napi_create_array_with_length(env, it->n, &argv[2]);
    for (size_t i = 0; i < it->n; i++) {
      file_t *f = &it->files[i];
      napi_value pair, path, content;
      napi_create_array_with_length(env, 2, &pair);
      napi_create_string_utf8(env, f->path, NAPI_AUTO_LENGTH, &path);
      if (f->data) {
        /* The Buffer takes the bytes over: freed by its finalizer. */
        if (napi_create_external_buffer(env, f->len, f->data, free_buffer, NULL, &content) == napi_ok) {
          f->data = NULL;
        } else {
          void *copy;
          napi_create_buffer_copy(env, f->len, f->data, &copy, &content);
        }
      } else {
        napi_create_int32(env, f->err, &content);
      }
      napi_set_element(env, pair, 0, path);
      napi_set_element(env, pair, 1, content);
      napi_set_element(env, argv[2], (uint32_t)i, pair);
    }
  } else {
    argv[2] = undef;
  }
  napi_create_double(env, it->wake_ms, &argv[3]);
  napi_create_double(env, it->done_ms, &argv[4]);
  free_item(it);
  napi_call_function(env, global, cb, 5, argv, NULL);
}

/* Stops and joins the thread and closes the fds; the thread-safe function is released unless gone. */
static void stop(watcher_t *w) {
  if (w->closed) return;
  w->closed = 1;
  uint64_t one = 1;
  if (write(w->wakefd, &one, sizeof one) < 0) { /* the thread is gone already */ }
  pthread_join(w->thread, NULL);
  close(w->epfd);
  close(w->wakefd);
  for (size_t i = 0; i < w->n; i++) free_paths(&w->entries[i]);
  free(w->entries);
  w->entries = NULL;
  w->n = 0;
  if (!w->tsfn_gone) napi_release_threadsafe_function(w->tsfn, napi_tsfn_release);
}

static void unref_watcher(watcher_t *w) {
  if (--w->refs > 0) return;
  pthread_mutex_destroy(&w->mu);
  free(w);
}

/* The external was collected (or the environment ends). */
static void finalize_watcher(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  watcher_t *w = data;
  stop(w);
  unref_watcher(w);
}

/* The thread-safe function is gone: after a release, or first, at the environment's teardown.
 * The thread uses it: it is stopped before this returns. */
static void finalize_tsfn(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  watcher_t *w = data;
  w->tsfn_gone = 1;
  stop(w);
  unref_watcher(w);
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  const char *name = err == EMFILE ? "EMFILE" : err == ENFILE ? "ENFILE" : err == ENOMEM ? "ENOMEM" : err == ENOSPC ? "ENOSPC" : err == EBADF ? "EBADF" : "EIO";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, message, &error);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return NULL;
}

static watcher_t *get_watcher(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, "not a cgroup-events watcher");
    return NULL;
  }
  watcher_t *w = p;
  if (w->closed) {
    napi_throw_error(env, NULL, "the cgroup-events watcher is closed");
    return NULL;
  }
  return w;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], name, handle;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  watcher_t *w = calloc(1, sizeof *w);
  if (argc > 1) napi_get_value_int32(env, argv[1], &w->nice);
  w->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (w->epfd < 0) {
    int err = errno;
    free(w);
    return throw_errno(env, "epoll_create1", err);
  }
  w->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->wakefd < 0) {
    int err = errno;
    close(w->epfd);
    free(w);
    return throw_errno(env, "eventfd", err);
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_ID};
  epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev);
  pthread_mutex_init(&w->mu, NULL);
  napi_create_string_utf8(env, "cgroup-events", NAPI_AUTO_LENGTH, &name);
  w->refs = 2;
  if (napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, w, finalize_tsfn, NULL, call_js, &w->tsfn) != napi_ok) {
    close(w->epfd);
    close(w->wakefd);
    free(w);
    napi_throw_error(env, NULL, "cannot create the thread-safe function");
    return NULL;
  }
  /* Watches never keep the process alive (like fs.watch with persistent: false). */
  napi_unref_threadsafe_function(env, w->tsfn);
  int err = pthread_create(&w->thread, NULL, run, w);
  if (err) {
    /* No thread to stop: finalize_tsfn frees it. */
    w->closed = 1;
    w->refs = 1;
    close(w->epfd);
    close(w->wakefd);
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
    return throw_errno(env, "pthread_create", err);
  }
  napi_create_external(env, w, finalize_watcher, NULL, &handle);
  return handle;
}

static napi_value js_watch(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  watcher_t *w = get_watcher(env, argv[0]);
  if (!w) return NULL;
  int32_t fd;
  double id;
  napi_get_value_int32(env, argv[1], &fd);
  napi_get_value_double(env, argv[2], &id);
  pthread_mutex_lock(&w->mu);
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 64;
    entry_t *bigger = realloc(w->entries, cap * sizeof(entry_t));
    if (!bigger) {
      pthread_mutex_unlock(&w->mu);
      return throw_errno(env, "realloc", ENOMEM);
    }
    w->entries = bigger;
    w->cap = cap;
  }
  entry_t *e = &w->entries[w->n++];
  memset(e, 0, sizeof *e);
  e->id = (uint64_t)id;
  e->fd = fd;
  struct epoll_event ev = {.events = EPOLLPRI, .data.u64 = (uint64_t)id};
  int rc = epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
  int err = errno;
  if (rc < 0) w->n--;
  pthread_mutex_unlock(&w->mu);
  if (rc < 0) return throw_errno(env, "epoll_ctl", err);
  return NULL;
}

static napi_value js_capture(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  watcher_t *w = get_watcher(env, argv[0]);
  if (!w) return NULL;
  double id;
  uint32_t n = 0;
  napi_get_value_double(env, argv[1], &id);
  napi_get_array_length(env, argv[2], &n);
  char **paths = calloc(n ? n : 1, sizeof(char *));
  if (!paths) return throw_errno(env, "calloc", ENOMEM);
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t len = 0;
    napi_get_element(env, argv[2], i, &v);
    napi_get_value_string_utf8(env, v, NULL, 0, &len);
    paths[i] = malloc(len + 1);
    if (!paths[i]) {
      for (uint32_t j = 0; j < i; j++) free(paths[j]);
      free(paths);
      return throw_errno(env, "malloc", ENOMEM);
    }
    napi_get_value_string_utf8(env, v, paths[i], len + 1, &len);
  }
  pthread_mutex_lock(&w->mu);
  entry_t *e = find(w, (uint64_t)id);
  if (e) {
    free_paths(e);
    e->paths = paths;
    e->n = n;
    paths = NULL;
  }
  pthread_mutex_unlock(&w->mu);
  if (paths) {
    for (uint32_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
  }
  return NULL;
}

static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  watcher_t *w = get_watcher(env, argv[0]);
  if (!w) return NULL;
  double id;
  napi_get_value_double(env, argv[1], &id);
  pthread_mutex_lock(&w->mu);
  entry_t *e = find(w, (uint64_t)id);
  if (e) {
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, e->fd, NULL);
    free_paths(e);
    *e = w->entries[--w->n];
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p = NULL;
  if (napi_get_value_external(env, argv[0], &p) == napi_ok && p) stop(p);
  return NULL;
}

/*
 * preadAll(fds, idx, n, buf, pos, starts, ends) -> pos: the kept files' read-ahead of one task
 * (src/cgroup/file-reader.ts) in one call instead of one fs.readSync each (~0.4 us less a file).
 * For k < n: file fds[k] read at offset 0 into buf from pos on, where it goes to
 * [starts[idx[k]], ends[idx[k]]). A failed read, or one that fills what is left of buf (the
 * file may be longer), ends the batch: that file and the rest keep ends -1 (read when asked).
 * Returns the new pos. Every index is checked against the arrays' lengths.
 */
static int typed_i32(napi_env env, napi_value v, int32_t **data, size_t *len) {
  napi_typedarray_type type;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok || type != napi_int32_array) return 0;
  *data = p;
  return 1;
}

static napi_value js_pread_all(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t *fds, *idx, *starts, *ends;
  size_t nfds, nidx, nstarts, nends, buflen;
  int32_t n, pos;
  void *buf;
  if (argc < 7 || !typed_i32(env, argv[0], &fds, &nfds) || !typed_i32(env, argv[1], &idx, &nidx) || !typed_i32(env, argv[5], &starts, &nstarts) ||
      !typed_i32(env, argv[6], &ends, &nends) || napi_get_buffer_info(env, argv[3], &buf, &buflen) != napi_ok ||
      napi_get_value_int32(env, argv[2], &n) != napi_ok || napi_get_value_int32(env, argv[4], &pos) != napi_ok || n < 0 || (size_t)n > nfds ||
      (size_t)n > nidx || pos < 0 || (size_t)pos > buflen) {
    napi_throw_type_error(env, NULL, "preadAll(fds: Int32Array, idx: Int32Array, n, buf: Buffer, pos, starts: Int32Array, ends: Int32Array)");
    return NULL;
  }
  for (int32_t k = 0; k < n; k++) {
    int32_t i = idx[k];
    if (i < 0 || (size_t)i >= nstarts || (size_t)i >= nends) continue;
    size_t room = buflen - (size_t)pos;
    if (room == 0) break;
    ssize_t r;
    do r = pread(fds[k], (char *)buf + pos, room, 0);
    while (r < 0 && errno == EINTR);
    if (r < 0 || (size_t)r >= room) break;
    starts[i] = pos;
    ends[i] = pos + (int32_t)r;
    pos += (int32_t)r;
  }
  napi_create_int32(env, pos, &result);
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watch", NULL, js_watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"capture", NULL, js_capture, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unwatch", NULL, js_unwatch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"preadAll", NULL, js_pread_all, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
