/* greenhub C API tests: channels (gh_chan_*) carrying items. Bad capacities, bounded
 * channels, send timeouts, FIFO order of items and of blocked senders, unbounded channels,
 * rendezvous (capacity 0). */
#include "harness.h"
#include "support.h"
#include "support_sync.h"

TEST(chan_new_invalid) {
  CHECK_ERR(gh_chan_new(-5), EINVAL);
  CHECK_ERR(gh_chan_new(-2), EINVAL);
  CHECK_ERR(gh_chan_new(INT64_MIN), EINVAL);
  gh_chan c0 = gh_chan_new(0);
  gh_chan c1 = gh_chan_new(1);
  gh_chan cu = gh_chan_new(GH_CHAN_UNBOUNDED);
  CHECK(c0 > 0);
  CHECK(c1 > 0);
  CHECK(cu > 0);
  CHECK(c0 != c1 && c1 != cu && c0 != cu);
  CHECK_EQ(GH_CHAN_UNBOUNDED, -1);
  if (c0 > 0) CHECK_EQ(gh_chan_free(c0), 0);
  if (c1 > 0) CHECK_EQ(gh_chan_free(c1), 0);
  if (cu > 0) CHECK_EQ(gh_chan_free(cu), 0);
}

TEST(chan_bounded_try) {
  gh_chan c = gh_chan_new(2);
  REQUIRE(c > 0);
  CHECK_EQ(gh_chan_try_send(c, ITEM(1)), 0);
  CHECK_EQ(gh_chan_try_send(c, ITEM(2)), 0);
  CHECK_ERR(gh_chan_try_send(c, ITEM(3)), EAGAIN);
  int64_t len = -1, snd = -1, rcv = -1;
  CHECK_EQ(gh_chan_stat(c, &len, &snd, &rcv), 0);
  CHECK_EQ(len, 2);
  CHECK_EQ(snd, 0);
  CHECK_EQ(rcv, 0);
  void *it = UNTOUCHED;
  CHECK_EQ(gh_chan_try_recv(c, &it), 0);
  CHECK(it == ITEM(1));
  CHECK_EQ(gh_chan_try_send(c, ITEM(4)), 0); /* room again */
  CHECK_ERR(gh_chan_try_send(c, ITEM(5)), EAGAIN);
  CHECK_EQ(gh_chan_try_recv(c, &it), 0);
  CHECKF(it == ITEM(2), "second item: %p, want 2", it);
  CHECK_EQ(gh_chan_try_recv(c, &it), 0);
  CHECKF(it == ITEM(4), "third item: %p, want 4 (3 and 5 were refused)", it);
  it = UNTOUCHED;
  CHECK_ERR(gh_chan_try_recv(c, &it), EAGAIN);
  CHECKF(it == UNTOUCHED, "a failed try_recv wrote the item");
  CHECK_EQ(chan_len(c), 0);
  /* NULL is an item like any other. */
  CHECK_EQ(gh_chan_try_send(c, NULL), 0);
  it = UNTOUCHED;
  CHECK_EQ(gh_chan_recv(c, &it, 0), 0);
  CHECK(it == NULL);
  /* A NULL output pointer: the item is taken and dropped. */
  CHECK_EQ(gh_chan_try_send(c, ITEM(6)), 0);
  CHECK_EQ(gh_chan_try_send(c, ITEM(7)), 0);
  CHECK_EQ(gh_chan_recv(c, NULL, 0), 0);
  CHECK_EQ(gh_chan_try_recv(c, NULL), 0);
  CHECK_EQ(chan_len(c), 0);
  CHECK_EQ(gh_chan_free(c), 0);
}

static int chan_send_deadline_body(void *arg) {
  struct op *o = arg;
  gh_deadline_push(20);
  o->started = 1;
  double t0 = now_ms();
  errno = 0;
  o->rc = gh_chan_send(o->h, o->item, -1);
  o->err = errno;
  o->el = now_ms() - t0;
  gh_deadline_pop();
  o->done = 1;
  return 0;
}

