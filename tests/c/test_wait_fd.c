/* greenhub C API tests: green waits on any file descriptor (gh_wait_fd, gh_poll). A pipe read
 * waits only its thread; two threads wait on one fd (one to read, one to write); an fd also
 * registered as a green socket, and its dup, are waited on without disturbing the socket;
 * closing an fd announced with gh_notify_close wakes its waiter with EBADF, and an
 * unannounced close neither crashes nor spins the hub; timeouts and bad arguments. */
#include "harness.h"
#include "support.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

struct fd_waiter {
  int fd, events;
  int64_t timeout_ms;
  int rc, err;
  double el;
};

static int fd_waiter_body(void *arg) {
  struct fd_waiter *w = arg;
  gh_deadline_push(5000); /* a missing wake-up shows as ETIMEDOUT, not a hang */
  double t0 = now_ms();
  errno = 0;
  w->rc = gh_wait_fd(w->fd, w->events, w->timeout_ms);
  w->err = errno;
  w->el = now_ms() - t0;
  gh_deadline_pop();
  return 0;
}

/* CPU time (user + system) of the process, in ms. */
static double cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int make_pipe(int p[2]) {
  return pipe2(p, O_NONBLOCK | O_CLOEXEC);
}

TEST(wait_fd_pipe_many_readers) {
  enum { N = 20 };
  gh_deadline_push(ROOT_DEADLINE_MS);
  int p[N][2];
  struct fd_waiter w[N];
  gh_thread t[N];
  for (int i = 0; i < N; i++) {
    REQUIRE(make_pipe(p[i]) == 0);
    w[i] = (struct fd_waiter){p[i][0], POLLIN, -1, -2, 0, 0};
    t[i] = gh_spawn(fd_waiter_body, &w[i]);
    REQUIRE(t[i] > 0);
  }
  double t0 = now_ms();
  CHECK_EQ(gh_sleep(100), 0); /* all 20 wait at once; the root's sleep runs */
  for (int i = 0; i < N; i++) CHECK_EQ(w[i].rc, -2);
  for (int i = 0; i < N; i++) CHECK_EQ(write(p[i][1], "x", 1), 1);
  for (int i = 0; i < N; i++) {
    int st;
    CHECK_EQ(gh_join(t[i], &st), 0);
    CHECKF(w[i].rc > 0 && (w[i].rc & POLLIN), "waiter %d: rc=%d errno=%s", i, w[i].rc,
           th_errname(w[i].err));
    char c;
    CHECK_EQ(read(p[i][0], &c, 1), 1); /* the fd is still the program's, unchanged */
    close(p[i][0]);
    close(p[i][1]);
  }
  double el = now_ms() - t0;
  CHECKF(el < 1500, "20 pipe waits of 100 ms took %.0f ms", el);
  gh_deadline_pop();
}

TEST(wait_fd_reader_and_writer_on_one_fd) {
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sock a, b;
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  int e = 0;
  fill_until_full(a, &e); /* a: neither readable nor writable */
  int fd = gh_fileno(a); /* registered with the hub as a green socket too */
  struct fd_waiter r = {fd, POLLIN, -1, -2, 0, 0};
  struct fd_waiter w = {fd, POLLOUT, -1, -2, 0, 0};
  gh_thread tr = gh_spawn(fd_waiter_body, &r);
  gh_thread tw = gh_spawn(fd_waiter_body, &w);
  REQUIRE(tr > 0 && tw > 0);
  CHECK_EQ(gh_sleep(20), 0);
  CHECK_EQ(r.rc, -2);
  CHECK_EQ(w.rc, -2);
  CHECK_EQ(gh_sendall(b, "ping", 4), 0); /* a becomes readable: only the reader wakes */
  int st;
  CHECK_EQ(gh_join(tr, &st), 0);
  CHECKF(r.rc > 0 && (r.rc & POLLIN), "reader: rc=%d errno=%s", r.rc, th_errname(r.err));
  CHECK_EQ(gh_sleep(20), 0);
  CHECK_EQ(w.rc, -2);
  /* Drain b so that a may write again: the writer wakes. */
  CHECK_EQ(gh_settimeout(b, 50), 0);
  char buf[65536];
  while (gh_recv(b, buf, sizeof buf) > 0) {
  }
  CHECK_EQ(gh_join(tw, &st), 0);
  CHECKF(w.rc > 0 && (w.rc & POLLOUT), "writer: rc=%d errno=%s", w.rc, th_errname(w.err));
  /* The green socket's own wait still works after both waits registered and left. */
  CHECK_EQ(gh_settimeout(a, 2000), 0);
  char ping[4];
  CHECK_EQ(recv_exact(a, ping, 4), 4);
  CHECK(memcmp(ping, "ping", 4) == 0);
  CHECK_EQ(gh_sendall(b, "z", 1), 0);
  CHECK_EQ(gh_recv(a, ping, 1), 1);
  gh_close(a);
  gh_close(b);
  gh_deadline_pop();
}

