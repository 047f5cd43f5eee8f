/* greenhub C API tests: green TCP sockets (127.0.0.1 / ::1, port 0 only). */
#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROOT_DEADLINE_MS 10000

/* Compares what a read returned with the expected bytes. */
static void expect_read_at(const char *file, int line, ssize_t got, const char *buf,
                           const char *want) {
  size_t wl = strlen(want);
  if (got < 0) {
    th_fail(file, line, errno, "read failed (want \"%s\")", want);
  } else if ((size_t)got != wl || memcmp(buf, want, wl) != 0) {
    char shown[128];
    size_t n = got > 0 ? (size_t)got : 0;
    if (n > sizeof shown - 1) n = sizeof shown - 1;
    for (size_t i = 0; i < n; i++) shown[i] = (buf[i] >= 32 && buf[i] < 127) ? buf[i] : '.';
    shown[n] = '\0';
    th_fail(file, line, -1, "read returned %zd \"%s\", want %zu \"%s\" ('.' = control char)", got,
            shown, wl, want);
  }
}
#define EXPECT_READ(got, buf, want) expect_read_at(__FILE__, __LINE__, (got), (buf), (want))

/* A sender thread: sends each chunk (gh_sendall) with a pause in between, then closes. */
struct script {
  gh_sock s;
  const char *chunks[8];
  int delay_ms;
  int rc;
  int err;
};

static int script_sender(void *arg) {
  struct script *sc = arg;
  for (int i = 0; i < 8 && sc->chunks[i]; i++) {
    if (i > 0) gh_sleep(sc->delay_ms);
    if (gh_sendall(sc->s, sc->chunks[i], strlen(sc->chunks[i])) != 0) {
      sc->rc = -1;
      sc->err = errno;
      return 1;
    }
  }
  gh_close(sc->s);
  return 0;
}

