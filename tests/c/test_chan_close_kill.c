/* greenhub C API tests: channels ending. Close, killed senders and receivers (before and
 * after the hand-off), stat, free, the root's EDEADLK. */
#include "harness.h"
#include "support.h"
#include "support_sync.h"

TEST(chan_close) {
  /* (a) pending receivers wake with EPIPE */
  gh_chan c = gh_chan_new(2);
  REQUIRE(c > 0);
  struct op r[2];
  gh_thread tr[2];
  for (int i = 0; i < 2; i++) {
    op_init(&r[i], c, 3000, i);
    tr[i] = gh_spawn(chan_recv_body, &r[i]);
    REQUIRE(tr[i] > 0);
  }
  WAIT_FOR(chan_receivers(c) == 2, 1000);
  double t0 = now_ms();
  CHECK_EQ(gh_chan_close(c), 0);
  WAIT_FOR(r[0].done && r[1].done, 1000);
  CHECKF(now_ms() - t0 < 200, "receivers woke %.1f ms after close", now_ms() - t0);
  for (int i = 0; i < 2; i++) {
    JOIN(tr[i]);
    CHECK_OP(r[i], EPIPE, "recv pending at close");
    CHECK(r[i].val == UNTOUCHED);
  }
  CHECK_ERR(gh_chan_try_send(c, ITEM(1)), EPIPE);
  CHECK_ERR(gh_chan_send(c, ITEM(1), -1), EPIPE); /* root, no threads: EPIPE, not EDEADLK */
  CHECK_ERR(gh_chan_recv(c, NULL, -1), EPIPE);
  CHECK_EQ(gh_chan_free(c), 0);

  /* (b) buffered items are still received after close, then EPIPE */
  c = gh_chan_new(4);
  REQUIRE(c > 0);
  CHECK_EQ(gh_chan_try_send(c, ITEM(1)), 0);
  CHECK_EQ(gh_chan_try_send(c, ITEM(2)), 0);
  CHECK_EQ(gh_chan_close(c), 0);
  CHECK_ERR(gh_chan_try_send(c, ITEM(3)), EPIPE);
  CHECK_ERR(gh_chan_send(c, ITEM(3), 1000), EPIPE);
  void *it = UNTOUCHED;
  CHECK_EQ(gh_chan_recv(c, &it, -1), 0);
  CHECK(it == ITEM(1));
  CHECK_EQ(gh_chan_try_recv(c, &it), 0);
  CHECK(it == ITEM(2));
  it = UNTOUCHED;
  CHECK_ERR(gh_chan_recv(c, &it, -1), EPIPE);
  CHECK_ERR(gh_chan_try_recv(c, &it), EPIPE);
  CHECK_ERR(gh_chan_recv(c, &it, 0), EPIPE);
  CHECKF(it == UNTOUCHED, "recv on a closed, drained channel wrote the item");
  CHECK_EQ(chan_len(c), 0);
  CHECK_EQ(gh_chan_free(c), 0);

  /* (c) a pending sender gets EPIPE and its item is not delivered */
  c = gh_chan_new(1);
  REQUIRE(c > 0);
  CHECK_EQ(gh_chan_try_send(c, ITEM(7)), 0);
  struct op s;
  op_init(&s, c, 3000, 0);
  s.item = ITEM(8);
  gh_thread ts = gh_spawn(chan_send_body, &s);
  REQUIRE(ts > 0);
  WAIT_FOR(chan_senders(c) == 1, 1000);
  CHECK_EQ(gh_chan_close(c), 0);
  JOIN(ts);
  CHECK_OP(s, EPIPE, "send pending at close");
  CHECKF(s.el < 200, "pending sender woke %.1f ms after it started (close at ~1 ms)", s.el);
  it = UNTOUCHED;
  CHECK_EQ(gh_chan_recv(c, &it, 1000), 0);
  CHECK(it == ITEM(7));
  it = UNTOUCHED;
  CHECK_ERR(gh_chan_recv(c, &it, 1000), EPIPE);
  CHECKF(it == UNTOUCHED, "a sender's item refused by close was delivered (%p)", it);
  CHECK_EQ(gh_chan_free(c), 0);

  /* (d) rendezvous: a pending sender gets EPIPE; receivers then get EPIPE */
  c = gh_chan_new(0);
  REQUIRE(c > 0);
  op_init(&s, c, 3000, 0);
  s.item = ITEM(9);
  ts = gh_spawn(chan_send_body, &s);
  REQUIRE(ts > 0);
  WAIT_FOR(chan_senders(c) == 1, 1000);
  CHECK_EQ(gh_chan_close(c), 0);
  JOIN(ts);
  CHECK_OP(s, EPIPE, "rendezvous send pending at close");
  it = UNTOUCHED;
  CHECK_ERR(gh_chan_recv(c, &it, 1000), EPIPE);
  CHECK(it == UNTOUCHED);
  CHECK_EQ(gh_chan_free(c), 0);
}

