/* greenhub C API tests: UDP sockets. Datagrams between two green threads keep their bounds
 * and senders; a receive waits (green) and times out; bad handles and addresses fail cleanly;
 * closing a socket a thread waits to receive on wakes it with EBADF; a UDP socket made with
 * socket(2) can be adopted. */
#include "harness.h"
#include "support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static uint16_t port_of(gh_sock s) {
  gh_addr a;
  if (gh_local_addr(s, &a) != 0) return 0;
  return a.port;
}

static gh_addr local_addr(uint16_t port) {
  gh_addr a;
  memset(&a, 0, sizeof a);
  a.family = AF_INET;
  a.port = port;
  strcpy(a.host, "127.0.0.1");
  return a;
}

struct echo {
  gh_sock s;
  int n, rc;
};

/* Sends every datagram back to its sender, n times. */
static int udp_echo_body(void *arg) {
  struct echo *e = arg;
  char buf[2048];
  for (int i = 0; i < e->n; i++) {
    gh_addr from;
    ssize_t n = gh_recvfrom(e->s, buf, sizeof buf, &from);
    if (n < 0 || gh_sendto(e->s, buf, (size_t)n, &from) != n) {
      e->rc = -1;
      return 1;
    }
  }
  e->rc = 0;
  return 0;
}

TEST(udp_between_green_threads) {
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sock server = gh_udp_bind("127.0.0.1", 0);
  gh_sock client = gh_udp_bind("127.0.0.1", 0);
  REQUIRE(server > 0 && client > 0);
  uint16_t sport = port_of(server), cport = port_of(client);
  CHECK(sport != 0 && cport != 0);
  struct echo e = {server, 3, -2};
  gh_thread t = gh_spawn(udp_echo_body, &e);
  REQUIRE(t > 0);
  gh_addr to = local_addr(sport);
  const char *msgs[3] = {"one", "", "three, the longest datagram"};
  for (int i = 0; i < 3; i++) {
    size_t len = strlen(msgs[i]);
    CHECK_EQ(gh_sendto(client, msgs[i], len, &to), (ssize_t)len);
    char buf[64];
    gh_addr from;
    memset(&from, 0x55, sizeof from);
    ssize_t n = gh_recvfrom(client, buf, sizeof buf, &from);
    CHECK_EQ(n, (ssize_t)len); /* one datagram per call, its bounds kept (the empty one too) */
    if (n >= 0) CHECK(memcmp(buf, msgs[i], len) == 0);
    CHECK_EQ(from.family, AF_INET);
    CHECK_EQ(from.port, sport);
    CHECK(strcmp(from.host, "127.0.0.1") == 0);
  }
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(e.rc, 0);
  /* A datagram longer than the buffer: the rest is discarded, the next one is whole. */
  CHECK_EQ(gh_sendto(client, "abcdef", 6, &to), 6);
  CHECK_EQ(gh_sendto(client, "xy", 2, &to), 2);
  char small[3];
  CHECK_EQ(gh_recvfrom(server, small, sizeof small, NULL), 3);
  CHECK(memcmp(small, "abc", 3) == 0);
  CHECK_EQ(gh_recvfrom(server, small, sizeof small, NULL), 2);
  CHECK(memcmp(small, "xy", 2) == 0);
  gh_close(server);
  gh_close(client);
  gh_deadline_pop();
}

TEST(udp_ipv6) {
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sock a = gh_udp_bind("::1", 0);
  if (a == -1 && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
    th_note("no IPv6 loopback here: skipped");
    gh_deadline_pop();
    return;
  }
  REQUIRE(a > 0);
  gh_sock b = gh_udp_bind("::1", 0);
  REQUIRE(b > 0);
  gh_addr to;
  memset(&to, 0, sizeof to);
  to.family = AF_INET6;
  to.port = port_of(a);
  strcpy(to.host, "::1");
  CHECK_EQ(gh_sendto(b, "v6", 2, &to), 2);
  char buf[8];
  gh_addr from;
  CHECK_EQ(gh_recvfrom(a, buf, sizeof buf, &from), 2);
  CHECK_EQ(from.family, AF_INET6);
  CHECK_EQ(from.port, port_of(b));
  CHECK(strcmp(from.host, "::1") == 0);
  gh_close(a);
  gh_close(b);
  gh_deadline_pop();
}