static int return_zero(void *arg) {
  (void)arg;
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* listen / addresses                                                                         */

static void test_listen_local_addr(void) {
  gh_sock l = gh_listen("127.0.0.1", 0, 16);
  REQUIRE(l > 0);
  gh_addr a;
  memset(&a, 0x5a, sizeof a);
  CHECK_EQ(gh_local_addr(l, &a), 0);
  CHECK_EQ(a.family, AF_INET);
  CHECK(a.port > 0);
  CHECKF(memchr(a.host, '\0', sizeof a.host) != NULL, "gh_addr.host is not NUL-terminated");
  a.host[sizeof a.host - 1] = '\0';
  CHECKF(strcmp(a.host, "127.0.0.1") == 0, "host \"%s\", want \"127.0.0.1\"", a.host);
  /* The port agrees with the kernel's view of the descriptor. */
  int fd = gh_fileno(l);
  CHECK(fd >= 0);
  struct sockaddr_in sin;
  socklen_t sl = sizeof sin;
  if (fd >= 0 && getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
    CHECK_EQ(ntohs(sin.sin_port), a.port);
  /* A listener has no peer. */
  gh_addr p;
  memset(&p, 0x33, sizeof p);
  gh_addr p0 = p;
  CHECK_ERR(gh_peer_addr(l, &p), ENOTCONN);
  CHECKF(memcmp(&p, &p0, sizeof p) == 0, "gh_peer_addr wrote its output while failing");
  CHECK_EQ(gh_close(l), 0);
}

static void test_listen_all_ipv4(void) {
  const char *hosts[] = {NULL, ""};
  for (int i = 0; i < 2; i++) {
    gh_sock l = gh_listen(hosts[i], 0, 16);
    CHECKF(l > 0, "gh_listen(%s, 0) failed", hosts[i] ? "\"\"" : "NULL");
    if (l <= 0) continue;
    gh_addr a;
    memset(&a, 0, sizeof a);
    CHECK_EQ(gh_local_addr(l, &a), 0);
    CHECK_EQ(a.family, AF_INET);
    CHECKF(strcmp(a.host, "0.0.0.0") == 0, "gh_listen(%s): host \"%s\", want \"0.0.0.0\"",
           hosts[i] ? "\"\"" : "NULL", a.host);
    gh_deadline_push(ROOT_DEADLINE_MS);
    gh_sock c = gh_connect("127.0.0.1", a.port);
    CHECK(c > 0);
    gh_sock s = gh_accept(l, NULL);
    CHECK(s > 0);
    gh_deadline_pop();
    gh_close(c);
    gh_close(s);
    gh_close(l);
  }
}

static void test_listen_ipv6(void) {
  errno = 0;
  gh_sock l = gh_listen("::1", 0, 16);
  if (l < 0 && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
    th_note("IPv6 loopback unavailable (%s); IPv6 not tested", th_errname(errno));
    return;
  }
  REQUIRE(l > 0);
  gh_addr a;
  memset(&a, 0, sizeof a);
  CHECK_EQ(gh_local_addr(l, &a), 0);
  CHECK_EQ(a.family, AF_INET6);
  CHECK(a.port > 0);
  CHECKF(strcmp(a.host, "::1") == 0, "host \"%s\", want \"::1\"", a.host);
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sock c = gh_connect("::1", a.port);
  CHECK(c > 0);
  gh_addr peer;
  memset(&peer, 0, sizeof peer);
  gh_sock s = gh_accept(l, &peer);
  CHECK(s > 0);
  CHECK_EQ(peer.family, AF_INET6);
  CHECKF(strcmp(peer.host, "::1") == 0, "peer host \"%s\"", peer.host);
  if (c > 0 && s > 0) {
    char buf[8];
    CHECK_EQ(gh_sendall(c, "six", 3), 0);
    CHECK_EQ(recv_exact(s, buf, 3), 3);
    CHECK(memcmp(buf, "six", 3) == 0);
  }
  gh_deadline_pop();
  gh_close(c);
  gh_close(s);
  gh_close(l);

  /* "::" = all IPv6 addresses. */
  gh_sock any = gh_listen("::", 0, 4);
  CHECK(any > 0);
  if (any > 0) {
    memset(&a, 0, sizeof a);
    CHECK_EQ(gh_local_addr(any, &a), 0);
    CHECK_EQ(a.family, AF_INET6);
    CHECKF(strcmp(a.host, "::") == 0, "gh_listen(\"::\"): host \"%s\"", a.host);
    gh_close(any);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* connect / accept / data                                                                    */

struct client_info {
  uint16_t port;
  gh_addr local;
  gh_addr peer;
  char reply[8];
  int rc;
};

static int client_body(void *arg) {
  struct client_info *ci = arg;
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sock c = gh_connect("127.0.0.1", ci->port);
  if (c <= 0) {
    ci->rc = 1;
    return 1;
  }
  if (gh_local_addr(c, &ci->local) != 0) ci->rc = 2;
  if (gh_peer_addr(c, &ci->peer) != 0) ci->rc = 3;
  if (gh_sendall(c, "hello", 5) != 0) ci->rc = 4;
  if (recv_exact(c, ci->reply, 5) != 5) ci->rc = 5;
  gh_close(c);
  gh_deadline_pop();
  return ci->rc;
}

static void test_connect_accept_peer_addr(void) {
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  struct client_info ci;
  memset(&ci, 0, sizeof ci);
  ci.port = port;
  gh_thread t = gh_spawn(client_body, &ci);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_addr peer;
  memset(&peer, 0, sizeof peer);
  gh_sock s = gh_accept(l, &peer);
  REQUIRE(s > 0);
  char buf[8];
  CHECK_EQ(recv_exact(s, buf, 5), 5);
  CHECK(memcmp(buf, "hello", 5) == 0);
  CHECK_EQ(gh_sendall(s, "world", 5), 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(st == 0, "client thread failed at step %d", st);
  CHECK(memcmp(ci.reply, "world", 5) == 0);
  /* The accepted peer is the client's local address. */
  CHECK_EQ(peer.family, AF_INET);
  CHECK_EQ(peer.family, ci.local.family);
  CHECKF(peer.port == ci.local.port && strcmp(peer.host, ci.local.host) == 0,
         "accept peer %s:%u, client local %s:%u", peer.host, (unsigned)peer.port, ci.local.host,
         (unsigned)ci.local.port);
  gh_addr p2;
  memset(&p2, 0, sizeof p2);
  CHECK_EQ(gh_peer_addr(s, &p2), 0);
  CHECK(p2.port == peer.port && strcmp(p2.host, peer.host) == 0);
  CHECK_EQ(ci.peer.port, port);
  CHECKF(strcmp(ci.peer.host, "127.0.0.1") == 0, "client's peer host \"%s\"", ci.peer.host);
  /* The client closed: EOF. */
  CHECK_EQ(gh_recv(s, buf, sizeof buf), 0);
  gh_deadline_pop();
  CHECK_EQ(gh_close(s), 0);
  CHECK_EQ(gh_close(l), 0);
}

static void test_send_recv_roundtrip(void) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  char buf[1024];
  CHECK_EQ(gh_send(a, "ping", 4), 4);
  CHECK_EQ(recv_exact(b, buf, 4), 4);
  CHECK(memcmp(buf, "ping", 4) == 0);
  CHECK_EQ(gh_send(b, "pong!", 5), 5);
  CHECK_EQ(recv_exact(a, buf, 5), 5);
  CHECK(memcmp(buf, "pong!", 5) == 0);
  CHECK_EQ(gh_send(a, buf, 0), 0);
  char big[1000];
  for (int i = 0; i < 1000; i++) big[i] = (char)(i * 7);
  CHECK_EQ(gh_sendall(a, big, sizeof big), 0);
  CHECK_EQ(recv_exact(b, buf, 1000), 1000);
  CHECK(memcmp(buf, big, 1000) == 0);
  /* recv returns what is there; it does not wait to fill the buffer. */
  CHECK_EQ(gh_send(a, "xyz", 3), 3);
  ssize_t n = 0;
  for (int tries = 0; tries < 3 && n < 3; tries++) {
    ssize_t r = gh_recv(b, buf + n, sizeof buf - (size_t)n);
    if (r <= 0) break;
    n += r;
  }
  CHECK_EQ(n, 3);
  gh_deadline_pop();
  CHECK_EQ(gh_close(a), 0);
  CHECK_EQ(gh_close(b), 0);
}

static void test_recv_eof_after_close(void) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  CHECK_EQ(gh_send(b, "x", 1), 1);
  CHECK_EQ(gh_close(b), 0);
  char buf[16];
  ssize_t n = gh_recv(a, buf, sizeof buf);
  EXPECT_READ(n, buf, "x");
  CHECK_EQ(gh_recv(a, buf, sizeof buf), 0);
  CHECK_EQ(gh_recv(a, buf, sizeof buf), 0);
  CHECK_EQ(gh_readline(a, buf, sizeof buf), 0);
  CHECK_EQ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), 0);
  gh_deadline_pop();
  CHECK_EQ(gh_close(a), 0);
}

struct slow_reader {
  gh_sock s;
  const unsigned char *expect;
  size_t size;
  size_t total;
  size_t mismatches;
  size_t first_mismatch;
  int err;
};

static int slow_reader_body(void *arg) {
  struct slow_reader *r = arg;
  gh_deadline_push(30000);
  unsigned char buf[8192];
  int reads = 0;
  for (;;) {
    ssize_t n = gh_recv(r->s, buf, sizeof buf);
    if (n < 0) {
      r->err = errno;
      break;
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; i++) {
      size_t off = r->total + (size_t)i;
      if (off >= r->size || buf[i] != r->expect[off]) {
        if (r->mismatches++ == 0) r->first_mismatch = off;
      }
    }
    r->total += (size_t)n;
    if (++reads % 16 == 0) gh_sleep(1);
  }
  gh_deadline_pop();
  return 0;
}

static void test_sendall_8mib_slow_reader(void) {
  const size_t size = 8u << 20;
  unsigned char *data = malloc(size);
  REQUIRE(data != NULL);
  uint32_t x = 12345;
  for (size_t i = 0; i < size; i++) {
    x = x * 1103515245u + 12345u;
    data[i] = (unsigned char)(x >> 16);
  }
  gh_sock a, b;
  gh_deadline_push(30000);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    free(data);
    return;
  }
  struct slow_reader r;
  memset(&r, 0, sizeof r);
  r.s = b;
  r.expect = data;
  r.size = size;
  gh_thread t = gh_spawn(slow_reader_body, &r);
  REQUIRE(t > 0);
  double t0 = now_ms();
  CHECK_EQ(gh_sendall(a, data, size), 0);
  CHECK_EQ(gh_close(a), 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  CHECKF(r.err == 0, "reader's gh_recv failed: %s", th_errname(r.err));
  CHECKF(r.total == size, "reader got %zu bytes, want %zu", r.total, size);
  CHECKF(r.mismatches == 0, "%zu corrupted bytes, first at offset %zu", r.mismatches,
         r.first_mismatch);
  th_note("8 MiB sent and received in %.0f ms", now_ms() - t0);
  gh_close(b);
  free(data);
}

/* ------------------------------------------------------------------------------------------ */
/* readline / read_until                                                                      */

static void test_readline_split_sends(void) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  struct script sc = {b, {"hel", "lo\nwor", "ld\nlast", NULL}, 10, 0, 0};
  gh_thread t = gh_spawn(script_sender, &sc);
  REQUIRE(t > 0);
  char buf[64];
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "hello\n");
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "world\n");
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "last");
  CHECK_EQ(gh_readline(a, buf, sizeof buf), 0);
  CHECK_EQ(gh_readline(a, buf, sizeof buf), 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(sc.rc, 0);
  gh_deadline_pop();
  gh_close(a);
}