TEST(chan_kill_receiver) {
  gh_chan c = gh_chan_new(1);
  REQUIRE(c > 0);
  struct op r;
  op_init(&r, c, 5000, 0);
  gh_thread t = gh_spawn(chan_recv_body, &r);
  REQUIRE(t > 0);
  WAIT_FOR(chan_receivers(c) == 1, 1000);
  CHECK_EQ(gh_kill(t), 0);
  JOIN(t);
  CHECK_OP(r, ECANCELED, "killed recv");
  CHECKF(r.el < 200, "killed recv returned after %.1f ms", r.el);
  CHECK_EQ(chan_receivers(c), 0);
  /* The next item is not swallowed by the killed receiver. */
  CHECK_EQ(gh_chan_try_send(c, ITEM(5)), 0);
  CHECK_EQ(chan_len(c), 1);
  void *it = UNTOUCHED;
  CHECK_EQ(gh_chan_try_recv(c, &it), 0);
  CHECK(it == ITEM(5));
  CHECK_EQ(gh_chan_free(c), 0);

  /* Rendezvous: a killed receiver no longer counts as waiting. */
  c = gh_chan_new(0);
  REQUIRE(c > 0);
  op_init(&r, c, 5000, 0);
  t = gh_spawn(chan_recv_body, &r);
  REQUIRE(t > 0);
  WAIT_FOR(chan_receivers(c) == 1, 1000);
  CHECK_EQ(gh_kill(t), 0);
  JOIN(t);
  CHECK_OP(r, ECANCELED, "killed rendezvous recv");
  CHECK_ERR(gh_chan_try_send(c, ITEM(6)), EAGAIN);
  CHECK_EQ(gh_chan_free(c), 0);
}

TEST(chan_kill_sender) {
  gh_chan c = gh_chan_new(1);
  REQUIRE(c > 0);
  CHECK_EQ(gh_chan_try_send(c, ITEM(1)), 0);
  struct op s;
  op_init(&s, c, 5000, 0);
  s.item = ITEM(2);
  gh_thread t = gh_spawn(chan_send_body, &s);
  REQUIRE(t > 0);
  WAIT_FOR(chan_senders(c) == 1, 1000);
  CHECK_EQ(gh_kill(t), 0);
  JOIN(t);
  CHECK_OP(s, ECANCELED, "killed send");
  CHECK_EQ(chan_senders(c), 0);
  void *it = UNTOUCHED;
  CHECK_EQ(gh_chan_recv(c, &it, 1000), 0);
  CHECK(it == ITEM(1));
  CHECK_EQ(gh_sleep(20), 0);
  it = UNTOUCHED;
  CHECK_ERR(gh_chan_try_recv(c, &it), EAGAIN);
  CHECKF(it == UNTOUCHED, "a killed sender's item was delivered later (%p)", it);
  CHECK_EQ(chan_len(c), 0);
  CHECK_EQ(gh_chan_free(c), 0);

  /* Rendezvous: a killed sender's item never reaches a later receiver. */
  c = gh_chan_new(0);
  REQUIRE(c > 0);
  op_init(&s, c, 5000, 0);
  s.item = ITEM(3);
  t = gh_spawn(chan_send_body, &s);
  REQUIRE(t > 0);
  WAIT_FOR(chan_senders(c) == 1, 1000);
  CHECK_EQ(gh_kill(t), 0);
  JOIN(t);
  CHECK_OP(s, ECANCELED, "killed rendezvous send");
  struct op r;
  op_init(&r, c, 30, 0);
  t = gh_spawn(chan_recv_body, &r);
  REQUIRE(t > 0);
  JOIN(t);
  CHECK_OP(r, ETIMEDOUT, "recv after the only sender was killed");
  CHECKF(r.val == UNTOUCHED, "a killed rendezvous sender's item was delivered (%p)", r.val);
  CHECK_EQ(gh_chan_free(c), 0);
}

