/* greenhub C API tests: socket timeouts (gh_settimeout on recv and send) and deadlines
 * around recv and accept. */
#include "harness.h"
#include "support.h"

TEST(settimeout_recv) {
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

TEST(settimeout_send) {
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

TEST(deadline_recv_accept) {
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
