/* greenhub C API tests: green files (gh_open_beneath, gh_file_read, gh_file_pread) and
 * gh_sendfile's chunks. The slow cases use a FUSE filesystem made by the test
 * (tests/fuse/slowfs.py, run with $GH_TEST_PYTHON; `make test-c` sets both variables). A
 * test that cannot mount it FAILS, saying why.
 */
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEADLINE_MS 20000

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                    */

/* Open file descriptors of this process. */
static int fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

static int write_file(const char *path, const void *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  ssize_t n = write(fd, data, len);
  close(fd);
  return n == (ssize_t)len ? 0 : -1;
}

/* A temporary directory tree: base/root is served, base/secret lies outside it. */
struct tree {
  char base[64];
  char path[160];
  int root;
};

static const char *tree_path(struct tree *t, const char *rel) {
  snprintf(t->path, sizeof t->path, "%s/%s", t->base, rel);
  return t->path;
}

static int tree_make(struct tree *t) {
  snprintf(t->base, sizeof t->base, "/tmp/gh-test-files-XXXXXX");
  if (!mkdtemp(t->base)) return -1;
  char abs_secret[200];
  snprintf(abs_secret, sizeof abs_secret, "%s/secret", t->base);
  int ok = mkdir(tree_path(t, "root"), 0755) == 0 && mkdir(tree_path(t, "root/sub"), 0755) == 0 &&
           write_file(tree_path(t, "secret"), "SECRET", 6) == 0 &&
           write_file(tree_path(t, "root/f"), "0123456789", 10) == 0 &&
           write_file(tree_path(t, "root/sub/g"), "gg", 2) == 0 &&
           symlink("../secret", tree_path(t, "root/link_rel")) == 0 &&
           symlink(abs_secret, tree_path(t, "root/link_abs")) == 0 &&
           symlink("../../secret", tree_path(t, "root/sub/link_up")) == 0 &&
           symlink("..", tree_path(t, "root/dir_up")) == 0 &&
           symlink("sub/g", tree_path(t, "root/link_in")) == 0 &&
           mkfifo(tree_path(t, "root/fifo"), 0644) == 0;
  t->root = ok ? open(tree_path(t, "root"), O_DIRECTORY | O_RDONLY | O_CLOEXEC) : -1;
  return t->root >= 0 ? 0 : -1;
}

static void tree_remove(struct tree *t) {
  static const char *files[] = {"root/f", "root/sub/g", "root/link_rel", "root/link_abs",
                                "root/sub/link_up", "root/dir_up", "root/link_in",
                                "root/fifo", "secret", "big"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) unlink(tree_path(t, files[i]));
  rmdir(tree_path(t, "root/sub"));
  rmdir(tree_path(t, "root"));
  rmdir(t->base);
  if (t->root >= 0) close(t->root);
}

/* slowfs (tests/fuse/slowfs.py) mounted for one test. */
struct slowfs {
  char dir[64];
  char mnt[96];
  char log[96];
  pid_t pid;
  int dirfd;
};

static void slowfs_unmount(struct slowfs *fs) {
  if (fs->dirfd >= 0) close(fs->dirfd);
  fs->dirfd = -1;
  umount2(fs->mnt, MNT_DETACH);
  if (fs->pid > 0) {
    kill(fs->pid, SIGTERM);
    waitpid(fs->pid, NULL, 0);
    fs->pid = 0;
  }
  rmdir(fs->mnt);
  unlink(fs->log);
  rmdir(fs->dir);
}

