/* greenhub C API tests: socket data. A round trip, EOF after the peer closes, 8 MiB to a
 * slow reader, sending to a closed peer without SIGPIPE. */
#include "harness.h"
#include "support.h"

#include <stdlib.h>

TEST(send_recv_roundtrip) {
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

TEST(recv_eof_after_close) {
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

TEST(sendall_8mib_slow_reader) {
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

TEST(send_to_closed_peer_no_sigpipe) {
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
