/* greenhub C API tests: socket handles. Closed, garbage and stale handles fail with EBADF;
 * thread and socket handles are never mixed up; NULL buffers; a handle belongs to the hub of
 * its OS thread. */
#include "harness.h"
#include "support.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

TEST(closed_socket_ebadf) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  CHECK_EQ(gh_close(a), 0);
  char buf[8] = "abcdefg";
  CHECK_ERR(gh_recv(a, buf, sizeof buf), EBADF);
  CHECK_ERR(gh_send(a, buf, sizeof buf), EBADF);
  CHECK_ERR(gh_sendall(a, buf, sizeof buf), EBADF);
  CHECK_ERR(gh_readline(a, buf, sizeof buf), EBADF);
  CHECK_ERR(gh_read_until(a, "\n", 1, buf, sizeof buf), EBADF);
  CHECK_ERR(gh_close(a), EBADF);
  CHECK_ERR(gh_fileno(a), EBADF);
  CHECK_ERR(gh_settimeout(a, 10), EBADF);
  CHECK_ERR(gh_shutdown(a, SHUT_RDWR), EBADF);
  CHECK_ERR(gh_accept(a, NULL), EBADF);
  CHECK_ERR(gh_sock_give(a, 0), EBADF);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) {
    CHECK_ERR(gh_sendfile(a, devnull, 0, 10), EBADF);
    close(devnull);
  }
  int64_t ms = 777;
  CHECK_ERR(gh_gettimeout(a, &ms), EBADF);
  CHECK_EQ(ms, 777);
  gh_addr ad, ad0;
  memset(&ad, 0x5c, sizeof ad);
  ad0 = ad;
  CHECK_ERR(gh_local_addr(a, &ad), EBADF);
  CHECKF(memcmp(&ad, &ad0, sizeof ad) == 0, "gh_local_addr changed its output while failing");
  CHECK_ERR(gh_peer_addr(a, &ad), EBADF);
  CHECKF(memcmp(&ad, &ad0, sizeof ad) == 0, "gh_peer_addr changed its output while failing");
  CHECK_ERR(gh_accept(a, &ad), EBADF);
  CHECKF(memcmp(&ad, &ad0, sizeof ad) == 0, "gh_accept changed its peer output while failing");
  int one = 1, v = 999;
  size_t len = sizeof v;
  CHECK_ERR(gh_setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), EBADF);
  CHECK_ERR(gh_getsockopt(a, IPPROTO_TCP, TCP_NODELAY, &v, &len), EBADF);
  CHECK_EQ(v, 999);
  CHECK_EQ(len, sizeof v);
  CHECK(memcmp(buf, "abcdefg", 8) == 0);
  /* The peer saw the close. */
  CHECK_EQ(gh_recv(b, buf, sizeof buf), 0);
  gh_deadline_pop();
  CHECK_EQ(gh_close(b), 0);
}

TEST(garbage_socket_handles) {
  gh_sock a, b; /* a live pair, so the handle table is not empty */
  gh_deadline_push(2000);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  const long long bad[] = {0, -1, 123456789, INT64_MAX, INT64_MIN, 1LL << 40, -123456789};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    gh_sock s = (gh_sock)bad[i];
    char buf[4];
    int64_t ms = 5;
    gh_addr ad, ad0;
    memset(&ad, 0x11, sizeof ad);
    ad0 = ad;
#define BAD(expr)                                                                              \
  do {                                                                                         \
    errno = 0;                                                                                 \
    long long r_ = (long long)(expr);                                                          \
    int e_ = errno;                                                                            \
    CHECKF(r_ == -1 && e_ == EBADF, "%s with handle %lld: got %lld errno=%s, want EBADF", #expr, \
           bad[i], r_, th_errname(e_));                                                        \
  } while (0)
    BAD(gh_recv(s, buf, sizeof buf));
    BAD(gh_send(s, "x", 1));
    BAD(gh_sendall(s, "x", 1));
    BAD(gh_readline(s, buf, sizeof buf));
    BAD(gh_close(s));
    BAD(gh_fileno(s));
    BAD(gh_settimeout(s, 5));
    BAD(gh_gettimeout(s, &ms));
    BAD(gh_local_addr(s, &ad));
    BAD(gh_peer_addr(s, &ad));
    BAD(gh_shutdown(s, SHUT_RDWR));
    BAD(gh_accept(s, &ad));
    BAD(gh_sock_give(s, 0));
#undef BAD
    CHECK_EQ(ms, 5);
    CHECK(memcmp(&ad, &ad0, sizeof ad) == 0);
  }
  /* The live pair is unaffected. */
  char c;
  CHECK_EQ(gh_send(a, "k", 1), 1);
  CHECK_EQ(gh_recv(b, &c, 1), 1);
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

