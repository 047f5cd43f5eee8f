/* greenhub C API tests: events (gh_event_*). Waiting until set, set waking every waiter, waits
 * after set, clear, timeouts, deadlines and kills, free. */
#include "harness.h"
#include "support.h"
#include "support_sync.h"

struct setter {
  int64_t h;
  int delay_ms;
  void *value;
  int rc;
};

static int event_set_later_body(void *arg) {
  struct setter *s = arg;
  if (gh_sleep(s->delay_ms) != 0) return 1;
  s->rc = gh_event_set(s->h, s->value);
  return 0;
}

TEST(event_wait_blocks_until_set) {
  gh_event e = gh_event_new();
  REQUIRE(e > 0);
  CHECK_EQ(gh_event_is_set(e), 0);
  struct op o;
  op_init(&o, e, 5000, 0);
  gh_thread t = gh_spawn(event_wait_body, &o);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(30), 0);
  CHECKF(o.started && !o.done, "gh_event_wait on an unset event returned at once (rc %d "
         "errno=%s)", o.rc, th_errname(o.err));
  CHECK_EQ(gh_event_set(e, &marker_a), 0);
  CHECK_EQ(gh_event_is_set(e), 1);
  JOIN(t);
  CHECK_OP(o, 0, "wait woken by set");
  CHECKF(o.val == &marker_a, "wait returned value %p, want %p (the value set)", o.val,
         (void *)&marker_a);
  CHECKF(o.el >= 29, "wait returned after %.1f ms, before the set at ~30 ms", o.el);

  /* The root waits while a green thread will set another event: no EDEADLK. */
  gh_event e2 = gh_event_new();
  REQUIRE(e2 > 0);
  CHECKF(e2 != e, "two live events share a handle");
  struct setter st = {e2, 20, &marker_b, -2};
  gh_thread s = gh_spawn(event_set_later_body, &st);
  REQUIRE(s > 0);
  void *val = UNTOUCHED;
  gh_deadline_push(ROOT_DEADLINE_MS);
  double t0 = now_ms();
  errno = 0;
  int rc = gh_event_wait(e2, &val, -1);
  int err = errno;
  double el = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(rc == 0 && val == &marker_b, "root wait for an event a thread sets: rc %d errno=%s "
         "value %p (want %p)", rc, th_errname(err), val, (void *)&marker_b);
  CHECKF(el >= 19 && el < 500, "root wait returned after %.1f ms (set at ~20 ms)", el);
  JOIN(s);
  CHECK_EQ(st.rc, 0);
  CHECK_EQ(gh_event_free(e2), 0);
  CHECK_EQ(gh_event_free(e), 0);
}

TEST(event_set_wakes_all) {
  enum { N = 10 };
  gh_event e = gh_event_new();
  REQUIRE(e > 0);
  struct op o[N];
  gh_thread t[N];
  for (int i = 0; i < N; i++) {
    op_init(&o[i], e, 5000, i);
    t[i] = gh_spawn(event_wait_body, &o[i]);
    REQUIRE(t[i] > 0);
  }
  CHECK_EQ(gh_sleep(20), 0);
  int early = 0;
  for (int i = 0; i < N; i++) early += o[i].done;
  CHECKF(early == 0, "%d waiter(s) returned before the event was set", early);
  double t0 = now_ms();
  CHECK_EQ(gh_event_set(e, &marker_c), 0);
  int all = 0;
  WAIT_FOR((all = o[0].done + o[1].done + o[2].done + o[3].done + o[4].done + o[5].done +
                  o[6].done + o[7].done + o[8].done + o[9].done) == N, 1000);
  double el = now_ms() - t0;
  CHECKF(all == N, "gh_event_set woke %d of %d waiters", all, N);
  CHECKF(el < 200, "the waiters woke %.1f ms after the set", el);
  for (int i = 0; i < N; i++) {
    JOIN(t[i]);
    CHECK_OP(o[i], 0, "waiter");
    CHECKF(o[i].val == &marker_c, "waiter %d got value %p, want %p", i, o[i].val,
           (void *)&marker_c);
  }
  CHECK_EQ(gh_event_free(e), 0);
}

