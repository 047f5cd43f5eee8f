/* greenhub C API tests: the limits of the readiness memory (test_fairness.c). Reads that come
 * back short while the socket still holds data must not be taken for a drained socket. In
 * each test all data is in the kernel and a poll has consumed the events before any read, so
 * no further edge will come: a read that waited for one would time out. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "support.h"

/* A datagram (or seqpacket) socket: gh_readline's recv gets one datagram without the
 * delimiter (short), and read_until returns a made-up EAGAIN: it waits for an edge, while the
 * rest of the line is queued. */
static void readline_datagrams(int type) {
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, type, 0, fds) == 0);
  REQUIRE(write(fds[1], "ab", 2) == 2);
  REQUIRE(write(fds[1], "cd\n", 3) == 3);
  gh_sock s = gh_adopt(fds[0]);
  REQUIRE(s > 0);
  CHECK_EQ(gh_sleep(20), 0); /* a poll reports the registration's event; nobody waits */
  char buf[100];
  gh_deadline_push(1000);
  errno = 0;
  ssize_t n = gh_readline(s, buf, sizeof buf);
  int e = errno;
  gh_deadline_pop();
  CHECKF(n == 5, "gh_readline returned %zd (errno %s), want 5 (\"abcd\\n\")", n, th_errname(e));
  gh_close(s);
  close(fds[1]);
}

TEST(readline_dgram_two_datagrams_queued) { readline_datagrams(SOCK_DGRAM); }
TEST(readline_seqpacket_two_records_queued) { readline_datagrams(SOCK_SEQPACKET); }

/* TCP urgent data: a read stops at the urgent mark (short) with data after it. */
TEST(recv_stops_at_urgent_mark) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  int paired = make_pair(&a, &b);
  gh_deadline_pop();
  if (paired != 0) return;
  int fb = gh_fileno(b);
  CHECK_EQ(gh_send(b, "abc", 3), 3);
  CHECK_EQ(send(fb, "X", 1, MSG_OOB), 1);
  CHECK_EQ(gh_send(b, "def", 3), 3);
  CHECK_EQ(gh_sleep(20), 0);
  char buf[64];
  CHECK_EQ(gh_recv(a, buf, sizeof buf), 3); /* "abc": short, at the mark */
  gh_deadline_push(1000);
  errno = 0;
  ssize_t n = gh_recv(a, buf, sizeof buf);
  int e = errno;
  gh_deadline_pop();
  CHECKF(n == 3, "second gh_recv returned %zd (errno %s), want 3 (\"def\")", n, th_errname(e));
  gh_close(a);
  gh_close(b);
}

/* AF_UNIX stream: a read stops after a message that carried fds (SCM_RIGHTS), short, with
 * more data queued behind it. */
TEST(recv_stops_after_scm_rights) {
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  int passed = dup(0);
  char data[3] = {'a', 'b', 'c'};
  struct iovec iov = {data, 3};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &passed, sizeof(int));
  REQUIRE(sendmsg(fds[1], &msg, 0) == 3);
  close(passed);
  REQUIRE(write(fds[1], "def", 3) == 3);
  gh_sock s = gh_adopt(fds[0]);
  REQUIRE(s > 0);
  CHECK_EQ(gh_sleep(20), 0);
  char buf[64];
  CHECK_EQ(gh_recv(s, buf, sizeof buf), 3);
  gh_deadline_push(1000);
  errno = 0;
  ssize_t n = gh_recv(s, buf, sizeof buf);
  int e = errno;
  gh_deadline_pop();
  CHECKF(n == 3, "second gh_recv returned %zd (errno %s), want 3 (\"def\")", n, th_errname(e));
  gh_close(s);
  close(fds[1]);
}

/* The end of stream right behind a short read: the wake-up for the data also reported the end
 * (one edge for both), so a read-until that took its short read for drained would wait for
 * an edge that never comes. Both paths: nothing buffered, and a buffered rest. */
TEST(read_until_end_of_stream_behind_a_short_read) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  int paired = make_pair(&a, &b);
  gh_deadline_pop();
  if (paired != 0) return;
  char buf[100];
  CHECK_EQ(gh_sendall(b, "ab\ncd", 5), 0);
  CHECK_EQ(gh_sleep(20), 0);
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "ab\n"); /* "cd" stays buffered */
  CHECK_EQ(gh_sendall(b, "ef", 2), 0);
  CHECK_EQ(gh_shutdown(b, SHUT_WR), 0);
  CHECK_EQ(gh_sleep(20), 0); /* a poll consumes the one event for "ef" and the end */
  gh_deadline_push(1000);
  errno = 0;
  ssize_t n = gh_readline(a, buf, sizeof buf);
  int e = errno;
  CHECKF(n == 4, "buffered rest: gh_readline returned %zd (errno %s), want 4 (\"cdef\")", n,
         th_errname(e));
  CHECK_EQ(gh_readline(a, buf, sizeof buf), 0);
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);

  gh_deadline_push(ROOT_DEADLINE_MS);
  paired = make_pair(&a, &b);
  gh_deadline_pop();
  if (paired != 0) return;
  CHECK_EQ(gh_sendall(b, "xyz", 3), 0);
  CHECK_EQ(gh_shutdown(b, SHUT_WR), 0);
  CHECK_EQ(gh_sleep(20), 0);
  gh_deadline_push(1000);
  errno = 0;
  n = gh_read_until_any(a, "\r\n", 2, buf, sizeof buf);
  e = errno;
  CHECKF(n == 3, "nothing buffered: gh_read_until_any returned %zd (errno %s), want 3", n,
         th_errname(e));
  CHECK_EQ(gh_read_until_any(a, "\r\n", 2, buf, sizeof buf), 0);
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

/* The same for an HTTP head: a short read of a partial head with the end of stream behind it.
 * A head read that took the short read for drained would wait until its timeout. */
TEST(http_end_of_stream_behind_a_short_head_read) {
  static union {
    char bytes[GH_HTTP_REQUEST_BUF];
    uint64_t align; /* the header index in the buffer needs it */
  } req;
  gh_sock c, s;
  gh_deadline_push(ROOT_DEADLINE_MS);
  int paired = make_pair(&c, &s);
  gh_deadline_pop();
  if (paired != 0) return;
  gh_http conn = gh_http_new(s, NULL);
  REQUIRE(conn > 0);
  const char *first = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HT";
  CHECK_EQ(gh_sendall(c, first, strlen(first)), 0);
  gh_http_request r;
  REQUIRE(gh_http_read_request(conn, req.bytes, sizeof req.bytes, &r, 3000) > 0);
  CHECK(r.target.len == 2 && memcmp(req.bytes + r.target.off, "/a", 2) == 0); /* "GET /b HT" stays */
  CHECK_EQ(gh_http_respond(conn, 200, NULL, "", 0, "a", 1, 0, 3000), 0);
  const char *rest = "TP/1.1\r\nHost: x\r\n";
  CHECK_EQ(gh_sendall(c, rest, strlen(rest)), 0);
  CHECK_EQ(gh_shutdown(c, SHUT_WR), 0);
  CHECK_EQ(gh_sleep(20), 0); /* a poll consumes the one event for the bytes and the end */
  double t0 = now_ms();
  errno = 0;
  ssize_t n = gh_http_read_request(conn, req.bytes, sizeof req.bytes, &r, 3000);
  int e = errno;
  CHECKF(n == 0 && now_ms() - t0 < 1000,
         "gh_http_read_request returned %zd (errno %s) after %.0f ms, want 0 at once", n,
         th_errname(e), now_ms() - t0);
  gh_http_free(conn);
  gh_close(c);
  gh_close(s);
}
