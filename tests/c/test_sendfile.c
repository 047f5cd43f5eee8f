/* greenhub C API tests: gh_sendfile. A temporary file over a socket, the hub running between
 * chunks, a count past SSIZE_MAX. */
#include "harness.h"
#include "support.h"

#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct drain {
  gh_sock s;
  unsigned char *buf;
  size_t cap;
  size_t total;
  int err;
};

static int drain_body(void *arg) {
  struct drain *d = arg;
  gh_deadline_push(ROOT_DEADLINE_MS);
  for (;;) {
    if (d->total == d->cap) {
      unsigned char extra;
      ssize_t n = gh_recv(d->s, &extra, 1);
      if (n > 0) d->total++; /* too much data: counted, not stored */
      if (n < 0) d->err = errno;
      if (n <= 0) break;
      continue;
    }
    ssize_t n = gh_recv(d->s, d->buf + d->total, d->cap - d->total);
    if (n < 0) d->err = errno;
    if (n <= 0) break;
    d->total += (size_t)n;
  }
  gh_deadline_pop();
  return 0;
}

TEST(sendfile_tmpfile) {
  enum { FSIZE = 100000 };
  static unsigned char content[FSIZE];
  for (int i = 0; i < FSIZE; i++) content[i] = (unsigned char)((i * 31) ^ (i >> 7));
  char path[] = "/tmp/gh-test-sendfile-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  CHECK_EQ(write(fd, content, FSIZE), FSIZE);
  lseek(fd, 0, SEEK_SET);

  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    close(fd);
    return;
  }
  static unsigned char got[FSIZE + 2000];
  struct drain d = {b, got, sizeof got, 0, 0};
  gh_thread t = gh_spawn(drain_body, &d);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sendfile(a, fd, 10, FSIZE - 10), FSIZE - 10);
  /* count past the end of the file: what is there */
  CHECK_EQ(gh_sendfile(a, fd, FSIZE - 1000, 5000), 1000);
  CHECK_EQ(gh_sendfile(a, fd, FSIZE, 10), 0);
  off_t pos = lseek(fd, 0, SEEK_CUR);
  if (pos != 0) th_note("gh_sendfile moved the file offset to %lld", (long long)pos);
  CHECK_EQ(gh_close(a), 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  CHECK_EQ(d.err, 0);
  CHECK_EQ(d.total, (FSIZE - 10) + 1000);
  if (d.total == (FSIZE - 10) + 1000) {
    CHECKF(memcmp(got, content + 10, FSIZE - 10) == 0, "bytes from offset 10 differ");
    CHECKF(memcmp(got + FSIZE - 10, content + FSIZE - 1000, 1000) == 0,
           "the last 1000 bytes differ");
  }
  /* An invalid file descriptor. */
  gh_sock c, e;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&c, &e) == 0) {
    CHECK_ERR(gh_sendfile(c, -1, 0, 10), EBADF);
    CHECK_ERR(gh_sendfile(c, fd, -1, 10), EINVAL);
    int closed_fd = dup(fd);
    if (closed_fd >= 0) {
      close(closed_fd);
      CHECK_ERR(gh_sendfile(c, closed_fd, 0, 10), EBADF);
    }
    gh_close(c);
    gh_close(e);
  }
  gh_deadline_pop();
  gh_close(b);
  close(fd);
}

/* A socket that takes all of an 8 MiB file at once: gh_sendfile still lets the others run
 * between chunks (before, it kept the hub for the whole file). */
TEST(sendfile_yields_between_chunks) {
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
TEST(sendfile_count_clamped) {
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
