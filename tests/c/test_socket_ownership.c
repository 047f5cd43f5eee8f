/* greenhub C API tests: who owns a socket. A thread's sockets close when it returns, exits or
 * is killed; gh_sock_give hands one to another thread, the root, or nobody. */
#include "harness.h"
#include "support.h"

static int send_hi_and_return(void *arg) {
  gh_sock s = *(gh_sock *)arg;
  return gh_sendall(s, "hi", 2) == 0 ? 0 : 1;
}

TEST(owned_sock_closed_on_return) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  gh_spawn_opts o;
  opts_init(&o);
  o.sock = a;
  gh_thread t = gh_spawn_ex(send_hi_and_return, &a, &o);
  REQUIRE(t > 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 0);
  CHECKF(gh_fileno(a) == -1 && errno == EBADF,
         "a socket handed to a thread (opts.sock) is still open after the thread returned");
  CHECK_ERR(gh_close(a), EBADF);
  char buf[4];
  gh_settimeout(b, 2000);
  CHECK_EQ(recv_exact(b, buf, 2), 2);
  CHECKF(gh_recv(b, buf, sizeof buf) == 0, "peer did not see EOF (errno=%s)", th_errname(errno));
  gh_close(b);

  /* opts.sock must be a valid socket. */
  opts_init(&o);
  o.sock = 123456789;
  gh_sock dummy = 0;
  CHECK_ERR(gh_spawn_ex(send_hi_and_return, &dummy, &o), EBADF);
  gh_deadline_pop();
}

struct victim_socks {
  uint16_t server_port;
  gh_sock listener, conn;
  uint16_t listener_port;
  int exit_instead;
  int ready;
};

static int socket_owner_body(void *arg) {
  struct victim_socks *v = arg;
  v->listener = gh_listen("127.0.0.1", 0, 4);
  gh_addr a;
  memset(&a, 0, sizeof a);
  if (v->listener > 0 && gh_local_addr(v->listener, &a) == 0) v->listener_port = a.port;
  v->conn = gh_connect("127.0.0.1", v->server_port);
  v->ready = 1;
  if (v->exit_instead) gh_exit(0);
  while (gh_sleep(10000) == 0) {
  }
  return 0;
}

