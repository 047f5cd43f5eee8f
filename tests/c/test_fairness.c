/* greenhub C API tests: fair service and the I/O slots' readiness memory.
 *
 * Fair service: a thread is served (a read that finds data) at most once per poll round, so no
 * connection is served twice while another ready one waits. Readiness memory: after a read
 * that drained the socket the next read waits without asking the kernel, and data that
 * arrives meanwhile, while nobody waits, is not lost. */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "support.h"

#define CONNS 4
#define MESSAGES 5
#define MESSAGE 8 /* bytes: every read asks for exactly one message, and gets it whole */

struct served {
  int order[CONNS * MESSAGES]; /* which connection each read served, in order */
  int count;
};

struct handler {
  gh_sock s;
  int index;
  struct served *log;
};

/* Reads MESSAGES messages that are all in the socket already, one read each. */
static int read_messages(void *arg) {
  struct handler *h = arg;
  char buf[MESSAGE];
  for (int i = 0; i < MESSAGES; i++) {
    if (recv_exact(h->s, buf, sizeof buf) != sizeof buf) return 1;
    h->log->order[h->log->count++] = h->index;
  }
  return 0;
}

/* Every connection has all its requests waiting before any handler runs. Each read gets a
 * whole message without waiting, so before fair service the first handler read all of its
 * messages while the others, just as ready, waited (0 0 0 0 0 1 1 1 1 1 ...). */
TEST(ready_connections_are_served_in_turn) {
  int fds[CONNS][2];
  struct handler h[CONNS];
  struct served log = {{0}, 0};
  char msg[MESSAGE * MESSAGES];
  memset(msg, 'm', sizeof msg);
  for (int c = 0; c < CONNS; c++) {
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, fds[c]) == 0);
    REQUIRE(write(fds[c][1], msg, sizeof msg) == (ssize_t)sizeof msg);
    h[c].s = gh_adopt(fds[c][0]);
    REQUIRE(h[c].s > 0);
    h[c].index = c;
    h[c].log = &log;
  }
  gh_thread t[CONNS];
  for (int c = 0; c < CONNS; c++) REQUIRE((t[c] = gh_spawn(read_messages, &h[c])) > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  for (int c = 0; c < CONNS; c++) {
    int st = -1;
    CHECK_EQ(gh_join(t[c], &st), 0);
    CHECK_EQ(st, 0);
  }
  gh_deadline_pop();
  CHECK_EQ(log.count, CONNS * MESSAGES);
  /* Each round of CONNS reads serves every connection once. */
  for (int round = 0; round < MESSAGES; round++) {
    int seen = 0;
    for (int i = 0; i < CONNS; i++) seen |= 1 << log.order[round * CONNS + i];
    CHECKF(seen == (1 << CONNS) - 1, "round %d did not serve every connection once (mask %#x)",
           round, (unsigned)seen);
  }
  for (int c = 0; c < CONNS; c++) {
    gh_close(h[c].s);
    close(fds[c][1]);
  }
}

struct late_reader {
  gh_sock s;
  ssize_t first, second;
  char buf[64];
};

/* A short read (the socket drained), a sleep during which the peer writes (the event comes
 * while nobody waits), then a read: it must find the data, not wait for an event already
 * gone. */
static int read_around_sleep(void *arg) {
  struct late_reader *r = arg;
  r->first = gh_recv(r->s, r->buf, sizeof r->buf);
  if (gh_sleep(50) != 0) return 1;
  gh_deadline_push(2000);
  r->second = gh_recv(r->s, r->buf, sizeof r->buf);
  gh_deadline_pop();
  return 0;
}

TEST(data_arriving_while_nobody_waits_is_read) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  int paired = make_pair(&a, &b);
  gh_deadline_pop();
  if (paired != 0) return;
  CHECK_EQ(gh_send(b, "one", 3), 3);
  struct late_reader r = {a, -2, -2, {0}};
  gh_thread t = gh_spawn(read_around_sleep, &r);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(20), 0); /* the reader has read "one" and sleeps */
  CHECK_EQ(r.first, 3);
  CHECK_EQ(gh_send(b, "two", 3), 3);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  CHECK_EQ(st, 0);
  CHECKF(r.second == 3, "the read after the sleep returned %zd (errno %s), want 3", r.second,
         th_errname(errno));
  gh_close(a);
  gh_close(b);
}