TEST(event_wait_after_set) {
  gh_event e = gh_event_new();
  REQUIRE(e > 0);
  CHECK_EQ(gh_event_set(e, &marker_a), 0);
  CHECK_EQ(gh_event_is_set(e), 1);
  void *val = UNTOUCHED;
  double t0 = now_ms();
  CHECK_EQ(gh_event_wait(e, &val, -1), 0); /* root, no threads: set, so no EDEADLK */
  CHECK(val == &marker_a);
  val = UNTOUCHED;
  CHECK_EQ(gh_event_wait(e, &val, 0), 0); /* timeout 0: only fails if it would wait */
  CHECK(val == &marker_a);
  CHECK_EQ(gh_event_wait(e, NULL, 30), 0);
  CHECKF(now_ms() - t0 < 20, "three waits on a set event took %.1f ms", now_ms() - t0);
  CHECK_EQ(gh_event_is_set(e), 1); /* waiting does not clear it */
  /* Setting again stores the new value. */
  CHECK_EQ(gh_event_set(e, &marker_b), 0);
  val = UNTOUCHED;
  CHECK_EQ(gh_event_wait(e, &val, 0), 0);
  CHECKF(val == &marker_b, "after a second set, wait returned %p, want %p", val,
         (void *)&marker_b);
  /* A green thread waiting on a set event also returns at once. */
  struct op o;
  op_init(&o, e, 5000, 0);
  gh_thread t = gh_spawn(event_wait_body, &o);
  REQUIRE(t > 0);
  JOIN(t);
  CHECK_OP(o, 0, "green thread wait on a set event");
  CHECK(o.val == &marker_b);
  CHECKF(o.el < 20, "wait on a set event took %.1f ms", o.el);
  CHECK_EQ(gh_event_free(e), 0);
}

TEST(event_clear) {
  gh_event e = gh_event_new();
  REQUIRE(e > 0);
  CHECK_EQ(gh_event_clear(e), 0); /* clearing an unset event is fine */
  CHECK_EQ(gh_event_set(e, &marker_a), 0);
  CHECK_EQ(gh_event_clear(e), 0);
  CHECK_EQ(gh_event_is_set(e), 0);
  void *val = UNTOUCHED;
  double t0 = now_ms();
  CHECK_ERR(gh_event_wait(e, &val, 30), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECKF(el >= 29 && el < 300, "wait(timeout 30) after clear failed after %.1f ms", el);
  CHECKF(val == UNTOUCHED, "a timed out wait wrote the value (%p)", val);
  t0 = now_ms();
  CHECK_ERR(gh_event_wait(e, &val, 0), EAGAIN);
  CHECKF(now_ms() - t0 < 20, "wait(timeout 0) on a cleared event took %.1f ms", now_ms() - t0);
  /* A green thread blocks on the cleared event until it is set again. */
  struct op o;
  op_init(&o, e, 5000, 0);
  gh_thread t = gh_spawn(event_wait_body, &o);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(20), 0);
  CHECKF(!o.done, "wait on a cleared event returned (rc %d errno=%s)", o.rc, th_errname(o.err));
  CHECK_EQ(gh_event_set(e, NULL), 0);
  JOIN(t);
  CHECK_OP(o, 0, "wait after clear, woken by set(NULL)");
  CHECKF(o.val == NULL, "set(NULL): waiter got %p", o.val);
  CHECK_EQ(gh_event_is_set(e), 1);

  /* set wakes every waiter, even if the event is cleared before they get to run. */
  CHECK_EQ(gh_event_clear(e), 0);
  struct op w[3];
  gh_thread wt[3];
  for (int i = 0; i < 3; i++) {
    op_init(&w[i], e, 500, i);
    wt[i] = gh_spawn(event_wait_body, &w[i]);
    REQUIRE(wt[i] > 0);
  }
  CHECK_EQ(gh_sleep(10), 0);
  CHECK_EQ(gh_event_set(e, &marker_b), 0);
  CHECK_EQ(gh_event_clear(e), 0); /* before the woken waiters ran */
  for (int i = 0; i < 3; i++) {
    JOIN(wt[i]);
    CHECKF(w[i].rc == 0 && w[i].val == &marker_b, "waiter %d woken by set then cleared at once: "
           "rc %d errno=%s value %p (want 0 and %p)", i, w[i].rc, th_errname(w[i].err),
           w[i].val, (void *)&marker_b);
  }
  CHECK_EQ(gh_event_is_set(e), 0);
  CHECK_EQ(gh_event_free(e), 0);
}