static void test_readline_max_pieces(void) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  struct script sc = {b, {"abcdefghij\nabc\nab", "cd\nXY", NULL}, 10, 0, 0};
  gh_thread t = gh_spawn(script_sender, &sc);
  REQUIRE(t > 0);
  char buf[16];
  memset(buf, 0, sizeof buf);
  const char *want[] = {"abcd", "efgh", "ij\n", "abc\n", "abcd", "\n", "XY"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    memset(buf, '#', sizeof buf);
    ssize_t n = gh_readline(a, buf, 4);
    EXPECT_READ(n, buf, want[i]);
    CHECKF(buf[4] == '#', "gh_readline(max 4) wrote a 5th byte");
  }
  CHECK_EQ(gh_readline(a, buf, 4), 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  gh_close(a);
}

static void test_read_until_crlf(void) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  struct script sc = {
      b, {"GET / HTTP/1.1\r", "\nHost: x\r\n\r\nx\r\r\ny\r\n0123456789\r\nEND", NULL}, 10, 0, 0};
  gh_thread t = gh_spawn(script_sender, &sc);
  REQUIRE(t > 0);
  char buf[64];
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "GET / HTTP/1.1\r\n");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "Host: x\r\n");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "\r\n");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "x\r\r\n");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "y\r\n");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, 4), buf, "0123");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, 4), buf, "4567");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, 4), buf, "89\r\n");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "END");
  CHECK_EQ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_close(a);

  /* A delimiter whose prefix repeats: "aab" in "xaaabyy". */
  if (make_pair(&a, &b) == 0) {
    struct script sc2 = {b, {"xaa", "abyy", NULL}, 5, 0, 0};
    t = gh_spawn(script_sender, &sc2);
    REQUIRE(t > 0);
    EXPECT_READ(gh_read_until(a, "aab", 3, buf, sizeof buf), buf, "xaaab");
    EXPECT_READ(gh_read_until(a, "aab", 3, buf, sizeof buf), buf, "yy");
    CHECK_EQ(gh_read_until(a, "aab", 3, buf, sizeof buf), 0);
    CHECK_EQ(gh_join(t, &st), 0);
    gh_close(a);
  }
  gh_deadline_pop();
}

static void test_recv_after_readline_buffered(void) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  struct script sc = {b, {"line1\nAB", "CD\nline3\nZ", NULL}, 30, 0, 0};
  gh_thread t = gh_spawn(script_sender, &sc);
  REQUIRE(t > 0);
  char buf[64];
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "line1\n");
  /* "AB" is already buffered: recv returns it now, without waiting for more. */
  double t0 = now_ms();
  ssize_t n = gh_recv(a, buf, sizeof buf);
  EXPECT_READ(n, buf, "AB");
  CHECKF(now_ms() - t0 < 25, "recv of buffered data waited %.1f ms", now_ms() - t0);
  EXPECT_READ(gh_read_until(a, "\n", 1, buf, sizeof buf), buf, "CD\n");
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "line3\n");
  n = gh_recv(a, buf, sizeof buf);
  EXPECT_READ(n, buf, "Z");
  CHECK_EQ(gh_recv(a, buf, sizeof buf), 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  gh_close(a);
}

