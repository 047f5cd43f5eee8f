/* greenhub C API tests: files that are slow to open and read never freeze the hub. They use a
 * FUSE filesystem made by the test (tests/fuse/slowfs.py, run with $GH_TEST_PYTHON; `make
 * test-c` sets both variables). A test that cannot mount it FAILS, saying why. */
#include "harness.h"
#include "support.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* The ticker's longest gap so far, once it has had a turn to notice the current one. */
static double ticker_max_gap(struct ticker *t) {
  gh_sleep(t->sleep_ms + 5);
  return t->max_gap;
}

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
TEST(slow_open_deadline_and_kill) {
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
TEST(slow_reads_and_sendfile) {
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