TEST(stale_socket_not_reused) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  CHECK_EQ(gh_close(a), 0);
  CHECK_EQ(gh_close(b), 0);
  gh_sock more[10];
  int n = 0;
  for (int i = 0; i < 5; i++) {
    if (make_pair(&more[n], &more[n + 1]) != 0) break;
    CHECKF(more[n] != a && more[n] != b && more[n + 1] != a && more[n + 1] != b,
           "a closed socket handle was handed out again");
    n += 2;
  }
  char buf[4];
  gh_deadline_push(500);
  CHECK_ERR(gh_recv(a, buf, sizeof buf), EBADF);
  CHECK_ERR(gh_fileno(b), EBADF);
  CHECK_ERR(gh_close(a), EBADF);
  gh_deadline_pop();
  for (int i = 0; i < n; i++) CHECKF(gh_close(more[i]) == 0, "close of new socket %d failed", i);
  gh_deadline_pop();
}

TEST(handle_kinds_not_mixed) {
  gh_sock s[6];
  gh_deadline_push(ROOT_DEADLINE_MS);
  for (int i = 0; i < 6; i += 2)
    if (make_pair(&s[i], &s[i + 1]) != 0) {
      gh_deadline_pop();
      return;
    }
  /* Threads that stay alive (tickers stop when killed), so both kinds of handles coexist. */
  static int ticks[4];
  gh_thread t[4];
  sleep_ticker_stop = 0;
  for (int i = 0; i < 4; i++) t[i] = gh_spawn(sleep_ticker_body, &ticks[i]);
  for (int i = 0; i < 4; i++) {
    REQUIRE(t[i] > 0);
    char buf[4];
    int64_t ms = 3;
    gh_addr ad;
    gh_deadline_push(300);
    CHECK_ERR(gh_recv(t[i], buf, sizeof buf), EBADF);
    gh_deadline_pop();
    CHECK_ERR(gh_fileno(t[i]), EBADF);
    CHECK_ERR(gh_gettimeout(t[i], &ms), EBADF);
    CHECK_ERR(gh_local_addr(t[i], &ad), EBADF);
    CHECK_ERR(gh_settimeout(t[i], 1), EBADF);
    CHECK_ERR(gh_close(t[i]), EBADF);
  }
  for (int i = 0; i < 6; i++) {
    int st = 55;
    char name[32];
    gh_deadline_push(300);
    CHECK_ERR(gh_join(s[i], &st), EBADF);
    gh_deadline_pop();
    CHECK_EQ(st, 55);
    CHECK_ERR(gh_kill(s[i]), EBADF);
    CHECK_ERR(gh_get_name(s[i], name, sizeof name), EBADF);
    CHECK_ERR(gh_set_name(s[i], "sock"), EBADF);
    errno = 0;
    int r = gh_sock_give(s[i], s[(i + 1) % 6]);
    int e = errno;
    CHECKF(r == -1 && (e == EBADF || e == ESRCH),
           "gh_sock_give(sock, <socket handle as thread>): %d errno=%s", r, th_errname(e));
  }
  /* Everything still works. */
  for (int i = 0; i < 6; i += 2) {
    char c = 0;
    CHECK_EQ(gh_send(s[i], "m", 1), 1);
    CHECK_EQ(gh_recv(s[i + 1], &c, 1), 1);
    CHECK_EQ(c, 'm');
    gh_close(s[i]);
    gh_close(s[i + 1]);
  }
  for (int i = 0; i < 4; i++) {
    int st = -1;
    CHECK_EQ(gh_kill(t[i]), 0);
    CHECK_EQ(gh_join(t[i], &st), 0);
  }
  gh_deadline_pop();
}