static void check_owner_sockets_closed(int exit_instead) {
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  struct victim_socks v;
  memset(&v, 0, sizeof v);
  v.server_port = port;
  v.exit_instead = exit_instead;
  gh_thread t = gh_spawn(socket_owner_body, &v);
  REQUIRE(t > 0);
  gh_sock s = gh_accept(l, NULL);
  REQUIRE(s > 0);
  for (int i = 0; i < 100 && !v.ready; i++) gh_sleep(1);
  REQUIRE(v.ready && v.listener > 0 && v.conn > 0 && v.listener_port > 0);
  if (!exit_instead) CHECK_EQ(gh_kill(t), 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  char c;
  gh_settimeout(s, 2000);
  errno = 0;
  ssize_t n = gh_recv(s, &c, 1);
  CHECKF(n == 0, "peer of a %s thread's socket: recv %zd errno=%s, want 0 (EOF)",
         exit_instead ? "gh_exit'ed" : "killed", n, th_errname(errno));
  CHECK_ERR(gh_fileno(v.conn), EBADF);
  CHECK_ERR(gh_fileno(v.listener), EBADF);
  CHECK_ERR(gh_connect("127.0.0.1", v.listener_port), ECONNREFUSED);
  gh_deadline_pop();
  gh_close(s);
  gh_close(l);
}

TEST(killed_thread_sockets_closed) { check_owner_sockets_closed(0); }

TEST(exited_thread_sockets_closed) { check_owner_sockets_closed(1); }

static volatile int give_release;

static int wait_release(void *arg) {
  (void)arg;
  for (int i = 0; i < 2000 && !give_release; i++)
    if (gh_sleep(5) != 0) return 1;
  return 0;
}

struct give_from_thread {
  uint16_t port;
  gh_thread to;
  gh_sock conn;
  int rc, err;
};

static int connect_and_give(void *arg) {
  struct give_from_thread *g = arg;
  g->conn = gh_connect("127.0.0.1", g->port);
  if (g->conn <= 0) return 1;
  if (gh_sendall(g->conn, "from-t1", 7) != 0) return 2;
  errno = 0;
  g->rc = gh_sock_give(g->conn, g->to);
  g->err = errno;
  return 0;
}

TEST(sock_give) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  /* root -> thread: closed when that thread ends. */
  give_release = 0;
  gh_thread t = gh_spawn(wait_release, NULL);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sock_give(a, t), 0);
  char buf[16];
  CHECK_EQ(gh_send(a, "g", 1), 1); /* still usable by anyone */
  CHECK_EQ(recv_exact(b, buf, 1), 1);
  give_release = 1;
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(gh_fileno(a) == -1 && errno == EBADF,
         "a socket given to a thread is still open after the thread ended");
  gh_settimeout(b, 2000);
  CHECK_EQ(gh_recv(b, buf, 1), 0);
  gh_close(b);

  /* thread -> thread: survives its creator, dies with the receiver. */
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  give_release = 0;
  gh_thread keeper = gh_spawn(wait_release, NULL);
  REQUIRE(keeper > 0);
  struct give_from_thread g = {port, keeper, 0, -2, 0};
  gh_thread giver = gh_spawn(connect_and_give, &g);
  REQUIRE(giver > 0);
  gh_sock s = gh_accept(l, NULL);
  REQUIRE(s > 0);
  CHECK_EQ(gh_join(giver, &st), 0);
  CHECK_EQ(st, 0);
  CHECKF(g.rc == 0, "gh_sock_give(own socket, other thread) from a thread: %d errno=%s", g.rc,
         th_errname(g.err));
  CHECK_EQ(recv_exact(s, buf, 7), 7);
  CHECK(memcmp(buf, "from-t1", 7) == 0);
  CHECKF(gh_fileno(g.conn) >= 0, "a given-away socket was closed when its creator ended");
  CHECK_EQ(gh_settimeout(s, 50), 0);
  CHECK_ERR(gh_recv(s, buf, 1), ETIMEDOUT); /* no EOF: still open */
  give_release = 1;
  CHECK_EQ(gh_join(keeper, &st), 0);
  CHECK_EQ(gh_settimeout(s, 2000), 0);
  CHECKF(gh_recv(s, buf, 1) == 0, "no EOF after the receiving thread ended");
  CHECK_ERR(gh_fileno(g.conn), EBADF);
  gh_close(s);
  gh_close(l);
  gh_deadline_pop();
}

static int connect_and_give_root(void *arg) {
  struct give_from_thread *g = arg;
  g->conn = gh_connect("127.0.0.1", g->port);
  if (g->conn <= 0) return 1;
  if (gh_sendall(g->conn, "to-root", 7) != 0) return 2;
  errno = 0;
  g->rc = gh_sock_give(g->conn, 0);
  g->err = errno;
  return 0;
}

static int fail_spawn_never_runs(void *arg) {
  (void)arg;
  return 0;
}