TEST(chan_send_timeout) {
  gh_chan c = gh_chan_new(1);
  REQUIRE(c > 0);
  CHECK_EQ(gh_chan_try_send(c, ITEM(1)), 0);
  struct op to, dl;
  op_init(&to, c, 30, 0);
  to.item = ITEM(2);
  op_init(&dl, c, -1, 1);
  dl.item = ITEM(3);
  gh_thread t1 = gh_spawn(chan_send_body, &to);
  gh_thread t2 = gh_spawn(chan_send_deadline_body, &dl);
  REQUIRE(t1 > 0 && t2 > 0);
  JOIN(t1);
  JOIN(t2);
  CHECK_OP(to, ETIMEDOUT, "send(full, timeout 30)");
  CHECKF(to.el >= 29 && to.el < 300, "send(timeout 30) failed after %.1f ms", to.el);
  CHECK_OP(dl, ETIMEDOUT, "send(full, -1) under gh_deadline_push(20)");
  CHECKF(dl.el >= 19 && dl.el < 300, "the 20 ms deadline fired after %.1f ms", dl.el);
  double t0 = now_ms();
  CHECK_ERR(gh_chan_send(c, ITEM(4), 0), EAGAIN);
  CHECKF(now_ms() - t0 < 20, "send(full, timeout 0) took %.1f ms", now_ms() - t0);
  t0 = now_ms();
  CHECK_ERR(gh_chan_send(c, ITEM(5), 30), ETIMEDOUT); /* root: a timeout is a timer */
  CHECKF(now_ms() - t0 >= 29 && now_ms() - t0 < 300, "root send(timeout 30) took %.1f ms",
         now_ms() - t0);
  CHECK_EQ(chan_senders(c), 0);
  CHECK_EQ(chan_len(c), 1);
  /* None of the timed out items were delivered. */
  void *it = UNTOUCHED;
  CHECK_EQ(gh_chan_try_recv(c, &it), 0);
  CHECK(it == ITEM(1));
  it = UNTOUCHED;
  CHECK_ERR(gh_chan_try_recv(c, &it), EAGAIN);
  CHECKF(it == UNTOUCHED, "a timed out send's item was delivered (%p)", it);
  /* recv timeouts too. */
  t0 = now_ms();
  CHECK_ERR(gh_chan_recv(c, &it, 30), ETIMEDOUT);
  CHECKF(now_ms() - t0 >= 29 && now_ms() - t0 < 300, "recv(empty, timeout 30) took %.1f ms",
         now_ms() - t0);
  CHECK_ERR(gh_chan_recv(c, &it, 0), EAGAIN);
  CHECKF(it == UNTOUCHED, "a timed out recv wrote the item");
  CHECK_EQ(gh_chan_free(c), 0);
}

struct seq_sender {
  gh_chan c;
  int n;
  int sent;
  int rc, err;
};

static int seq_sender_body(void *arg) {
  struct seq_sender *s = arg;
  gh_deadline_push(ROOT_DEADLINE_MS);
  for (int i = 1; i <= s->n; i++) {
    errno = 0;
    if (gh_chan_send(s->c, ITEM(i), -1) != 0) {
      s->rc = -1;
      s->err = errno;
      break;
    }
    s->sent = i;
    if (i % 7 == 0) gh_yield();
  }
  gh_deadline_pop();
  return 0;
}