/* Mounts slowfs with the given read delay; 0, or -1 after recording why it could not. */
static int slowfs_mount_at(const char *file, int line, struct slowfs *fs, const char *read_delay) {
  memset(fs, 0, sizeof *fs);
  fs->dirfd = -1;
  const char *py = getenv("GH_TEST_PYTHON"), *script = getenv("GH_TEST_SLOWFS");
  if (!py || !script) {
    th_fail(file, line, -1, "GH_TEST_PYTHON and GH_TEST_SLOWFS must name a Python with fusepy "
            "and tests/fuse/slowfs.py (`make test-c` sets them)");
    return -1;
  }
  snprintf(fs->dir, sizeof fs->dir, "/tmp/gh-test-slowfs-XXXXXX");
  if (!mkdtemp(fs->dir)) {
    th_fail(file, line, errno, "mkdtemp");
    return -1;
  }
  snprintf(fs->mnt, sizeof fs->mnt, "%s/mnt", fs->dir);
  snprintf(fs->log, sizeof fs->log, "%s/log", fs->dir);
  struct stat parent;
  if (mkdir(fs->mnt, 0755) != 0 || stat(fs->dir, &parent) != 0) {
    th_fail(file, line, errno, "mkdir %s", fs->mnt);
    return -1;
  }
  fflush(stdout);
  fs->pid = fork();
  if (fs->pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the test */
    int log = open(fs->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log >= 0) {
      dup2(log, 1);
      dup2(log, 2);
    }
    execl(py, py, script, fs->mnt, "--read-delay", read_delay, (char *)NULL);
    _exit(127);
  }
  for (double end = now_ms() + 10000; now_ms() < end;) {
    struct stat st;
    if (stat(fs->mnt, &st) == 0 && st.st_dev != parent.st_dev) {
      fs->dirfd = open(fs->mnt, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
      if (fs->dirfd >= 0) return 0;
    }
    if (waitpid(fs->pid, NULL, WNOHANG) == fs->pid) {
      fs->pid = 0;
      break;
    }
    usleep(20000);
  }
  char out[600] = "";
  int log = open(fs->log, O_RDONLY);
  if (log >= 0) {
    ssize_t n = read(log, out, sizeof out - 1);
    out[n > 0 ? n : 0] = '\0';
    close(log);
  }
  th_fail(file, line, -1, "could not mount slowfs at %s (needs fusepy, libfuse2, /dev/fuse, "
          "root): %s", fs->mnt, out);
  slowfs_unmount(fs);
  return -1;
}
#define slowfs_mount(fs, delay) slowfs_mount_at(__FILE__, __LINE__, (fs), (delay))

/* A green thread that counts its turns: it sleeps `sleep_ms` between them (0: yields). */
struct ticker {
  int sleep_ms;
  volatile int stop;
  long ticks;
  double last, max_gap;
};

/* The ticker's longest gap so far, once it has had a turn to notice the current one. */
static double ticker_max_gap(struct ticker *t) {
  gh_sleep(t->sleep_ms + 5);
  return t->max_gap;
}

static int ticker_body(void *arg) {
  struct ticker *t = arg;
  t->last = now_ms();
  while (!t->stop) {
    if (t->sleep_ms ? gh_sleep(t->sleep_ms) != 0 : gh_yield() != 0) break;
    double now = now_ms();
    if (now - t->last > t->max_gap) t->max_gap = now - t->last;
    t->last = now;
    t->ticks++;
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* gh_open_beneath                                                                            */

static void test_open_beneath_confined(void) {
  struct tree t;
  REQUIRE(tree_make(&t) == 0);
  gh_file_info info;
  int fd = gh_open_beneath(t.root, "f", O_RDONLY, &info);
  CHECK(fd >= 0);
  if (fd >= 0) {
    CHECK(S_ISREG(info.mode));
    CHECK_EQ(info.size, 10);
    char buf[16];
    CHECK_EQ(read(fd, buf, sizeof buf), 10);
    CHECK_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    CHECK_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK, 0); /* not asked for, not left on */
    close(fd);
  }
  /* Inside ROOT: subdirectories, ".." that stays inside, a symlink that stays inside. */
  const char *inside[] = {"sub/g", "sub/../f", "./sub//g", "link_in"};
  for (size_t i = 0; i < sizeof inside / sizeof *inside; i++) {
    fd = gh_open_beneath(t.root, inside[i], O_RDONLY, NULL);
    CHECKF(fd >= 0, "%s: %s", inside[i], th_errname(errno));
    if (fd >= 0) close(fd);
  }
  /* Out of ROOT: "..", an absolute path, symlinks leading out (relative, absolute, nested). */
  char abs_f[200];
  snprintf(abs_f, sizeof abs_f, "%s/root/f", t.base);
  const char *outside[] = {"../secret", "sub/../../secret", abs_f, "/etc/passwd",
                           "link_rel", "link_abs", "sub/link_up", "dir_up/secret",
                           "dir_up/root/f" /* out and back in: still refused */};
  for (size_t i = 0; i < sizeof outside / sizeof *outside; i++) {
    /* Twice: the second time every component is in the dentry cache (the cheap path). */
    for (int round = 0; round < 2; round++) {
      errno = 0;
      fd = gh_open_beneath(t.root, outside[i], O_RDONLY, NULL);
      CHECKF(fd == -1 && errno == EXDEV, "%s (round %d): got fd %d errno %s, want EXDEV",
             outside[i], round, fd, th_errname(errno));
      if (fd >= 0) close(fd);
    }
  }
  /* A magic link (/proc/self/fd/N) is refused even though it is beneath its directory. */
  int procfd = open("/proc/self/fd", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (procfd >= 0) {
    char name[16];
    snprintf(name, sizeof name, "%d", t.root);
    CHECK_ERR(gh_open_beneath(procfd, name, O_RDONLY, NULL), ELOOP);
    close(procfd);
  }
  /* O_NOFOLLOW on a symlink; O_DIRECTORY on a directory and on a file. */
  CHECK_ERR(gh_open_beneath(t.root, "link_in", O_RDONLY | O_NOFOLLOW, NULL), ELOOP);
  fd = gh_open_beneath(t.root, "sub", O_RDONLY | O_DIRECTORY, &info);
  CHECK(fd >= 0 && S_ISDIR(info.mode));
  if (fd >= 0) close(fd);
  CHECK_ERR(gh_open_beneath(t.root, "f", O_RDONLY | O_DIRECTORY, NULL), ENOTDIR);
  /* Writing is allowed (on the thread pool); O_TRUNC too. */
  fd = gh_open_beneath(t.root, "sub/g", O_WRONLY | O_TRUNC, &info);
  CHECK(fd >= 0);
  if (fd >= 0) {
    CHECK_EQ(info.size, 0);
    CHECK_EQ(write(fd, "G", 1), 1);
    close(fd);
  }
  tree_remove(&t);
}

static void test_open_beneath_errors(void) {
  struct tree t;
  REQUIRE(tree_make(&t) == 0);
  gh_file_info info, untouched;
  memset(&info, 0x5a, sizeof info);
  untouched = info;
  CHECK_ERR(gh_open_beneath(t.root, "missing", O_RDONLY, &info), ENOENT);
  CHECK_ERR(gh_open_beneath(t.root, "sub/missing/x", O_RDONLY, &info), ENOENT);
  CHECK_ERR(gh_open_beneath(t.root, "f/x", O_RDONLY, &info), ENOTDIR);
  CHECK_ERR(gh_open_beneath(t.root, "", O_RDONLY, &info), ENOENT);
  CHECK_ERR(gh_open_beneath(-1, "f", O_RDONLY, &info), EBADF);
  CHECK_ERR(gh_open_beneath(AT_FDCWD, "f", O_RDONLY, &info), EBADF);
  int closed = dup(t.root);
  close(closed);
  CHECK_ERR(gh_open_beneath(closed, "f", O_RDONLY, &info), EBADF);
  int file = openat(t.root, "f", O_RDONLY | O_CLOEXEC);
  CHECK_ERR(gh_open_beneath(file, "x", O_RDONLY, &info), ENOTDIR);
  close(file);
  CHECK_ERR(gh_open_beneath(t.root, NULL, O_RDONLY, &info), EINVAL);
  const int bad_flags[] = {O_CREAT, O_RDWR | O_CREAT | O_EXCL, O_PATH, O_TMPFILE | O_RDWR,
                           O_ACCMODE, O_DIRECT, O_SYNC, 1 << 30};
  for (size_t i = 0; i < sizeof bad_flags / sizeof *bad_flags; i++)
    CHECK_ERR(gh_open_beneath(t.root, "f", bad_flags[i], &info), EINVAL);
  CHECKF(memcmp(&info, &untouched, sizeof info) == 0, "a failing call wrote *info");

  /* A FIFO without a writer: with O_NONBLOCK it opens at once; without, the open waits (on a
   * worker) and the caller's deadline ends the wait. The descriptor the worker gets once a
   * writer comes is closed there: no descriptor leaks. */
  int fd = gh_open_beneath(t.root, "fifo", O_RDONLY | O_NONBLOCK, &info);
  CHECK(fd >= 0 && S_ISFIFO(info.mode));
  if (fd >= 0) close(fd);
  int before = fd_count();
  gh_deadline_push(200);
  double t0 = now_ms();
  CHECK_ERR(gh_open_beneath(t.root, "fifo", O_RDONLY, &info), ETIMEDOUT);
  double waited = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(waited < 2000, "the deadline ended the wait after %.0f ms", waited);
  int writer = open(tree_path(&t, "root/fifo"), O_WRONLY | O_CLOEXEC); /* the worker's open ends */
  CHECK(writer >= 0);
  int now = -1;
  for (int i = 0; i < 200 && (now = fd_count()) != before + (writer >= 0); i++) gh_sleep(10);
  CHECKF(now == before + (writer >= 0), "%d descriptors open, want %d: the late FIFO open leaked",
         now, before + (writer >= 0));
  if (writer >= 0) close(writer);
  tree_remove(&t);
}

/* ------------------------------------------------------------------------------------------ */
/* gh_file_read, gh_file_pread                                                                */

static void test_file_read_pread(void) {
  struct tree t;
  REQUIRE(tree_make(&t) == 0);
  enum { SIZE = 3 << 20 };
  unsigned char *want = malloc(SIZE), *got = malloc(SIZE);
  REQUIRE(want && got);
  for (int i = 0; i < SIZE; i++) want[i] = (unsigned char)(i * 7 + (i >> 12));
  REQUIRE(write_file(tree_path(&t, "big"), want, SIZE) == 0);
  int fd = open(tree_path(&t, "big"), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  /* Twice: from the page cache, and after the cache was dropped (the thread pool). */
  for (int round = 0; round < 2; round++) {
    if (round == 1) {
      CHECK_EQ(fdatasync(fd), 0);
      CHECK_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    }
    memset(got, 0, SIZE);
    CHECK_EQ(gh_file_pread(fd, got, 100, 5), 100);
    CHECKF(memcmp(got, want + 5, 100) == 0, "pread at 5 (round %d)", round);
    size_t have = 0;
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    for (int calls = 0; have < SIZE && calls < 1000; calls++) {
      ssize_t n = gh_file_read(fd, got + have, SIZE - have);
      CHECKF(n > 0, "gh_file_read at %zu (round %d): %zd %s", have, round, n, th_errname(errno));
      if (n <= 0) break;
      have += (size_t)n;
    }
    CHECK_EQ(have, SIZE);
    CHECKF(memcmp(got, want, SIZE) == 0, "gh_file_read's bytes differ (round %d)", round);
    CHECK_EQ(gh_file_read(fd, got, 10), 0); /* end of file */
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), SIZE);
  }
  CHECK_EQ(gh_file_pread(fd, got, 10, SIZE), 0);
  CHECK_EQ(gh_file_pread(fd, got, 10, (int64_t)SIZE * 10), 0);
  CHECK_EQ(gh_file_pread(fd, got, 0, 0), 0);
  CHECK_EQ(gh_file_read(fd, NULL, 0), 0);
  CHECK_ERR(gh_file_pread(fd, NULL, 10, 0), EINVAL);
  CHECK_ERR(gh_file_read(fd, NULL, 10), EINVAL);
  CHECK_ERR(gh_file_pread(fd, got, 10, -1), EINVAL);
  CHECK_ERR(gh_file_read(-1, got, 10), EBADF);
  CHECK_ERR(gh_file_pread(-1, got, 10, 0), EBADF);
  int closed = dup(fd);
  close(closed);
  CHECK_ERR(gh_file_read(closed, got, 10), EBADF);
  CHECK_ERR(gh_file_pread(closed, got, 10, 0), EBADF);
  int wronly = open(tree_path(&t, "big"), O_WRONLY | O_CLOEXEC);
  CHECK_ERR(gh_file_pread(wronly, got, 10, 0), EBADF);
  close(wronly);
  CHECK_ERR(gh_file_pread(t.root, got, 10, 0), EISDIR);
  int p[2];
  if (pipe(p) == 0) {
    CHECK_ERR(gh_file_pread(p[0], got, 10, 0), ESPIPE);
    CHECK_EQ(write(p[1], "xy", 2), 2);
    CHECK_EQ(gh_file_read(p[0], got, 10), 2); /* read() works on a pipe */
    close(p[0]);
    close(p[1]);
  }
  close(fd);
  free(want);
  free(got);
  tree_remove(&t);
}

/* ------------------------------------------------------------------------------------------ */
/* slow files (FUSE)                                                                          */

struct slow_open {
  int dirfd;
  const char *path;
  int fd, err;
  double ms;
};

static int slow_open_body(void *arg) {
  struct slow_open *s = arg;
  double t0 = now_ms();
  s->fd = gh_open_beneath(s->dirfd, s->path, O_RDONLY, NULL);
  s->err = errno;
  s->ms = now_ms() - t0;
  return 0;
}

/* An open that takes 3 s stalls only its caller; a deadline or a kill ends the wait at once,
 * and the descriptors the workers get 3 s later are closed, not leaked. */
static void test_slow_open_deadline_and_kill(void) {
  struct slowfs fs;
  if (slowfs_mount(&fs, "0") != 0) return;
  CHECK_EQ(gh_yield(), 0); /* the hub (its epoll and waker descriptors) exists from here on */
  int before = fd_count();
  struct ticker tk = {10, 0, 0, 0, 0};
  gh_thread ticker = gh_spawn(ticker_body, &tk);
  REQUIRE(ticker > 0);

  gh_deadline_push(300);
  double t0 = now_ms();
  CHECK_ERR(gh_open_beneath(fs.dirfd, "slow_open.bin", O_RDONLY, NULL), ETIMEDOUT);
  double waited = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(waited >= 250 && waited < 1500, "deadline 300 ms ended a 3 s open after %.0f ms", waited);
  CHECKF(tk.ticks >= 10, "the hub ran a 10 ms ticker only %ld times during a 300 ms wait",
         tk.ticks);

  struct slow_open killed = {fs.dirfd, "slow_open.bin", 0, 0, 0};
  gh_thread t = gh_spawn(slow_open_body, &killed);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(100), 0);
  CHECK_EQ(gh_kill(t), 0);
  CHECK_EQ(gh_join(t, NULL), 0);
  CHECKF(killed.fd == -1 && killed.err == ECANCELED && killed.ms < 1000,
         "killed during a slow open: fd %d errno %s after %.0f ms, want ECANCELED at once",
         killed.fd, th_errname(killed.err), killed.ms);

  /* A slow open that is waited for succeeds, while the hub keeps running the ticker. */
  struct slow_open ok = {fs.dirfd, "slow_open.bin", 0, 0, 0};
  long ticks = tk.ticks;
  slow_open_body(&ok);
  CHECKF(ok.fd >= 0 && ok.ms >= 2500, "slow open: fd %d errno %s after %.0f ms", ok.fd,
         th_errname(ok.err), ok.ms);
  CHECKF(tk.ticks - ticks >= 100, "a 10 ms ticker ran %ld times during a %.0f ms open",
         tk.ticks - ticks, ok.ms);
  if (ok.fd >= 0) close(ok.fd);

  /* Both abandoned opens have finished by now (each takes 3 s): their descriptors, and the
   * duplicates of the directory the workers used, are closed. */
  int now = -1;
  for (int i = 0; i < 400 && (now = fd_count()) != before; i++) gh_sleep(10);
  CHECKF(now == before, "%d descriptors open after the abandoned opens ended, want %d", now,
         before);
  tk.stop = 1;
  gh_join(ticker, NULL);
  slowfs_unmount(&fs);
}

struct slow_read {
  int fd;
  unsigned char *buf;
  size_t len;
  ssize_t n;
  int err;
};

static int slow_read_body(void *arg) {
  struct slow_read *s = arg;
  s->n = gh_file_pread(s->fd, s->buf, s->len, 0);
  s->err = errno;
  return 0;
}

struct receiver {
  gh_sock s;
  unsigned char *buf;
  size_t len, got;
};

static int receiver_body(void *arg) {
  struct receiver *r = arg;
  r->got = recv_exact(r->s, r->buf, r->len);
  return 0;
}

/* Reads at 1 s per read: gh_file_pread and gh_sendfile let the hub run meanwhile; the data is
 * right; a killed reader's buffer is never written after it returned. */
static void test_slow_reads_and_sendfile(void) {
  struct slowfs fs;
  if (slowfs_mount(&fs, "1.0") != 0) return;
  int fd = openat(fs.dirfd, "slow_read.bin", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  enum { LEN = 128 << 10 };
  unsigned char *a = malloc(LEN), *b = malloc(LEN);
  REQUIRE(a && b);
  struct ticker tk = {10, 0, 0, 0, 0};
  gh_thread ticker = gh_spawn(ticker_body, &tk);
  REQUIRE(ticker > 0);
  gh_deadline_push(DEADLINE_MS);

  double t0 = now_ms();
  CHECK_EQ(gh_file_pread(fd, a, LEN, 0), LEN);
  double ms = now_ms() - t0;
  CHECKF(ms >= 800, "a 1 s FUSE read took %.0f ms: the file system is not slow", ms);
  double gap = ticker_max_gap(&tk);
  CHECKF(gap < 500, "the hub stalled %.0f ms during a slow gh_file_pread", gap);
  CHECK_EQ(pread(fd, b, LEN, 0), LEN);
  CHECKF(memcmp(a, b, LEN) == 0, "gh_file_pread read other bytes than pread");

  /* Killed during a pool read: ECANCELED at once, and its buffer stays as it was. */
  CHECK_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0); /* slow again */
  memset(a, 0xee, LEN);
  struct slow_read r = {fd, a, LEN, 0, 0};
  gh_thread t = gh_spawn(slow_read_body, &r);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(100), 0);
  CHECK_EQ(gh_kill(t), 0);
  CHECK_EQ(gh_join(t, NULL), 0);
  CHECKF(r.n == -1 && r.err == ECANCELED, "killed reader: %zd errno %s", r.n, th_errname(r.err));
  free(a); /* the worker must not write here any more: it reads into a buffer of its own */
  a = NULL;

  /* gh_sendfile of 256 KiB of the slow file (two reads of 1 s): the hub keeps running. */
  gh_sock s, peer;
  if (make_pair(&s, &peer) == 0) {
    CHECK_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    unsigned char *got = malloc(2 * LEN), *want = malloc(2 * LEN);
    REQUIRE(got && want);
    struct receiver rx = {peer, got, 2 * LEN, 0};
    gh_thread rt = gh_spawn(receiver_body, &rx);
    REQUIRE(rt > 0);
    tk.max_gap = 0;
    t0 = now_ms();
    CHECK_EQ(gh_sendfile(s, fd, 0, 2 * LEN), 2 * LEN);
    ms = now_ms() - t0;
    CHECKF(ms >= 800, "sending 256 KiB of the slow file took %.0f ms: not slow", ms);
    double gap = ticker_max_gap(&tk);
    CHECKF(gap < 500, "the hub stalled %.0f ms during a %.0f ms gh_sendfile of a slow file", gap, ms);
    CHECK_EQ(gh_join(rt, NULL), 0);
    CHECK_EQ(rx.got, 2 * LEN);
    CHECK_EQ(pread(fd, want, 2 * LEN, 0), 2 * LEN);
    CHECKF(memcmp(got, want, 2 * LEN) == 0, "gh_sendfile sent other bytes than the file's");
    free(got);
    free(want);
    gh_close(s);
    gh_close(peer);
  }
  gh_deadline_pop();
  tk.stop = 1;
  gh_join(ticker, NULL);
  free(b);
  close(fd);
  slowfs_unmount(&fs);
}