/* A handoff, then a kill of the thread it was handed to before that thread ran: the item is
 * neither lost nor duplicated, and the thread's return value tells the truth. */
TEST(chan_kill_after_handoff) {
  /* Sender side, bounded: the receive moves the blocked sender's item into the buffer. */
  gh_chan c = gh_chan_new(1);
  REQUIRE(c > 0);
  CHECK_EQ(gh_chan_try_send(c, ITEM(1)), 0);
  struct op s;
  op_init(&s, c, 3000, 0);
  s.item = ITEM(2);
  gh_thread t = gh_spawn(chan_send_body, &s);
  REQUIRE(t > 0);
  WAIT_FOR(chan_senders(c) == 1, 1000);
  void *it = UNTOUCHED;
  CHECK_EQ(gh_chan_try_recv(c, &it), 0);
  CHECK(it == ITEM(1));
  CHECK_EQ(gh_kill(t), 0); /* before the sender ran again */
  JOIN(t);
  it = UNTOUCHED;
  int delivered = gh_chan_try_recv(c, &it) == 0 && it == ITEM(2);
  th_note("bounded: sender killed after its item was taken into the buffer: send returned %d "
          "(%s), item %s", s.rc, s.rc == 0 ? "ok" : th_errname(s.err),
          delivered ? "delivered" : "not delivered");
  CHECKF((s.rc == 0) == delivered && (s.rc == 0 || s.err == ECANCELED), "bounded: send returned "
         "%d (%s) but the item was %s", s.rc, th_errname(s.err),
         delivered ? "delivered" : "not delivered");
  CHECK_EQ(gh_chan_free(c), 0);

  /* Sender side, rendezvous: try_recv takes the blocked sender's item. */
  c = gh_chan_new(0);
  REQUIRE(c > 0);
  op_init(&s, c, 3000, 0);
  s.item = ITEM(3);
  t = gh_spawn(chan_send_body, &s);
  REQUIRE(t > 0);
  WAIT_FOR(chan_senders(c) == 1, 1000);
  it = UNTOUCHED;
  CHECK_EQ(gh_chan_try_recv(c, &it), 0);
  CHECK(it == ITEM(3));
  CHECK_EQ(gh_kill(t), 0);
  JOIN(t);
  CHECKF(s.rc == 0, "rendezvous: the receiver took the item, then the sender was killed before "
         "it ran: send returned %d errno=%s, want 0 (the item was delivered)", s.rc,
         th_errname(s.err));
  CHECK_EQ(gh_chan_free(c), 0);

  /* Receiver side: try_send hands an item to a blocked receiver, which is killed before it
   * runs: it returns the item (0), or ECANCELED and the item is still in the channel. */
  const int64_t caps[] = {0, 1};
  for (int k = 0; k < 2; k++) {
    c = gh_chan_new(caps[k]);
    REQUIRE(c > 0);
    struct op r;
    op_init(&r, c, 3000, 0);
    t = gh_spawn(chan_recv_body, &r);
    REQUIRE(t > 0);
    WAIT_FOR(chan_receivers(c) == 1, 1000);
    CHECK_EQ(gh_chan_try_send(c, ITEM(4)), 0);
    CHECK_EQ(gh_kill(t), 0);
    JOIN(t);
    it = UNTOUCHED;
    int still = gh_chan_try_recv(c, &it) == 0 && it == ITEM(4);
    int got = r.rc == 0 && r.val == ITEM(4);
    th_note("capacity %lld: receiver killed after an item was handed to it: recv returned %d "
            "(%s), item %s", (long long)caps[k], r.rc, r.rc == 0 ? "ok" : th_errname(r.err),
            still ? "still in the channel" : "not in the channel");
    CHECKF(got + still == 1 && (r.rc == 0 || r.err == ECANCELED), "capacity %lld: item handed "
           "to a receiver killed before it ran: recv %d (%s) value %p, item still in the "
           "channel: %d (want exactly one of the two)", (long long)caps[k], r.rc,
           th_errname(r.err), r.val, still);
    CHECK_EQ(gh_chan_free(c), 0);
  }
}