/* Fills the socket's send path with non-blocking sends until it stays full: some kernels
 * (gVisor's netstack, for one) move loopback data to the peer asynchronously, so a first
 * EAGAIN can be followed by free space a moment later. Returns the bytes sent; *last_err is
 * the errno of the last failed send (EAGAIN expected). Leaves the timeout at 0. */
static long long fill_until_full(gh_sock s, int *last_err) {
  static char chunk[65536];
  memset(chunk, 'q', sizeof chunk);
  gh_settimeout(s, 0);
  long long total = 0;
  *last_err = 0;
  for (int round = 0; round < 200; round++) {
    long long this_round = 0;
    for (int i = 0; i < 20000; i++) {
      errno = 0;
      ssize_t r = gh_send(s, chunk, sizeof chunk);
      if (r < 0) {
        *last_err = errno;
        break;
      }
      this_round += r;
    }
    total += this_round;
    if (*last_err != EAGAIN || (round > 0 && this_round == 0)) break;
    gh_sleep(30);
  }
  return total;
}

static void test_readline_timeout_keeps_partial(void) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  char buf[64];
  CHECK_EQ(gh_sendall(b, "abc", 3), 0);
  CHECK_EQ(gh_settimeout(a, 30), 0);
  CHECK_ERR(gh_readline(a, buf, sizeof buf), ETIMEDOUT);
  CHECK_EQ(gh_sendall(b, "def\nxy\r", 7), 0);
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "abcdef\n");
  CHECK_ERR(gh_read_until(a, "\r\n", 2, buf, sizeof buf), ETIMEDOUT);
  CHECK_EQ(gh_deadline_push(20), 0);
  CHECK_ERR(gh_read_until(a, "\r\n", 2, buf, sizeof buf), ETIMEDOUT);
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECK_EQ(gh_sendall(b, "\nz\r\n", 4), 0);
  /* The "\r" received before the timeouts and the "\n" after them form one delimiter. */
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "xy\r\n");
  EXPECT_READ(gh_read_until(a, "\r\n", 2, buf, sizeof buf), buf, "z\r\n");
  /* A small recv takes from the buffered data without losing the rest. */
  CHECK_EQ(gh_sendall(b, "L\nABCDEFGH", 10), 0);
  CHECK_EQ(gh_settimeout(a, 1000), 0);
  EXPECT_READ(gh_readline(a, buf, sizeof buf), buf, "L\n");
  EXPECT_READ(gh_recv(a, buf, 3), buf, "ABC");
  EXPECT_READ(gh_recv(a, buf, sizeof buf), buf, "DEFGH");
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

struct bulk_sender {
  gh_sock s;
  const char *data;
  size_t len;
  int rc, err;
};

static int bulk_sender_body(void *arg) {
  struct bulk_sender *bs = arg;
  gh_deadline_push(ROOT_DEADLINE_MS);
  errno = 0;
  bs->rc = gh_sendall(bs->s, bs->data, bs->len);
  bs->err = errno;
  gh_deadline_pop();
  return 0;
}