/* ------------------------------------------------------------------------------------------ */
/* gh_sendfile                                                                                */

/* A socket that takes all of an 8 MiB file at once: gh_sendfile still lets the others run
 * between chunks (before, it kept the hub for the whole file). */
static void test_sendfile_yields_between_chunks(void) {
  enum { SIZE = 8 << 20 };
  char path[] = "/tmp/gh-test-sendfile-big-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  unsigned char *data = malloc(SIZE);
  REQUIRE(data);
  for (int i = 0; i < SIZE; i++) data[i] = (unsigned char)(i ^ (i >> 9));
  CHECK_EQ(write(fd, data, SIZE), SIZE); /* in the page cache now */

  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  /* A plain client with a receive buffer larger than the file, set before it connects. */
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int big = 64 << 20;
  CHECK_EQ(setsockopt(c, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big), 0);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  REQUIRE(connect(c, (struct sockaddr *)&sin, sizeof sin) == 0);
  gh_deadline_push(DEADLINE_MS);
  gh_sock s = gh_accept(l, NULL);
  REQUIRE(s > 0);
  CHECK_EQ(gh_setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big), 0);

  struct ticker tk = {0, 0, 0, 0, 0};
  gh_thread ticker = gh_spawn(ticker_body, &tk);
  REQUIRE(ticker > 0);
  CHECK_EQ(gh_yield(), 0); /* the ticker is running */
  long ticks = tk.ticks;
  CHECK_EQ(gh_sendfile(s, fd, 0, SIZE), SIZE);
  long during = tk.ticks - ticks;
  CHECKF(during >= 4, "another thread ran %ld times while gh_sendfile sent 8 MiB, want >= 4 "
         "(a turn after each 1 MiB)", during);
  tk.stop = 1;
  gh_join(ticker, NULL);
  gh_deadline_pop();

  size_t got = 0;
  unsigned char *buf = malloc(SIZE);
  REQUIRE(buf);
  while (got < SIZE) {
    ssize_t n = read(c, buf + got, SIZE - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  CHECK_EQ(got, SIZE);
  CHECKF(memcmp(buf, data, SIZE) == 0, "the bytes received differ from the file's");
  free(buf);
  free(data);
  close(c);
  gh_close(s);
  gh_close(l);
  close(fd);
}

/* A count past SSIZE_MAX is clamped (it used to fail with an undocumented EINVAL). */
static void test_sendfile_count_clamped(void) {
  char path[] = "/tmp/gh-test-sendfile-clamp-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  CHECK_EQ(write(fd, "0123456789", 10), 10);
  gh_sock a, b;
  gh_deadline_push(DEADLINE_MS);
  if (make_pair(&a, &b) == 0) {
    CHECK_EQ(gh_sendfile(a, fd, 0, SIZE_MAX), 10);
    CHECK_EQ(gh_sendfile(a, fd, 5, (size_t)SSIZE_MAX + 1), 5);
    CHECK_EQ(gh_sendfile(a, fd, 2, (size_t)SSIZE_MAX), 8);
    char buf[32];
    CHECK_EQ(recv_exact(b, buf, 23), 23);
    CHECKF(memcmp(buf, "0123456789" "56789" "23456789", 23) == 0, "wrong bytes");
    int p[2];
    if (pipe(p) == 0) {
      CHECK_ERR(gh_sendfile(a, p[0], 0, 10), ESPIPE); /* not seekable */
      close(p[0]);
      close(p[1]);
    }
    gh_close(a);
    gh_close(b);
  }
  gh_deadline_pop();
  close(fd);
}

const test_case file_tests[] = {
    {"open_beneath_confined", test_open_beneath_confined},
    {"open_beneath_errors", test_open_beneath_errors},
    {"file_read_pread", test_file_read_pread},
    {"slow_open_deadline_and_kill", test_slow_open_deadline_and_kill},
    {"slow_reads_and_sendfile", test_slow_reads_and_sendfile},
    {"sendfile_yields_between_chunks", test_sendfile_yields_between_chunks},
    {"sendfile_count_clamped", test_sendfile_count_clamped},
    {NULL, NULL},
};