TEST(chan_stat) {
  gh_chan c = gh_chan_new(1);
  REQUIRE(c > 0);
  CHECK_EQ(gh_chan_stat(c, NULL, NULL, NULL), 0);
  int64_t len = -1, snd = -1, rcv = -1;
  CHECK_EQ(gh_chan_stat(c, &len, &snd, &rcv), 0);
  CHECK(len == 0 && snd == 0 && rcv == 0);
  /* 3 receivers waiting on the empty channel */
  struct op r[3];
  gh_thread tr[3];
  for (int i = 0; i < 3; i++) {
    op_init(&r[i], c, 5000, i);
    tr[i] = gh_spawn(chan_recv_body, &r[i]);
    REQUIRE(tr[i] > 0);
  }
  WAIT_FOR(chan_receivers(c) == 3, 1000);
  CHECK_EQ(gh_chan_stat(c, &len, &snd, &rcv), 0);
  CHECKF(len == 0 && snd == 0 && rcv == 3, "3 receivers waiting: len %lld senders %lld "
         "receivers %lld", (long long)len, (long long)snd, (long long)rcv);
  for (int i = 0; i < 3; i++) CHECK_EQ(gh_chan_try_send(c, ITEM(i + 1)), 0);
  for (int i = 0; i < 3; i++) {
    JOIN(tr[i]);
    CHECK_OP(r[i], 0, "receiver");
    CHECKF(r[i].val == ITEM(i + 1), "receiver %d got %p, want %d (FIFO)", i, r[i].val, i + 1);
  }
  CHECK_EQ(gh_chan_stat(c, &len, &snd, &rcv), 0);
  CHECK(len == 0 && snd == 0 && rcv == 0);
  /* full, and 2 senders waiting */
  CHECK_EQ(gh_chan_try_send(c, ITEM(10)), 0);
  struct op s[2];
  gh_thread ts[2];
  for (int i = 0; i < 2; i++) {
    op_init(&s[i], c, 5000, i);
    s[i].item = ITEM(11 + i);
    ts[i] = gh_spawn(chan_send_body, &s[i]);
    REQUIRE(ts[i] > 0);
  }
  WAIT_FOR(chan_senders(c) == 2, 1000);
  CHECK_EQ(gh_chan_stat(c, &len, &snd, &rcv), 0);
  CHECKF(len == 1 && snd == 2 && rcv == 0, "full with 2 senders waiting: len %lld senders %lld "
         "receivers %lld", (long long)len, (long long)snd, (long long)rcv);
  void *it;
  for (int i = 0; i < 3; i++) {
    it = UNTOUCHED;
    CHECK_EQ(gh_chan_recv(c, &it, 1000), 0);
    CHECK(it == ITEM(10 + i));
  }
  for (int i = 0; i < 2; i++) {
    JOIN(ts[i]);
    CHECK_OP(s[i], 0, "sender");
  }
  CHECK_EQ(gh_chan_free(c), 0);
  len = 55;
  CHECK_ERR(gh_chan_stat(c, &len, NULL, NULL), EBADF);
  CHECK_EQ(len, 55);
}