TEST(udp_timeouts) {
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sock s = gh_udp_bind(NULL, 0);
  REQUIRE(s > 0);
  char buf[16];
  CHECK_EQ(gh_settimeout(s, 0), 0);
  CHECK_ERR(gh_recvfrom(s, buf, sizeof buf, NULL), EAGAIN);
  CHECK_EQ(gh_settimeout(s, 50), 0);
  double t0 = now_ms();
  CHECK_ERR(gh_recvfrom(s, buf, sizeof buf, NULL), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECKF(el >= 40 && el < 2000, "a 50 ms receive timeout took %.0f ms", el);
  CHECK_EQ(gh_settimeout(s, -1), 0);
  gh_deadline_push(30);
  CHECK_ERR(gh_recvfrom(s, buf, sizeof buf, NULL), ETIMEDOUT); /* the thread's deadline */
  gh_deadline_pop();
  gh_close(s);
  gh_deadline_pop();
}

TEST(udp_bad_arguments) {
  gh_deadline_push(ROOT_DEADLINE_MS);
  char buf[8];
  gh_addr to = local_addr(9);
  CHECK_ERR(gh_sendto(-1, "x", 1, &to), EBADF);
  CHECK_ERR(gh_sendto(12345, "x", 1, &to), EBADF);
  CHECK_ERR(gh_recvfrom(12345, buf, sizeof buf, NULL), EBADF);
  gh_sock s = gh_udp_bind("127.0.0.1", 0);
  REQUIRE(s > 0);
  CHECK_ERR(gh_sendto(s, NULL, 1, &to), EINVAL);
  CHECK_ERR(gh_recvfrom(s, NULL, 1, NULL), EINVAL);
  gh_addr bad = local_addr(9);
  strcpy(bad.host, "localhost"); /* not numeric */
  CHECK_ERR(gh_sendto(s, "x", 1, &bad), EINVAL);
  bad = local_addr(9);
  bad.family = AF_INET6; /* family and host disagree */
  CHECK_ERR(gh_sendto(s, "x", 1, &bad), EINVAL);
  bad = local_addr(9);
  memset(bad.host, 'a', sizeof bad.host); /* no NUL */
  CHECK_ERR(gh_sendto(s, "x", 1, &bad), EINVAL);
  CHECK_ERR(gh_sendto(s, "x", 1, NULL), EDESTADDRREQ); /* not connected */
  CHECK_ERR(gh_udp_bind("no-such-host.invalid", 0), ENXIO);
  gh_close(s);
  CHECK_ERR(gh_recvfrom(s, buf, sizeof buf, NULL), EBADF); /* closed: stale handle */
  gh_deadline_pop();
}

struct receiver {
  gh_sock s;
  ssize_t rc;
  int err;
};

static int receiver_body(void *arg) {
  struct receiver *r = arg;
  char buf[16];
  gh_deadline_push(5000);
  errno = 0;
  r->rc = gh_recvfrom(r->s, buf, sizeof buf, NULL);
  r->err = errno;
  gh_deadline_pop();
  return 0;
}

TEST(udp_close_while_receiving) {
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sock s = gh_udp_bind("127.0.0.1", 0);
  REQUIRE(s > 0);
  struct receiver r = {s, -2, 0};
  gh_thread t = gh_spawn(receiver_body, &r);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(20), 0);
  CHECK_EQ(r.rc, -2); /* still waiting */
  double t0 = now_ms();
  CHECK_EQ(gh_close(s), 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(now_ms() - t0 < 500, "the receiver took %.0f ms to wake", now_ms() - t0);
  CHECKF(r.rc == -1 && r.err == EBADF, "receive on a closed socket: %zd errno=%s", r.rc,
         th_errname(r.err));
  gh_deadline_pop();
}

TEST(udp_adopted_and_connected) {
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sock server = gh_udp_bind("127.0.0.1", 0);
  REQUIRE(server > 0);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port_of(server));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_EQ(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
  gh_sock c = gh_adopt(fd); /* a datagram socket: adopted like a stream one */
  REQUIRE(c > 0);
  CHECK_EQ(gh_send(c, "hello", 5), 5);
  char buf[16];
  gh_addr from;
  CHECK_EQ(gh_recvfrom(server, buf, sizeof buf, &from), 5);
  CHECK_EQ(gh_sendto(server, "back", 4, &from), 4);
  CHECK_EQ(gh_recv(c, buf, sizeof buf), 4);
  CHECK(memcmp(buf, "back", 4) == 0);
  CHECK_EQ(gh_sendto(c, "via-to-null", 11, NULL), 11); /* NULL: the connected peer */
  CHECK_EQ(gh_recvfrom(server, buf, sizeof buf, NULL), 11);
  gh_close(c);
  gh_close(server);
  int pipefd[2];
  REQUIRE(pipe(pipefd) == 0);
  CHECK_ERR(gh_adopt(pipefd[0]), ENOTSOCK); /* not a socket: refused, left open */
  CHECK_EQ(close(pipefd[0]), 0);
  close(pipefd[1]);
  gh_deadline_pop();
}