static void test_readline_long_line(void) {
  enum { LINE = 200 * 1024 };
  static char line[LINE + 16], got[LINE + 64 * 1024];
  for (int i = 0; i < LINE; i++) line[i] = (char)('a' + i % 26);
  line[LINE] = '\n';
  memcpy(line + LINE + 1, "tail\n", 5);
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  struct bulk_sender bs = {b, line, LINE + 6, -2, 0};
  gh_thread t = gh_spawn(bulk_sender_body, &bs);
  REQUIRE(t > 0);
  /* max larger than the line (and than 64 KiB): the whole line comes back at once. */
  ssize_t n = gh_readline(a, got, sizeof got);
  CHECKF(n == LINE + 1, "200 KiB line with max %zu: readline returned %zd", sizeof got, n);
  if (n == LINE + 1) CHECK(memcmp(got, line, LINE + 1) == 0);
  n = gh_readline(a, got, sizeof got);
  EXPECT_READ(n, got, "tail\n");
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(bs.rc, 0);
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

static void test_blocked_sender_close_and_kill(void) {
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

/* ------------------------------------------------------------------------------------------ */
/* timeouts                                                                                   */

static void test_settimeout_recv(void) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  int64_t ms = 12345;
  CHECK_EQ(gh_gettimeout(a, &ms), 0);
  CHECKF(ms == -1, "default timeout %lld, want -1 (none)", (long long)ms);
  CHECK_EQ(gh_settimeout(a, 50), 0);
  CHECK_EQ(gh_gettimeout(a, &ms), 0);
  CHECK_EQ(ms, 50);
  char buf[16];
  double t0 = now_ms();
  CHECK_ERR(gh_recv(a, buf, sizeof buf), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECKF(el >= 49 && el < 500, "50 ms socket timeout fired after %.1f ms", el);
  CHECK_ERR(gh_readline(a, buf, sizeof buf), ETIMEDOUT);

  CHECK_EQ(gh_settimeout(a, 0), 0);
  CHECK_EQ(gh_gettimeout(a, &ms), 0);
  CHECK_EQ(ms, 0);
  t0 = now_ms();
  CHECK_ERR(gh_recv(a, buf, sizeof buf), EAGAIN);
  el = now_ms() - t0;
  CHECKF(el < 20, "non-blocking recv took %.1f ms", el);

  CHECK_EQ(gh_settimeout(a, -5), 0);
  CHECK_EQ(gh_gettimeout(a, &ms), 0);
  CHECKF(ms == -1, "after gh_settimeout(s, -5): gettimeout %lld, want -1 (none)", (long long)ms);
  /* The socket still works after timeouts. */
  CHECK_EQ(gh_send(b, "ok", 2), 2);
  CHECK_EQ(recv_exact(a, buf, 2), 2);
  CHECK(memcmp(buf, "ok", 2) == 0);
  /* The timeout is per socket. */
  CHECK_EQ(gh_settimeout(a, 40), 0);
  CHECK_EQ(gh_gettimeout(b, &ms), 0);
  CHECK_EQ(ms, -1);
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

static void test_settimeout_send(void) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  static char chunk[65536];
  memset(chunk, 'q', sizeof chunk);
  int e = 0;
  long long total = fill_until_full(a, &e);
  CHECKF(e == EAGAIN, "non-blocking send to a full socket: errno=%s after %lld bytes, want "
         "EAGAIN", th_errname(e), total);
  CHECK(total > 0);
  CHECK_EQ(gh_settimeout(a, 50), 0);
  double t0 = now_ms();
  CHECK_ERR(gh_send(a, chunk, sizeof chunk), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECKF(el >= 49 && el < 500, "send with a 50 ms timeout failed after %.1f ms", el);
  fill_until_full(a, &e);
  CHECK_EQ(gh_settimeout(a, 50), 0);
  t0 = now_ms();
  CHECK_ERR(gh_sendall(a, chunk, sizeof chunk), ETIMEDOUT);
  el = now_ms() - t0;
  CHECKF(el >= 49 && el < 500, "sendall with a 50 ms timeout failed after %.1f ms", el);
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

static void test_deadline_recv_accept(void) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  char buf[8];
  CHECK_EQ(gh_deadline_push(30), 0);
  double t0 = now_ms();
  CHECK_ERR(gh_recv(a, buf, sizeof buf), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(el >= 29 && el < 500, "gh_recv under a 30 ms deadline returned after %.1f ms", el);

  /* The earlier of deadline and socket timeout applies, both ways. */
  CHECK_EQ(gh_settimeout(a, 2000), 0);
  CHECK_EQ(gh_deadline_push(30), 0);
  t0 = now_ms();
  CHECK_ERR(gh_recv(a, buf, sizeof buf), ETIMEDOUT);
  el = now_ms() - t0;
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(el < 500, "deadline 30 ms with socket timeout 2000: %.1f ms", el);
  CHECK_EQ(gh_settimeout(a, 30), 0);
  CHECK_EQ(gh_deadline_push(2000), 0);
  t0 = now_ms();
  CHECK_ERR(gh_recv(a, buf, sizeof buf), ETIMEDOUT);
  el = now_ms() - t0;
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(el < 500, "socket timeout 30 ms with deadline 2000: %.1f ms", el);

  uint16_t port;
  gh_sock l = listen_local(&port);
  if (l > 0) {
    CHECK_EQ(gh_deadline_push(30), 0);
    t0 = now_ms();
    gh_addr peer;
    memset(&peer, 0x77, sizeof peer);
    gh_addr peer0 = peer;
    CHECK_ERR(gh_accept(l, &peer), ETIMEDOUT);
    el = now_ms() - t0;
    CHECK_EQ(gh_deadline_pop(), 0);
    CHECKF(el >= 29 && el < 500, "gh_accept under a 30 ms deadline returned after %.1f ms", el);
    CHECKF(memcmp(&peer, &peer0, sizeof peer) == 0, "gh_accept wrote peer while failing");
    gh_close(l);
  }
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

/* ------------------------------------------------------------------------------------------ */
/* sendfile, shutdown, options, fileno                                                        */

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

static void test_sendfile_tmpfile(void) {
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

static void test_shutdown_wr(void) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  CHECK_EQ(gh_send(a, "last", 4), 4);
  CHECK_EQ(gh_shutdown(a, SHUT_WR), 0);
  char buf[16];
  CHECK_EQ(recv_exact(b, buf, 4), 4);
  CHECKF(gh_recv(b, buf, sizeof buf) == 0, "peer did not see EOF after gh_shutdown(SHUT_WR)");
  /* The other direction still works. */
  CHECK_EQ(gh_sendall(b, "back", 4), 0);
  CHECK_EQ(recv_exact(a, buf, 4), 4);
  CHECK(memcmp(buf, "back", 4) == 0);
  CHECK_ERR(gh_send(a, "x", 1), EPIPE);
  CHECK_ERR(gh_shutdown(a, 99), EINVAL);
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

static void test_sockopt_nodelay(void) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  gh_deadline_pop();
  int one = 1, zero = 0, v = -1;
  size_t len = sizeof v;
  CHECK_EQ(gh_setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  CHECK_EQ(gh_getsockopt(a, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  CHECKF(v != 0, "TCP_NODELAY reads back %d after setting 1", v);
  CHECK_EQ(len, sizeof(int));
  CHECK_EQ(gh_setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &zero, sizeof zero), 0);
  v = -1;
  len = 16; /* larger than needed: shrinks to the option's size */
  CHECK_EQ(gh_getsockopt(a, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  CHECK_EQ(v, 0);
  CHECK_EQ(len, sizeof(int));
  /* A failing getsockopt leaves its outputs alone. */
  v = 4242;
  len = sizeof v;
  errno = 0;
  CHECKF(gh_getsockopt(a, SOL_SOCKET, 12345, &v, &len) == -1, "unknown option did not fail");
  CHECKF(errno == ENOPROTOOPT, "unknown option: errno=%s, want ENOPROTOOPT", th_errname(errno));
  CHECK_EQ(v, 4242);
  CHECK_EQ(len, sizeof v);
  CHECK_ERR(gh_setsockopt(a, SOL_SOCKET, 12345, &one, sizeof one), ENOPROTOOPT);
  /* And through the descriptor, the kernel agrees. */
  CHECK_EQ(gh_setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  int fd = gh_fileno(a);
  int kv = 0;
  socklen_t kl = sizeof kv;
  if (fd >= 0 && getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &kv, &kl) == 0) CHECK(kv != 0);
  gh_close(a);
  gh_close(b);
}

static void test_fileno_valid(void) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  gh_deadline_pop();
  int fa = gh_fileno(a), fb = gh_fileno(b);
  CHECK(fa >= 0);
  CHECK(fb >= 0);
  CHECK(fa != fb);
  CHECK_EQ(gh_fileno(a), fa);
  struct stat stt;
  if (fa >= 0) {
    CHECK(fstat(fa, &stt) == 0 && S_ISSOCK(stt.st_mode));
    gh_addr la;
    memset(&la, 0, sizeof la);
    CHECK_EQ(gh_local_addr(a, &la), 0);
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    CHECK(getsockname(fa, (struct sockaddr *)&sin, &sl) == 0);
    CHECK_EQ(ntohs(sin.sin_port), la.port);
    int fl = fcntl(fa, F_GETFL);
    th_note("fd flags: O_NONBLOCK %s", (fl >= 0 && (fl & O_NONBLOCK)) ? "set" : "clear");
  }
  gh_close(a);
  gh_close(b);
}

/* ------------------------------------------------------------------------------------------ */
/* connect errors and names                                                                   */

static void test_connect_refused(void) {
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  CHECK_EQ(gh_close(l), 0);
  gh_deadline_push(5000);
  double t0 = now_ms();
  CHECK_ERR(gh_connect("127.0.0.1", port), ECONNREFUSED);
  gh_deadline_pop();
  CHECKF(now_ms() - t0 < 2000, "refused connect took %.1f ms", now_ms() - t0);
}

static void test_connect_localhost(void) {
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  gh_deadline_push(5000);
  errno = 0;
  gh_sock c = gh_connect("localhost", port);
  int e = errno;
  CHECKF(c > 0, "gh_connect(\"localhost\", %u) failed: errno=%s (the listener is on 127.0.0.1; "
         "every resolved address should be tried)", (unsigned)port, th_errname(e));
  if (c > 0) {
    gh_sock s = gh_accept(l, NULL);
    CHECK(s > 0);
    char buf[4];
    CHECK_EQ(gh_sendall(c, "lh", 2), 0);
    CHECK_EQ(recv_exact(s, buf, 2), 2);
    gh_addr pa;
    memset(&pa, 0, sizeof pa);
    CHECK_EQ(gh_peer_addr(c, &pa), 0);
    CHECK_EQ(pa.port, port);
    gh_close(s);
    gh_close(c);
  }
  gh_deadline_pop();
  gh_close(l);

  /* gh_listen resolves names too. */
  gh_deadline_push(5000);
  errno = 0;
  gh_sock ll = gh_listen("localhost", 0, 4);
  int le = errno;
  gh_deadline_pop();
  CHECKF(ll > 0, "gh_listen(\"localhost\", 0) failed: errno=%s", th_errname(le));
  if (ll > 0) {
    gh_addr la;
    memset(&la, 0, sizeof la);
    CHECK_EQ(gh_local_addr(ll, &la), 0);
    CHECKF((la.family == AF_INET && strcmp(la.host, "127.0.0.1") == 0) ||
               (la.family == AF_INET6 && strcmp(la.host, "::1") == 0),
           "gh_listen(\"localhost\") bound %s (family %d)", la.host, la.family);
    gh_close(ll);
  }
}

static volatile int ticker_stop;
static int ticker_body(void *arg) {
  int *ticks = arg;
  while (!ticker_stop && gh_sleep(5) == 0) (*ticks)++;
  return 0;
}

static void test_connect_bad_host(void) {
  int ticks = 0;
  ticker_stop = 0;
  gh_thread tk = gh_spawn(ticker_body, &ticks);
  REQUIRE(tk > 0);
  CHECK_EQ(gh_deadline_push(5000), 0);
  double t0 = now_ms();
  errno = 0;
  gh_sock c = gh_connect("no-such-host.invalid", 1);
  int e = errno;
  double el = now_ms() - t0;
  CHECK_EQ(gh_deadline_pop(), 0);
  ticker_stop = 1;
  /* ENXIO: the name does not resolve (EAGAIN: the resolver could not ask a name server);
   * ETIMEDOUT: the resolver outlived the deadline. test_limits.c checks which one is right. */
  CHECKF(c == -1 && (e == ENXIO || e == EAGAIN || e == ETIMEDOUT),
         "gh_connect(\"no-such-host.invalid\"): got %lld errno=%s, want -1 ENXIO (or "
         "ETIMEDOUT at the deadline)", (long long)c, th_errname(e));
  CHECKF(el < 5500, "resolution failure took %.0f ms (deadline 5000)", el);
  th_note("no-such-host.invalid: errno=%s after %.0f ms; ticker ran %d times meanwhile",
          th_errname(e), el, ticks);
  if (el >= 200)
    CHECKF(ticks >= (int)(el / 5 / 4), "the hub stalled during name resolution: %d ticks of 5 ms "
           "in %.0f ms", ticks, el);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st;
  CHECK_EQ(gh_join(tk, &st), 0);
  gh_deadline_pop();
}

/* ------------------------------------------------------------------------------------------ */
/* handles                                                                                    */

static void test_closed_socket_ebadf(void) {
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

static void test_garbage_socket_handles(void) {
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

static void test_stale_socket_not_reused(void) {
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

static void test_handle_kinds_not_mixed(void) {
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
  ticker_stop = 0;
  for (int i = 0; i < 4; i++) t[i] = gh_spawn(ticker_body, &ticks[i]);
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

static void test_null_buffers_einval(void) {
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

static void test_listen_addrinuse(void) {
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  CHECK_ERR(gh_listen("127.0.0.1", port, 16), EADDRINUSE);
  /* The first listener is unaffected. */
  gh_deadline_push(ROOT_DEADLINE_MS);
  gh_sock c = gh_connect("127.0.0.1", port);
  CHECK(c > 0);
  gh_sock s = gh_accept(l, NULL);
  CHECK(s > 0);
  gh_deadline_pop();
  gh_close(c);
  gh_close(s);
  gh_close(l);
  /* An address that is not local (TEST-NET-1). */
  CHECK_ERR(gh_listen("192.0.2.1", 0, 4), EADDRNOTAVAIL);
}

/* ------------------------------------------------------------------------------------------ */
/* concurrent waiters: EBUSY, close and kill while waiting                                     */

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

static void test_ebusy_second_waiter(void) {
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

static void test_close_wakes_waiter(void) {
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

static void test_kill_thread_blocked_in_recv(void) {
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

/* ------------------------------------------------------------------------------------------ */
/* ownership                                                                                  */

static int send_hi_and_return(void *arg) {
  gh_sock s = *(gh_sock *)arg;
  return gh_sendall(s, "hi", 2) == 0 ? 0 : 1;
}

static void test_owned_sock_closed_on_return(void) {
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

static void test_killed_thread_sockets_closed(void) { check_owner_sockets_closed(0); }
static void test_exited_thread_sockets_closed(void) { check_owner_sockets_closed(1); }

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

static void test_sock_give(void) {
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

static void test_sock_give_root_and_detached(void) {
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

static void test_sock_give_dead_thread(void) {
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

static void test_send_to_closed_peer_no_sigpipe(void) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  CHECK_EQ(gh_close(b), 0);
  gh_sleep(10);
  char chunk[1024];
  memset(chunk, 'p', sizeof chunk);
  ssize_t r = 0;
  int e = 0;
  for (int i = 0; i < 200; i++) {
    errno = 0;
    r = gh_send(a, chunk, sizeof chunk);
    e = errno;
    if (r < 0) break;
    gh_sleep(1);
  }
  /* Reaching this line at all means no SIGPIPE killed the process. */
  CHECKF(r == -1 && (e == EPIPE || e == ECONNRESET),
         "send to a closed peer: %zd errno=%s, want EPIPE or ECONNRESET", r, th_errname(e));
  CHECK_ERR2(gh_sendall(a, chunk, sizeof chunk), EPIPE, ECONNRESET);
  gh_deadline_pop();
  gh_close(a);
}

/* ------------------------------------------------------------------------------------------ */
/* handles belong to their OS thread's hub                                                    */

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

static void test_handles_belong_to_os_thread(void) {
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

/* ------------------------------------------------------------------------------------------ */
/* accept when out of file descriptors                                                        */

static void test_accept_emfile_waits(void) {
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

/* ------------------------------------------------------------------------------------------ */
/* a server with many clients                                                                 */

enum { N_CLIENTS = 200, N_ROUNDS = 10 };

static int echo_handler(void *arg) {
  gh_sock s = (gh_sock)(intptr_t)arg;
  char line[256];
  for (;;) {
    ssize_t n = gh_readline(s, line, sizeof line);
    if (n <= 0) break;
    if (gh_sendall(s, line, (size_t)n) != 0) break;
  }
  return 0; /* the socket is closed by the library (this thread owns it) */
}

struct server_state {
  gh_sock l;
  int accepted;
  int spawn_failures;
  int end_err;
};

static int server_body(void *arg) {
  struct server_state *ss = arg;
  for (;;) {
    gh_sock c = gh_accept(ss->l, NULL);
    if (c < 0) {
      ss->end_err = errno;
      break;
    }
    ss->accepted++;
    gh_spawn_opts o;
    opts_init(&o);
    o.sock = c;
    o.detached = true;
    if (gh_spawn_ex(echo_handler, (void *)(intptr_t)c, &o) <= 0) {
      ss->spawn_failures++;
      gh_close(c);
    }
  }
  return 0;
}

static uint16_t server_port;

static int echo_client(void *arg) {
  int id = (int)(intptr_t)arg;
  gh_deadline_push(20000);
  gh_sock c = gh_connect("127.0.0.1", server_port);
  if (c <= 0) {
    gh_deadline_pop();
    return 1;
  }
  int rc = 0;
  for (int j = 0; j < N_ROUNDS && rc == 0; j++) {
    char msg[64], back[64];
    int len = snprintf(msg, sizeof msg, "client %d message %d\n", id, j);
    if (gh_sendall(c, msg, (size_t)len) != 0) {
      rc = 2;
      break;
    }
    ssize_t n = gh_readline(c, back, sizeof back);
    if (n != len || memcmp(back, msg, (size_t)len) != 0) rc = 3;
  }
  gh_close(c);
  gh_deadline_pop();
  return rc;
}

static void test_server_200_clients(void) {
  struct server_state ss;
  memset(&ss, 0, sizeof ss);
  ss.l = gh_listen("127.0.0.1", 0, 256);
  REQUIRE(ss.l > 0);
  gh_addr a;
  memset(&a, 0, sizeof a);
  REQUIRE(gh_local_addr(ss.l, &a) == 0);
  server_port = a.port;
  double t0 = now_ms();
  gh_thread srv = gh_spawn(server_body, &ss);
  REQUIRE(srv > 0);
  static gh_thread cl[N_CLIENTS];
  for (int i = 0; i < N_CLIENTS; i++) {
    cl[i] = gh_spawn(echo_client, (void *)(intptr_t)i);
    REQUIRE(cl[i] > 0);
  }
  gh_deadline_push(30000);
  int bad = 0, first_bad = -1, first_st = 0;
  for (int i = 0; i < N_CLIENTS; i++) {
    int st = -1;
    if (gh_join(cl[i], &st) != 0) {
      th_fail(__FILE__, __LINE__, errno, "gh_join(client %d) failed", i);
      st = -1;
    }
    if (st != 0 && bad++ == 0) {
      first_bad = i;
      first_st = st;
    }
  }
  CHECKF(bad == 0, "%d of %d clients failed (first: client %d, status %d: 1 connect, 2 send, "
         "3 wrong echo)", bad, N_CLIENTS, first_bad, first_st);
  CHECK_EQ(gh_close(ss.l), 0); /* wakes the server's accept with EBADF */
  int st = -1;
  CHECK_EQ(gh_join(srv, &st), 0);
  CHECK_EQ(ss.accepted, N_CLIENTS);
  CHECK_EQ(ss.spawn_failures, 0);
  CHECKF(ss.end_err == EBADF, "server's accept ended with errno=%s, want EBADF",
         th_errname(ss.end_err));
  CHECK_EQ(gh_run(), 0); /* the detached handlers finish */
  gh_deadline_pop();
  th_note("%d clients x %d round trips in %.0f ms", N_CLIENTS, N_ROUNDS, now_ms() - t0);
}

const test_case socket_tests[] = {
    {"listen_local_addr", test_listen_local_addr},
    {"listen_all_ipv4", test_listen_all_ipv4},
    {"listen_ipv6", test_listen_ipv6},
    {"listen_addrinuse", test_listen_addrinuse},
    {"connect_accept_peer_addr", test_connect_accept_peer_addr},
    {"send_recv_roundtrip", test_send_recv_roundtrip},
    {"recv_eof_after_close", test_recv_eof_after_close},
    {"sendall_8mib_slow_reader", test_sendall_8mib_slow_reader},
    {"readline_split_sends", test_readline_split_sends},
    {"readline_max_pieces", test_readline_max_pieces},
    {"read_until_crlf", test_read_until_crlf},
    {"recv_after_readline_buffered", test_recv_after_readline_buffered},
    {"readline_timeout_keeps_partial", test_readline_timeout_keeps_partial},
    {"readline_long_line", test_readline_long_line},
    {"blocked_sender_close_and_kill", test_blocked_sender_close_and_kill},
    {"settimeout_recv", test_settimeout_recv},
    {"settimeout_send", test_settimeout_send},
    {"deadline_recv_accept", test_deadline_recv_accept},
    {"sendfile_tmpfile", test_sendfile_tmpfile},
    {"shutdown_wr", test_shutdown_wr},
    {"sockopt_nodelay", test_sockopt_nodelay},
    {"fileno_valid", test_fileno_valid},
    {"connect_refused", test_connect_refused},
    {"connect_localhost", test_connect_localhost},
    {"connect_bad_host", test_connect_bad_host},
    {"closed_socket_ebadf", test_closed_socket_ebadf},
    {"garbage_socket_handles", test_garbage_socket_handles},
    {"stale_socket_not_reused", test_stale_socket_not_reused},
    {"handle_kinds_not_mixed", test_handle_kinds_not_mixed},
    {"null_buffers_einval", test_null_buffers_einval},
    {"ebusy_second_waiter", test_ebusy_second_waiter},
    {"close_wakes_waiter", test_close_wakes_waiter},
    {"kill_thread_blocked_in_recv", test_kill_thread_blocked_in_recv},
    {"owned_sock_closed_on_return", test_owned_sock_closed_on_return},
    {"killed_thread_sockets_closed", test_killed_thread_sockets_closed},
    {"exited_thread_sockets_closed", test_exited_thread_sockets_closed},
    {"sock_give", test_sock_give},
    {"sock_give_root_and_detached", test_sock_give_root_and_detached},
    {"sock_give_dead_thread", test_sock_give_dead_thread},
    {"handles_belong_to_os_thread", test_handles_belong_to_os_thread},
    {"accept_emfile_waits", test_accept_emfile_waits},
    {"send_to_closed_peer_no_sigpipe", test_send_to_closed_peer_no_sigpipe},
    {"server_200_clients", test_server_200_clients},
    {NULL, NULL},
};