TEST(null_buffers_einval) {
  gh_sock a, b;
  gh_deadline_push(2000);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  char buf[8];
  size_t len = 4;
  CHECK_ERR(gh_recv(a, NULL, 10), EINVAL);
  CHECK_ERR(gh_send(a, NULL, 10), EINVAL);
  CHECK_ERR(gh_sendall(a, NULL, 10), EINVAL);
  CHECK_ERR(gh_readline(a, NULL, 10), EINVAL);
  CHECK_ERR(gh_read_until(a, NULL, 2, buf, sizeof buf), EINVAL);
  CHECK_ERR(gh_read_until(a, "\n", 1, NULL, 10), EINVAL);
  CHECK_ERR(gh_read_until(a, "\n", 0, buf, sizeof buf), EINVAL); /* empty delimiter */
  CHECK_ERR(gh_read_until(a, "\n", 1, buf, 0), EINVAL);         /* max 0 */
  CHECK_ERR(gh_setsockopt(a, IPPROTO_TCP, TCP_NODELAY, NULL, 4), EINVAL);
  CHECK_ERR(gh_getsockopt(a, IPPROTO_TCP, TCP_NODELAY, NULL, &len), EINVAL);
  CHECK_EQ(len, 4);
  gh_thread t = gh_spawn(return_zero, NULL);
  REQUIRE(t > 0);
  CHECK_ERR(gh_get_name(t, NULL, 10), EINVAL);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  /* Nothing was consumed or broken by the rejected calls. */
  CHECK_EQ(gh_send(b, "z", 1), 1);
  CHECK_EQ(gh_recv(a, buf, sizeof buf), 1);
  CHECK_EQ(buf[0], 'z');
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

struct foreign {
  gh_sock s;
  gh_thread t;
  gh_thread self;
  int fileno_rc, fileno_err;
  ssize_t recv_rc;
  int recv_err;
  int close_rc, close_err;
  int join_rc, join_err;
  int kill_rc, kill_err;
  gh_thread own;
  int own_join_rc, own_status;
  gh_sock own_listener;
  int own_addr_rc;
};

static int return_33(void *arg) {
  (void)arg;
  return gh_sleep(1) == 0 ? 33 : -1;
}

static void *foreign_main(void *arg) {
  struct foreign *f = arg;
  gh_deadline_push(1000); /* if a foreign handle were accepted, do not hang */
  f->self = gh_self();
  char c;
  errno = 0;
  f->fileno_rc = gh_fileno(f->s);
  f->fileno_err = errno;
  errno = 0;
  f->recv_rc = gh_recv(f->s, &c, 1);
  f->recv_err = errno;
  errno = 0;
  f->join_rc = gh_join(f->t, NULL);
  f->join_err = errno;
  errno = 0;
  f->kill_rc = gh_kill(f->t);
  f->kill_err = errno;
  errno = 0;
  f->close_rc = gh_close(f->s);
  f->close_err = errno;
  /* This OS thread has a hub of its own. */
  f->own = gh_spawn(return_33, NULL);
  f->own_join_rc = f->own > 0 ? gh_join(f->own, &f->own_status) : -1;
  f->own_listener = gh_listen("127.0.0.1", 0, 4);
  gh_addr a;
  f->own_addr_rc = f->own_listener > 0 ? gh_local_addr(f->own_listener, &a) : -1;
  if (f->own_listener > 0) gh_close(f->own_listener);
  gh_deadline_pop();
  return NULL;
}

TEST(handles_belong_to_os_thread) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  gh_thread t = gh_spawn(return_33, NULL);
  REQUIRE(t > 0);
  struct foreign f;
  memset(&f, 0, sizeof f);
  f.s = a;
  f.t = t;
  f.self = -1;
  pthread_t pt;
  REQUIRE(pthread_create(&pt, NULL, foreign_main, &f) == 0);
  pthread_join(pt, NULL);
  CHECK_EQ(f.self, 0);
  CHECKF(f.fileno_rc == -1 && f.fileno_err == EBADF,
         "gh_fileno of another OS thread's socket: %d errno=%s, want EBADF", f.fileno_rc,
         th_errname(f.fileno_err));
  CHECKF(f.recv_rc == -1 && f.recv_err == EBADF,
         "gh_recv of another OS thread's socket: %zd errno=%s, want EBADF", f.recv_rc,
         th_errname(f.recv_err));
  CHECKF(f.join_rc == -1 && f.join_err == EBADF,
         "gh_join of another OS thread's green thread: %d errno=%s, want EBADF", f.join_rc,
         th_errname(f.join_err));
  CHECKF(f.kill_rc == -1 && f.kill_err == EBADF,
         "gh_kill of another OS thread's green thread: %d errno=%s, want EBADF", f.kill_rc,
         th_errname(f.kill_err));
  CHECKF(f.close_rc == -1 && f.close_err == EBADF,
         "gh_close of another OS thread's socket: %d errno=%s, want EBADF", f.close_rc,
         th_errname(f.close_err));
  CHECKF(f.own > 0 && f.own_join_rc == 0 && f.own_status == 33,
         "green threads in a second OS thread: spawn %lld, join %d, status %d", (long long)f.own,
         f.own_join_rc, f.own_status);
  CHECKF(f.own_listener > 0 && f.own_addr_rc == 0, "sockets in a second OS thread failed");
  /* Ours are untouched. */
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 33);
  char c = 0;
  CHECK_EQ(gh_send(a, "f", 1), 1);
  CHECK_EQ(gh_recv(b, &c, 1), 1);
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}
