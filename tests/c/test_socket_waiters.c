/* greenhub C API tests: threads blocked on a socket. A second waiter gets EBUSY; closing the
 * socket or killing the thread ends the wait; accept waits while out of file descriptors. */
#include "harness.h"
#include "support.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

TEST(blocked_sender_close_and_kill) {
  static char big[1 << 20];
  memset(big, 's', sizeof big);
  for (int round = 0; round < 2; round++) {
    gh_sock a, b;
    gh_deadline_push(ROOT_DEADLINE_MS);
    if (make_pair(&a, &b) != 0) {
      gh_deadline_pop();
      return;
    }
    int e = 0;
    fill_until_full(a, &e);
    CHECK_EQ(gh_settimeout(a, -1), 0);
    struct bulk_sender bs = {a, big, sizeof big, -2, 0};
    gh_thread t = gh_spawn(bulk_sender_body, &bs);
    REQUIRE(t > 0);
    CHECK_EQ(gh_sleep(20), 0);
    CHECKF(bs.rc == -2, "gh_sendall into a full socket returned early: %d errno=%s", bs.rc,
           th_errname(bs.err));
    if (round == 0)
      CHECK_EQ(gh_close(a), 0);
    else
      CHECK_EQ(gh_kill(t), 0);
    double t0 = now_ms();
    int st;
    CHECK_EQ(gh_join(t, &st), 0);
    CHECKF(now_ms() - t0 < 500, "blocked sender took %.0f ms to notice", now_ms() - t0);
    int want = round == 0 ? EBADF : ECANCELED;
    CHECKF(bs.rc == -1 && bs.err == want, "%s while blocked in gh_sendall: %d errno=%s, want %s",
           round == 0 ? "socket closed" : "thread killed", bs.rc, th_errname(bs.err),
           th_errname(want));
    if (round == 1) gh_close(a);
    gh_close(b);
    gh_deadline_pop();
  }
}

struct waiter {
  gh_sock s;
  int op; /* 0 recv, 1 accept, 2 readline */
  ssize_t rc;
  int err;
  char buf[16];
  double started, el;
};

static int waiter_body(void *arg) {
  struct waiter *w = arg;
  gh_deadline_push(5000); /* a missing wake-up shows as ETIMEDOUT, not a hang */
  w->started = now_ms();
  errno = 0;
  if (w->op == 0)
    w->rc = gh_recv(w->s, w->buf, sizeof w->buf);
  else if (w->op == 1)
    w->rc = gh_accept(w->s, NULL);
  else
    w->rc = gh_readline(w->s, w->buf, sizeof w->buf);
  w->err = errno;
  w->el = now_ms() - w->started;
  gh_deadline_pop();
  return 0;
}

TEST(ebusy_second_waiter) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  struct waiter w1, w2;
  memset(&w1, 0, sizeof w1);
  memset(&w2, 0, sizeof w2);
  w1.s = w2.s = a;
  gh_thread t1 = gh_spawn(waiter_body, &w1);
  gh_thread t2 = gh_spawn(waiter_body, &w2);
  REQUIRE(t1 > 0 && t2 > 0);
  CHECK_EQ(gh_sleep(20), 0);
  int st;
  CHECK_EQ(gh_join(t2, &st), 0); /* it must have finished already */
  CHECKF(w2.rc == -1 && w2.err == EBUSY, "second gh_recv on the same socket: %zd errno=%s, want "
         "EBUSY", w2.rc, th_errname(w2.err));
  CHECKF(w2.el < 15, "EBUSY came after %.1f ms, want immediately", w2.el);
  /* The root as another reader: EBUSY too. Writing (the other direction) is fine. */
  char c;
  CHECK_ERR(gh_recv(a, &c, 1), EBUSY);
  CHECK_EQ(gh_send(a, "w", 1), 1);
  CHECK_EQ(gh_recv(b, &c, 1), 1);
  /* The first waiter still gets the data. */
  CHECK_EQ(gh_send(b, "x", 1), 1);
  CHECK_EQ(gh_join(t1, &st), 0);
  CHECKF(w1.rc == 1 && w1.buf[0] == 'x', "first waiter: %zd errno=%s", w1.rc,
         th_errname(w1.err));
  /* Not busy any more. */
  CHECK_EQ(gh_send(b, "y", 1), 1);
  CHECK_EQ(gh_recv(a, &c, 1), 1);
  CHECK_EQ(c, 'y');

  /* Two accepts on one listener. */
  uint16_t port;
  gh_sock l = listen_local(&port);
  if (l > 0) {
    struct waiter wa;
    memset(&wa, 0, sizeof wa);
    wa.s = l;
    wa.op = 1;
    gh_thread ta = gh_spawn(waiter_body, &wa);
    REQUIRE(ta > 0);
    CHECK_EQ(gh_sleep(10), 0);
    CHECK_ERR(gh_accept(l, NULL), EBUSY);
    gh_sock c2 = gh_connect("127.0.0.1", port);
    CHECK(c2 > 0);
    CHECK_EQ(gh_join(ta, &st), 0);
    CHECKF(wa.rc > 0, "blocked accept: %zd errno=%s", wa.rc, th_errname(wa.err));
    /* wa.rc was accepted by the (now finished) thread: it owned it, so it is closed now. */
    if (c2 > 0) {
      gh_settimeout(c2, 2000);
      CHECKF(gh_recv(c2, &c, 1) == 0,
             "socket accepted by a thread that returned was not closed (peer sees no EOF)");
      gh_close(c2);
    }
    gh_close(l);
  }
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