TEST(chan_free) {
  gh_chan c1 = gh_chan_new(GH_CHAN_UNBOUNDED);
  gh_chan c2 = gh_chan_new(1);
  REQUIRE(c1 > 0 && c2 > 0);
  CHECK_EQ(gh_chan_try_send(c2, ITEM(1)), 0);
  struct op r[2], s;
  gh_thread tr[2], ts;
  for (int i = 0; i < 2; i++) {
    op_init(&r[i], c1, 3000, i);
    tr[i] = gh_spawn(chan_recv_body, &r[i]);
    REQUIRE(tr[i] > 0);
  }
  op_init(&s, c2, 3000, 2);
  s.item = ITEM(2);
  ts = gh_spawn(chan_send_body, &s);
  REQUIRE(ts > 0);
  WAIT_FOR(chan_receivers(c1) == 2 && chan_senders(c2) == 1, 1000);
  double t0 = now_ms();
  CHECK_EQ(gh_chan_free(c1), 0);
  CHECK_EQ(gh_chan_free(c2), 0); /* buffered item dropped */
  WAIT_FOR(r[0].done && r[1].done && s.done, 1000);
  CHECKF(now_ms() - t0 < 200, "waiters woke %.1f ms after gh_chan_free", now_ms() - t0);
  JOIN(tr[0]);
  JOIN(tr[1]);
  JOIN(ts);
  CHECK_OP(r[0], EBADF, "recv on a freed channel");
  CHECK_OP(r[1], EBADF, "recv on a freed channel");
  CHECK_OP(s, EBADF, "send on a freed channel");
  const gh_chan stale[] = {c1, c2, 0, -1, 0x7fffffff, INT64_MAX};
  for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
    void *it = UNTOUCHED;
    CHECK_ERR(gh_chan_try_send(stale[i], NULL), EBADF);
    CHECK_ERR(gh_chan_send(stale[i], NULL, 0), EBADF);
    CHECK_ERR(gh_chan_try_recv(stale[i], &it), EBADF);
    CHECK_ERR(gh_chan_recv(stale[i], &it, -1), EBADF);
    CHECK_ERR(gh_chan_close(stale[i]), EBADF);
    CHECK_ERR(gh_chan_stat(stale[i], NULL, NULL, NULL), EBADF);
    CHECK_ERR(gh_chan_free(stale[i]), EBADF);
    CHECK(it == UNTOUCHED);
  }
}

TEST(chan_root_edeadlk) {
  gh_chan c = gh_chan_new(1);
  REQUIRE(c > 0);
  void *it = UNTOUCHED;
  double t0 = now_ms();
  CHECK_ERR(gh_chan_recv(c, &it, -1), EDEADLK);
  CHECKF(now_ms() - t0 < 1000, "EDEADLK (recv, empty) took %.1f ms", now_ms() - t0);
  CHECK(it == UNTOUCHED);
  CHECK_EQ(chan_receivers(c), 0);
  CHECK_EQ(gh_chan_try_send(c, ITEM(1)), 0);
  t0 = now_ms();
  CHECK_ERR(gh_chan_send(c, ITEM(2), -1), EDEADLK);
  CHECKF(now_ms() - t0 < 1000, "EDEADLK (send, full) took %.1f ms", now_ms() - t0);
  CHECK_EQ(chan_len(c), 1);
  CHECK_EQ(chan_senders(c), 0);
  CHECK_EQ(gh_chan_recv(c, &it, -1), 0);
  CHECK(it == ITEM(1));
  CHECK_ERR(gh_chan_try_recv(c, &it), EAGAIN); /* item 2 was not delivered */
  CHECK_EQ(gh_chan_free(c), 0);

  gh_chan z = gh_chan_new(0);
  REQUIRE(z > 0);
  t0 = now_ms();
  CHECK_ERR(gh_chan_send(z, ITEM(3), -1), EDEADLK);
  CHECKF(now_ms() - t0 < 1000, "EDEADLK (rendezvous send) took %.1f ms", now_ms() - t0);
  CHECK_EQ(chan_senders(z), 0);
  CHECK_ERR(gh_chan_try_recv(z, &it), EAGAIN);
  CHECK_EQ(gh_chan_free(z), 0);
}
