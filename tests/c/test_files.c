/* greenhub C API tests: green files. gh_open_beneath confines a path to its directory;
 * gh_file_read and gh_file_pread. */
#include "harness.h"
#include "support.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

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

TEST(open_beneath_confined) {
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

TEST(open_beneath_errors) {
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

TEST(file_read_pread) {
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