TEST(chan_fifo) {
  const int64_t caps[] = {0, 1, 3, GH_CHAN_UNBOUNDED};
  enum { N = 200 };
  for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
    gh_chan c = gh_chan_new(caps[k]);
    REQUIRE(c > 0);
    struct seq_sender s = {c, N, 0, 0, 0};
    gh_thread t = gh_spawn(seq_sender_body, &s);
    REQUIRE(t > 0);
    gh_deadline_push(ROOT_DEADLINE_MS);
    int bad = -1, got = 0;
    void *first_bad = NULL;
    for (int i = 1; i <= N; i++) {
      void *it = UNTOUCHED;
      errno = 0;
      if (gh_chan_recv(c, &it, -1) != 0) {
        th_fail(__FILE__, __LINE__, errno, "capacity %lld: recv #%d failed", (long long)caps[k],
                i);
        break;
      }
      got++;
      if (it != ITEM(i) && bad < 0) {
        bad = i;
        first_bad = it;
      }
      if (i % 5 == 0) gh_sleep(0);
    }
    gh_deadline_pop();
    CHECKF(bad < 0, "capacity %lld: item #%d was %lld, want %d (FIFO)", (long long)caps[k], bad,
           (long long)(intptr_t)first_bad, bad);
    CHECK_EQ(got, N);
    JOIN(t);
    CHECKF(s.rc == 0 && s.sent == N, "capacity %lld: sender sent %d, rc %d errno=%s",
           (long long)caps[k], s.sent, s.rc, th_errname(s.err));
    CHECK_EQ(gh_chan_free(c), 0);
  }
}

TEST(chan_blocked_senders_order) {
  enum { N = 4 };
  orders_reset();
  gh_chan c = gh_chan_new(1);
  REQUIRE(c > 0);
  CHECK_EQ(gh_chan_try_send(c, ITEM(100)), 0);
  struct op o[N];
  gh_thread t[N];
  for (int i = 0; i < N; i++) {
    op_init(&o[i], c, 5000, i);
    o[i].item = ITEM(i);
    o[i].pre_sleep = (N - 1 - i) * 8; /* queue in reverse: 3 2 1 0 */
    t[i] = gh_spawn(chan_send_body, &o[i]);
    REQUIRE(t[i] > 0);
  }
  WAIT_FOR(chan_senders(c) == N, 2000);
  CHECK_EQ(chan_senders(c), N);
  CHECK_EQ(enq_n, N);
  char b1[128], b2[128];
  void *it = UNTOUCHED;
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_chan_recv(c, &it, -1), 0);
  CHECK(it == ITEM(100));
  int recvd[N];
  for (int k = 0; k < N; k++) {
    /* Draining one slot lets exactly the first waiting sender through. */
    WAIT_FOR(got_n >= k + 1, 1000);
    CHECK_EQ(gh_sleep(2), 0);
    CHECKF(got_n == k + 1, "after %d receive(s), %d blocked sender(s) completed", k + 1, got_n);
    CHECK_EQ(chan_senders(c), N - k - 1);
    it = UNTOUCHED;
    CHECK_EQ(gh_chan_recv(c, &it, -1), 0);
    recvd[k] = (int)(intptr_t)it;
  }
  gh_deadline_pop();
  CHECKF(same_ints(recvd, enq_order, N), "items arrived as [%s], want the senders' queueing "
         "order [%s]", fmt_ints(b1, sizeof b1, recvd, N), fmt_ints(b2, sizeof b2, enq_order, N));
  CHECKF(got_n == N && same_ints(got_order, enq_order, N), "blocked senders resumed as [%s], "
         "want [%s]", fmt_ints(b1, sizeof b1, got_order, got_n),
         fmt_ints(b2, sizeof b2, enq_order, N));
  for (int i = 0; i < N; i++) {
    JOIN(t[i]);
    CHECK_OP(o[i], 0, "blocked sender");
  }
  CHECK_EQ(chan_len(c), 0);
  CHECK_EQ(gh_chan_free(c), 0);
}