TEST(wait_fd_dup_and_timeouts) {
  gh_deadline_push(ROOT_DEADLINE_MS);
  int p[2];
  REQUIRE(make_pipe(p) == 0);
  int d = dup(p[0]);
  REQUIRE(d >= 0);
  CHECK_ERR(gh_wait_fd(p[0], POLLIN, 0), EAGAIN); /* 0 never waits */
  double t0 = now_ms();
  CHECK_ERR(gh_wait_fd(d, POLLIN, 50), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECKF(el >= 40 && el < 2000, "a 50 ms wait took %.0f ms", el);
  gh_deadline_push(30);
  CHECK_ERR(gh_wait_fd(p[0], POLLIN, -1), ETIMEDOUT); /* the thread's deadline */
  gh_deadline_pop();
  /* The write end is writable at once; both numbers of the read end see the byte. */
  CHECK_EQ(gh_wait_fd(p[1], POLLOUT, -1), POLLOUT);
  CHECK_EQ(write(p[1], "x", 1), 1);
  CHECK(gh_wait_fd(p[0], POLLIN, -1) & POLLIN);
  CHECK(gh_wait_fd(d, POLLIN, -1) & POLLIN);
  /* The peer's close is a hang-up, reported as poll(2) does. */
  char c;
  CHECK_EQ(read(d, &c, 1), 1);
  struct fd_waiter w = {p[0], POLLIN, -1, -2, 0, 0};
  gh_thread t = gh_spawn(fd_waiter_body, &w);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(10), 0);
  close(p[1]);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(w.rc > 0 && (w.rc & POLLHUP), "hang-up: rc=%d errno=%s", w.rc, th_errname(w.err));
  close(p[0]);
  close(d);
  gh_deadline_pop();
}

TEST(wait_fd_close_while_waiting) {
  gh_deadline_push(ROOT_DEADLINE_MS);
  int p[2];
  REQUIRE(make_pipe(p) == 0);
  /* Announced: the waiter wakes with EBADF at once. */
  struct fd_waiter w = {p[0], POLLIN, -1, -2, 0, 0};
  gh_thread t = gh_spawn(fd_waiter_body, &w);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(20), 0);
  CHECK_EQ(w.rc, -2);
  CHECK_EQ(gh_notify_close(p[0]), 0);
  CHECK_EQ(close(p[0]), 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(w.rc == -1 && w.err == EBADF, "announced close: rc=%d errno=%s", w.rc,
         th_errname(w.err));
  CHECKF(w.el < 500, "the waiter took %.0f ms to wake", w.el);
  /* The read end is released: the write end sees the reader gone. */
  CHECK_EQ(gh_wait_fd(p[1], POLLOUT, 1000) & POLLERR, POLLERR);
  close(p[1]);
  /* Unannounced: the wait goes on on the open file and ends with its timeout; meanwhile a
   * green socket reusing the number works, and the hub does not spin (little CPU used). */
  REQUIRE(make_pipe(p) == 0);
  double cpu0 = cpu_ms();
  struct fd_waiter u = {p[0], POLLIN, 300, -2, 0, 0};
  t = gh_spawn(fd_waiter_body, &u);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(20), 0);
  CHECK_EQ(close(p[0]), 0);
  gh_sock a, b;
  if (make_pair(&a, &b) == 0) { /* likely takes the closed number */
    CHECK_EQ(gh_sendall(b, "hi", 2), 0);
    char buf[2];
    CHECK_EQ(recv_exact(a, buf, 2), 2);
    gh_close(a);
    gh_close(b);
  }
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(u.rc == -1 && u.err == ETIMEDOUT, "unannounced close: rc=%d errno=%s", u.rc,
         th_errname(u.err));
  double cpu = cpu_ms() - cpu0;
  CHECKF(cpu < 150, "the hub used %.0f ms of CPU during a 300 ms wait", cpu);
  close(p[1]);
  gh_deadline_pop();
}