TEST(sock_give_root_and_detached) {
  gh_deadline_push(ROOT_DEADLINE_MS);
  /* thread -> root: the root never closes it on its own, so it outlives its creator. */
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  struct give_from_thread g = {port, 0, 0, -2, 0};
  gh_thread t = gh_spawn(connect_and_give_root, &g);
  REQUIRE(t > 0);
  gh_sock s = gh_accept(l, NULL);
  REQUIRE(s > 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 0);
  CHECKF(g.rc == 0, "gh_sock_give(s, 0) from a thread: %d errno=%s", g.rc, th_errname(g.err));
  char buf[16];
  CHECK_EQ(recv_exact(s, buf, 7), 7);
  CHECKF(gh_fileno(g.conn) >= 0, "a socket given to the root was closed when its creator ended");
  CHECK_EQ(gh_settimeout(s, 50), 0);
  CHECK_ERR(gh_recv(s, buf, 1), ETIMEDOUT);
  CHECK_EQ(gh_close(g.conn), 0);
  CHECK_EQ(gh_settimeout(s, 2000), 0);
  CHECK_EQ(gh_recv(s, buf, 1), 0);
  gh_close(s);
  gh_close(l);

  /* root -> detached thread: closed when it ends. */
  gh_sock a, b;
  if (make_pair(&a, &b) == 0) {
    give_release = 0;
    gh_thread d = gh_spawn_n(wait_release, NULL);
    REQUIRE(d > 0);
    CHECK_EQ(gh_sock_give(a, d), 0);
    give_release = 1;
    CHECK_EQ(gh_run(), 0);
    CHECKF(gh_fileno(a) == -1 && errno == EBADF,
           "a socket given to a detached thread is still open after it ended");
    gh_settimeout(b, 2000);
    CHECK_EQ(gh_recv(b, buf, 1), 0);
    gh_close(b);
  }

  /* A failed spawn does not take the socket. */
  if (make_pair(&a, &b) == 0) {
    gh_spawn_opts o;
    opts_init(&o);
    o.sock = a;
    CHECK_ERR(gh_spawn_ex(NULL, NULL, &o), EINVAL);
    o.stack_size = (size_t)1 << 62;
    CHECK_ERR2(gh_spawn_ex(fail_spawn_never_runs, NULL, &o), ENOMEM, EAGAIN);
    /* Still the root's: a thread that ends does not close it. */
    gh_thread u = gh_spawn(fail_spawn_never_runs, NULL);
    REQUIRE(u > 0);
    CHECK_EQ(gh_join(u, &st), 0);
    CHECKF(gh_fileno(a) >= 0, "a failed gh_spawn_ex(opts.sock = s) closed or took s");
    char c = 0;
    CHECK_EQ(gh_send(a, "o", 1), 1);
    CHECK_EQ(gh_recv(b, &c, 1), 1);
    gh_close(a);
    gh_close(b);
  }
  gh_deadline_pop();
}

TEST(sock_give_dead_thread) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  gh_thread t = gh_spawn(return_zero, NULL);
  REQUIRE(t > 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  const long long targets[] = {(long long)t, 0x7fffffff, -5};
  const char *what[] = {"a joined (dead) thread", "0x7fffffff", "-5"};
  for (int i = 0; i < 3; i++) {
    errno = 0;
    int r = gh_sock_give(a, (gh_thread)targets[i]);
    int e = errno;
    CHECKF(r == -1 && (e == EBADF || e == ESRCH), "gh_sock_give(s, %s): %d errno=%s, want -1 "
           "EBADF or ESRCH", what[i], r, th_errname(e));
    if (r == -1) th_note("gh_sock_give to %s: errno=%s", what[i], th_errname(e));
  }
  /* A finished (not yet joined) thread cannot take a socket either. */
  gh_thread f = gh_spawn(return_zero, NULL);
  REQUIRE(f > 0);
  CHECK_EQ(gh_sleep(5), 0);
  errno = 0;
  int r = gh_sock_give(a, f);
  int e = errno;
  if (r == 0)
    th_fail(__FILE__, __LINE__, -1, "gh_sock_give to a finished (unjoined) thread succeeded: "
            "the socket would never be closed");
  else
    th_note("gh_sock_give to a finished, unjoined thread: errno=%s", th_errname(e));
  CHECK_EQ(gh_join(f, &st), 0);
  /* The socket is still the root's and still open. */
  CHECK(gh_fileno(a) >= 0);
  char c;
  CHECK_EQ(gh_send(a, "s", 1), 1);
  CHECK_EQ(gh_recv(b, &c, 1), 1);
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}