TEST(chan_unbounded_10000) {
  enum { N = 10000 };
  gh_chan c = gh_chan_new(GH_CHAN_UNBOUNDED);
  REQUIRE(c > 0);
  double t0 = now_ms();
  int fails = 0, first_fail = -1, first_err = 0;
  for (int i = 1; i <= N; i++) {
    errno = 0;
    int rc = (i % 2) ? gh_chan_try_send(c, ITEM(i)) : gh_chan_send(c, ITEM(i), 0);
    if (rc != 0 && fails++ == 0) {
      first_fail = i;
      first_err = errno;
    }
  }
  CHECKF(fails == 0, "%d of %d sends to an unbounded channel failed (first #%d: %s)", fails, N,
         first_fail, th_errname(first_err));
  CHECK_EQ(chan_len(c), N);
  /* Even a blocking send from the root (no other thread) does not wait. */
  CHECK_EQ(gh_chan_send(c, ITEM(N + 1), -1), 0);
  CHECK_EQ(chan_len(c), N + 1);
  int bad = -1;
  for (int i = 1; i <= N + 1; i++) {
    void *it = UNTOUCHED;
    if (gh_chan_try_recv(c, &it) != 0 || it != ITEM(i)) {
      bad = i;
      break;
    }
  }
  CHECKF(bad < 0, "unbounded channel: item #%d missing or out of order", bad);
  CHECK_ERR(gh_chan_try_recv(c, NULL), EAGAIN);
  th_note("10001 items through an unbounded channel in %.1f ms", now_ms() - t0);
  CHECK_EQ(gh_chan_free(c), 0);
}

/* Rendezvous logging: 1 = sender about to send, 2 = sender's send returned,
 * 3 = receiver about to recv, 4 = receiver's recv returned. */
static int rv_log[16], rv_n;

static void rv_add(int v) {
  if (rv_n < 16) rv_log[rv_n++] = v;
}

static int rv_pos(int v) {
  for (int i = 0; i < rv_n; i++)
    if (rv_log[i] == v) return i;
  return -1;
}

struct rv {
  gh_chan c;
  void *item;
  int rc, err;
  double el;
  void *got;
};

static int rv_sender(void *arg) {
  struct rv *r = arg;
  rv_add(1);
  double t0 = now_ms();
  errno = 0;
  r->rc = gh_chan_send(r->c, r->item, 5000);
  r->err = errno;
  r->el = now_ms() - t0;
  rv_add(2);
  return 0;
}

static int rv_receiver(void *arg) {
  struct rv *r = arg;
  rv_add(3);
  double t0 = now_ms();
  errno = 0;
  r->got = UNTOUCHED;
  r->rc = gh_chan_recv(r->c, &r->got, 5000);
  r->err = errno;
  r->el = now_ms() - t0;
  rv_add(4);
  return 0;
}