TEST(poll_many_fds) {
  gh_deadline_push(ROOT_DEADLINE_MS);
  int p1[2], p2[2];
  REQUIRE(make_pipe(p1) == 0 && make_pipe(p2) == 0);
  gh_pollfd fds[3] = {{p1[0], POLLIN, 7}, {-1, POLLIN, 7}, {p2[0], POLLIN, 7}};
  CHECK_ERR(gh_poll(fds, 3, 20), ETIMEDOUT);
  CHECK_EQ(write(p2[1], "x", 1), 1);
  CHECK_EQ(gh_poll(fds, 3, -1), 1);
  CHECK_EQ(fds[0].revents, 0);
  CHECK_EQ(fds[1].revents, 0); /* negative fd: ignored */
  CHECK_EQ(fds[2].revents, POLLIN);
  struct pollfd sys[1] = {{p1[1], POLLOUT, 0}}; /* poll(2)'s struct, cast */
  CHECK_EQ(gh_poll((gh_pollfd *)sys, 1, -1), 1);
  CHECK_EQ(sys[0].revents, POLLOUT);
  CHECK_ERR(gh_poll(NULL, 0, 0), EAGAIN); /* nothing to wait for, and no waiting */
  CHECK_ERR(gh_poll(NULL, 1, 0), EINVAL);
  CHECK_ERR(gh_poll(fds, GH_POLL_MAX + 1, 0), EINVAL);
  CHECK_ERR(gh_wait_fd(-1, POLLIN, 0), EBADF);
  CHECK_ERR(gh_wait_fd(p1[0], 1 << 20, 0), EINVAL);
  CHECK_ERR(gh_notify_close(-1), EBADF);
  close(p1[0]);
  CHECK_ERR(gh_wait_fd(p1[0], POLLIN, -1), EBADF); /* closed before the wait */
  gh_pollfd closed[1] = {{p1[0], POLLIN, 0}};
  CHECK_EQ(gh_poll(closed, 1, -1), 1);
  CHECK_EQ(closed[0].revents, POLLNVAL); /* as poll(2) says of a closed fd */
  close(p1[1]);
  close(p2[0]);
  close(p2[1]);
  gh_deadline_pop();
}

TEST(wait_fd_on_a_green_socket_closed) {
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sock a, b;
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  struct fd_waiter w = {gh_fileno(a), POLLIN, -1, -2, 0, 0};
  gh_thread t = gh_spawn(fd_waiter_body, &w);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(20), 0);
  CHECK_EQ(w.rc, -2);
  CHECK_EQ(gh_close(a), 0); /* closing the green socket ends waits on its fd */
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(w.rc == -1 && w.err == EBADF, "socket closed: rc=%d errno=%s", w.rc,
         th_errname(w.err));
  CHECKF(w.el < 500, "the waiter took %.0f ms to wake", w.el);
  /* b sees the close at once: the wait's duplicate did not keep the connection open. */
  CHECK_EQ(gh_settimeout(b, 1000), 0);
  char c;
  CHECK_EQ(gh_recv(b, &c, 1), 0);
  gh_close(b);
  gh_deadline_pop();
}