TEST(close_wakes_waiter) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  struct waiter w[3];
  memset(w, 0, sizeof w);
  w[0].s = a;
  w[0].op = 0;
  w[1].s = l;
  w[1].op = 1;
  w[2].s = b;
  w[2].op = 2;
  CHECK_EQ(gh_send(a, "partial", 7), 7); /* b's readline has buffered data but no newline */
  gh_thread t[3];
  for (int i = 0; i < 3; i++) {
    t[i] = gh_spawn(waiter_body, &w[i]);
    REQUIRE(t[i] > 0);
  }
  CHECK_EQ(gh_sleep(20), 0);
  CHECK_EQ(gh_close(a), 0);
  CHECK_EQ(gh_close(l), 0);
  CHECK_EQ(gh_close(b), 0);
  const char *what[3] = {"gh_recv", "gh_accept", "gh_readline"};
  for (int i = 0; i < 3; i++) {
    int st;
    CHECK_EQ(gh_join(t[i], &st), 0);
    CHECKF(w[i].rc == -1 && w[i].err == EBADF,
           "%s blocked while its socket was closed: %zd errno=%s after %.0f ms, want EBADF",
           what[i], w[i].rc, th_errname(w[i].err), w[i].el);
    CHECKF(w[i].el < 500, "%s woke %.0f ms after the close", what[i], w[i].el);
  }
  gh_deadline_pop();
}

TEST(kill_thread_blocked_in_recv) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  struct waiter w;
  memset(&w, 0, sizeof w);
  w.s = a;
  gh_thread t = gh_spawn(waiter_body, &w);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(10), 0);
  CHECK_EQ(gh_kill(t), 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(w.rc == -1 && w.err == ECANCELED, "killed gh_recv: %zd errno=%s, want ECANCELED", w.rc,
         th_errname(w.err));
  CHECKF(w.el < 500, "killed gh_recv returned after %.0f ms", w.el);
  /* The socket belongs to the root: still open and usable, nothing was lost. */
  char c = 0;
  CHECK_EQ(gh_send(b, "k", 1), 1);
  CHECK_EQ(gh_recv(a, &c, 1), 1);
  CHECK_EQ(c, 'k');
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

TEST(accept_emfile_waits) {
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sock c = gh_connect("127.0.0.1", port); /* queued in the backlog */
  REQUIRE(c > 0);
  struct rlimit old;
  REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
  struct rlimit lim = old;
  lim.rlim_cur = 128;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0);
  static int fds[256];
  int n = 0;
  while (n < 256) {
    int fd = open("/dev/null", O_RDONLY);
    if (fd < 0) break;
    fds[n++] = fd;
  }
  int exhausted = n < 256 && errno == EMFILE;
  struct waiter w;
  memset(&w, 0, sizeof w);
  w.s = l;
  w.op = 1;
  w.rc = -2;
  gh_thread t = exhausted ? gh_spawn(waiter_body, &w) : -1;
  if (t > 0) gh_sleep(100);
  ssize_t before = w.rc;
  int before_err = w.err;
  if (n > 0) close(fds[--n]); /* one descriptor free again */
  int st = -1;
  if (t > 0) gh_join(t, &st);
  while (n > 0) close(fds[--n]);
  setrlimit(RLIMIT_NOFILE, &old);
  REQUIRE(exhausted);
  REQUIRE(t > 0);
  CHECKF(before == -2, "gh_accept out of descriptors did not wait: %zd errno=%s", before,
         th_errname(before_err));
  CHECKF(w.rc > 0, "gh_accept after a descriptor was freed: %zd errno=%s after %.0f ms", w.rc,
         th_errname(w.err), w.el);
  gh_deadline_pop();
  gh_close(c);
  gh_close(l);
}