TEST(chan_rendezvous) {
  gh_chan c = gh_chan_new(0);
  REQUIRE(c > 0);
  char b[64];
  /* Sender first: its send blocks until a receiver takes the item. */
  rv_n = 0;
  struct rv s = {c, &marker_a, -2, 0, 0, NULL};
  struct rv r = {c, NULL, -2, 0, 0, NULL};
  gh_thread ts = gh_spawn(rv_sender, &s);
  REQUIRE(ts > 0);
  CHECK_EQ(gh_sleep(30), 0);
  CHECKF(rv_n == 1 && rv_log[0] == 1, "rendezvous send returned with no receiver (log [%s])",
         fmt_ints(b, sizeof b, rv_log, rv_n));
  CHECK_EQ(chan_senders(c), 1);
  CHECK_EQ(chan_len(c), 0);
  gh_thread tr = gh_spawn(rv_receiver, &r);
  REQUIRE(tr > 0);
  JOIN(ts);
  JOIN(tr);
  CHECKF(s.rc == 0 && r.rc == 0 && r.got == &marker_a, "rendezvous: send rc %d (%s), recv rc %d "
         "(%s) got %p want %p", s.rc, th_errname(s.err), r.rc, th_errname(r.err), r.got,
         (void *)&marker_a);
  CHECKF(s.el >= 29, "rendezvous send returned after %.1f ms, before any receiver came (~30 ms)",
         s.el);
  CHECKF(rv_pos(2) > rv_pos(3) && rv_pos(3) >= 0, "the sender's send returned before the "
         "receiver called recv (log [%s]: 1 send, 2 send returned, 3 recv, 4 recv returned)",
         fmt_ints(b, sizeof b, rv_log, rv_n));
  th_note("sender first: order [%s] (1 send, 2 send returned, 3 recv, 4 recv returned)",
          fmt_ints(b, sizeof b, rv_log, rv_n));

  /* No receiver waiting: try_send refuses, send(timeout 0) fails, nothing is kept. */
  CHECK_ERR(gh_chan_try_send(c, &marker_b), EAGAIN);
  CHECK_ERR(gh_chan_send(c, &marker_b, 0), EAGAIN);
  void *it = UNTOUCHED;
  CHECK_ERR(gh_chan_try_recv(c, &it), EAGAIN);
  CHECK(it == UNTOUCHED);
  CHECK_EQ(chan_len(c), 0);

  /* A receiver waiting: try_send hands the item over. */
  rv_n = 0;
  struct rv r2 = {c, NULL, -2, 0, 0, NULL};
  gh_thread tr2 = gh_spawn(rv_receiver, &r2);
  REQUIRE(tr2 > 0);
  WAIT_FOR(chan_receivers(c) == 1, 1000);
  CHECK_EQ(chan_receivers(c), 1);
  CHECK_EQ(gh_chan_try_send(c, &marker_c), 0);
  JOIN(tr2);
  CHECKF(r2.rc == 0 && r2.got == &marker_c, "receiver after try_send: rc %d (%s) got %p",
         r2.rc, th_errname(r2.err), r2.got);
  CHECK_EQ(chan_receivers(c), 0);

  /* A sender waiting: try_recv takes its item and the sender completes. */
  rv_n = 0;
  struct rv s3 = {c, &marker_b, -2, 0, 0, NULL};
  gh_thread ts3 = gh_spawn(rv_sender, &s3);
  REQUIRE(ts3 > 0);
  WAIT_FOR(chan_senders(c) == 1, 1000);
  it = UNTOUCHED;
  CHECK_EQ(gh_chan_try_recv(c, &it), 0);
  CHECK(it == &marker_b);
  JOIN(ts3);
  CHECKF(s3.rc == 0, "sender whose item was taken by try_recv: rc %d errno=%s", s3.rc,
         th_errname(s3.err));

  /* Root send with a receiver waiting completes. */
  struct rv r4 = {c, NULL, -2, 0, 0, NULL};
  gh_thread tr4 = gh_spawn(rv_receiver, &r4);
  REQUIRE(tr4 > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_chan_send(c, &marker_a, -1), 0);
  gh_deadline_pop();
  JOIN(tr4);
  CHECK(r4.rc == 0 && r4.got == &marker_a);
  CHECK_EQ(gh_chan_free(c), 0);
}

TEST(chan_rendezvous_send_timeout) {
  gh_chan c = gh_chan_new(0);
  REQUIRE(c > 0);
  struct op o;
  op_init(&o, c, 30, 0);
  o.item = &marker_a;
  gh_thread t = gh_spawn(chan_send_body, &o);
  REQUIRE(t > 0);
  JOIN(t);
  CHECK_OP(o, ETIMEDOUT, "rendezvous send(timeout 30) with no receiver");
  CHECKF(o.el >= 29 && o.el < 300, "send(timeout 30) failed after %.1f ms", o.el);
  CHECK_EQ(chan_senders(c), 0);
  void *it = UNTOUCHED;
  CHECK_ERR(gh_chan_try_recv(c, &it), EAGAIN);
  CHECK_ERR(gh_chan_recv(c, &it, 30), ETIMEDOUT);
  CHECKF(it == UNTOUCHED, "the timed out send's item was delivered (%p)", it);
  CHECK_EQ(gh_chan_free(c), 0);
}