static int event_deadline_body(void *arg) {
  struct op *o = arg;
  gh_deadline_push(20);
  o->started = 1;
  double t0 = now_ms();
  errno = 0;
  o->rc = gh_event_wait(o->h, &o->val, -1);
  o->err = errno;
  o->el = now_ms() - t0;
  gh_deadline_pop();
  o->done = 1;
  return 0;
}

TEST(event_timeout_deadline_kill) {
  gh_event e = gh_event_new();
  REQUIRE(e > 0);
  struct op to, dl, k;
  op_init(&to, e, 30, 0);
  op_init(&dl, e, -1, 1);
  op_init(&k, e, 5000, 2);
  gh_thread tt = gh_spawn(event_wait_body, &to);
  gh_thread td = gh_spawn(event_deadline_body, &dl);
  gh_thread tk = gh_spawn(event_wait_body, &k);
  REQUIRE(tt > 0 && td > 0 && tk > 0);
  CHECK_EQ(gh_sleep(5), 0);
  CHECK_EQ(gh_kill(tk), 0);
  JOIN(tt);
  JOIN(td);
  JOIN(tk);
  CHECK_OP(to, ETIMEDOUT, "wait(timeout 30)");
  CHECKF(to.el >= 29 && to.el < 300, "wait(timeout 30) failed after %.1f ms", to.el);
  CHECKF(to.val == UNTOUCHED, "timed out wait wrote the value");
  CHECK_OP(dl, ETIMEDOUT, "wait(-1) under gh_deadline_push(20)");
  CHECKF(dl.el >= 19 && dl.el < 300, "the 20 ms deadline fired after %.1f ms", dl.el);
  CHECK_OP(k, ECANCELED, "killed wait");
  CHECKF(k.el < 200, "the killed wait returned after %.1f ms", k.el);
  CHECK_EQ(gh_event_is_set(e), 0);

  /* Root, unset event, no threads, no deadline: nothing can set it. */
  double t0 = now_ms();
  CHECK_ERR(gh_event_wait(e, NULL, -1), EDEADLK);
  CHECKF(now_ms() - t0 < 1000, "EDEADLK took %.1f ms", now_ms() - t0);
  CHECK_EQ(gh_event_set(e, NULL), 0);
  CHECK_EQ(gh_event_wait(e, NULL, -1), 0);
  CHECK_EQ(gh_event_free(e), 0);
}

TEST(event_free) {
  gh_event e = gh_event_new();
  REQUIRE(e > 0);
  enum { N = 3 };
  struct op o[N];
  gh_thread t[N];
  for (int i = 0; i < N; i++) {
    op_init(&o[i], e, 3000, i);
    t[i] = gh_spawn(event_wait_body, &o[i]);
    REQUIRE(t[i] > 0);
  }
  CHECK_EQ(gh_sleep(10), 0);
  double t0 = now_ms();
  CHECK_EQ(gh_event_free(e), 0);
  WAIT_FOR(o[0].done && o[1].done && o[2].done, 1000);
  CHECKF(now_ms() - t0 < 200, "waiters woke %.1f ms after gh_event_free", now_ms() - t0);
  for (int i = 0; i < N; i++) {
    JOIN(t[i]);
    CHECK_OP(o[i], EBADF, "wait on a freed event");
    CHECKF(o[i].val == UNTOUCHED, "wait woken by free wrote the value");
  }
  CHECK_ERR(gh_event_is_set(e), EBADF);
  CHECK_ERR(gh_event_set(e, NULL), EBADF);
  CHECK_ERR(gh_event_clear(e), EBADF);
  CHECK_ERR(gh_event_wait(e, NULL, 0), EBADF);
  CHECK_ERR(gh_event_wait(e, NULL, -1), EBADF);
  CHECK_ERR(gh_event_free(e), EBADF);
  const gh_event bad[] = {0, -1, 1, 0x7fffffff, INT64_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_ERR(gh_event_is_set(bad[i]), EBADF);
    CHECK_ERR(gh_event_set(bad[i], NULL), EBADF);
    CHECK_ERR(gh_event_wait(bad[i], NULL, 0), EBADF);
    CHECK_ERR(gh_event_free(bad[i]), EBADF);
  }
}