/* A non-blocking socket (timeout 0) that a read found drained still asks the kernel: a loop
 * of non-blocking reads and yields must see data that arrived, though nobody waits for I/O
 * (the hub does not poll then, so no event would ever say it came). */
TEST(nonblocking_read_after_drain_sees_new_data) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  int paired = make_pair(&a, &b);
  gh_deadline_pop();
  if (paired != 0) return;
  char buf[16];
  CHECK_EQ(gh_settimeout(a, 0), 0);
  CHECK_EQ(gh_send(b, "x", 1), 1);
  ssize_t n = -1;
  double end = now_ms() + 2000;
  while ((n = gh_recv(a, buf, sizeof buf)) < 0 && errno == EAGAIN && now_ms() < end) gh_yield();
  CHECK_EQ(n, 1); /* short: the socket is drained */
  CHECK_EQ(gh_recv(a, buf, sizeof buf), -1);
  CHECK_EQ(errno, EAGAIN);
  CHECK_EQ(gh_send(b, "yz", 2), 2);
  end = now_ms() + 2000;
  while ((n = gh_recv(a, buf, sizeof buf)) < 0 && errno == EAGAIN && now_ms() < end) gh_yield();
  CHECKF(n == 2, "non-blocking reads never saw the new data (last %zd, errno %s)", n,
         th_errname(errno));
  gh_close(a);
  gh_close(b);
}

/* Data and the peer's FIN both arrive, and the hub sees their event, before the first read.
 * The read is short, yet the next must return end of stream at once: the FIN stays and no
 * further event will come, so the socket must not be taken for drained. */
TEST(end_of_stream_after_a_short_read_is_seen) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  int paired = make_pair(&a, &b);
  gh_deadline_pop();
  if (paired != 0) return;
  CHECK_EQ(gh_send(b, "abc", 3), 3);
  CHECK_EQ(gh_shutdown(b, SHUT_WR), 0);
  CHECK_EQ(gh_sleep(20), 0); /* the hub polls: the event comes while nobody waits */
  char buf[16];
  gh_deadline_push(2000);
  CHECK_EQ(gh_recv(a, buf, sizeof buf), 3);
  ssize_t n = gh_recv(a, buf, sizeof buf);
  gh_deadline_pop();
  CHECKF(n == 0, "the read after a short one returned %zd (errno %s), want 0 (end of stream)", n,
         th_errname(errno));
  gh_close(a);
  gh_close(b);
}

/* A read whose answer needs no system call must not wait because the socket was drained: the
 * whole request, body included, came in one short read, so the body's end is known without
 * I/O. Its read used to wait for an event that never came (the client waits for the answer). */
TEST(http_body_end_after_a_drained_read_returns_at_once) {
  gh_sock c, s;
  gh_deadline_push(ROOT_DEADLINE_MS);
  int paired = make_pair(&c, &s);
  gh_deadline_pop();
  if (paired != 0) return;
  gh_http conn = gh_http_new(s, NULL);
  REQUIRE(conn > 0);
  const char *req = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  CHECK_EQ(gh_sendall(c, req, strlen(req)), 0);
  static union {
    char bytes[GH_HTTP_REQUEST_BUF];
    uint64_t align;
  } mem;
  gh_http_request r;
  CHECK_EQ(gh_http_read_request(conn, mem.bytes, sizeof mem.bytes, &r, 2000) > 0, 1);
  char body[16];
  CHECK_EQ(gh_http_read_body(conn, body, sizeof body, 1000), 3);
  ssize_t n = gh_http_read_body(conn, body, sizeof body, 1000);
  CHECKF(n == 0, "the read at the body's end returned %zd (errno %s), want 0", n,
         th_errname(errno));
  gh_http_free(conn);
  gh_close(c);
  gh_close(s);
}
