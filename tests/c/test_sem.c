/* greenhub C API tests: semaphores (gh_sem_*). Counting, FIFO waiters, timeouts and deadlines,
 * a killed waiter, bounded semaphores, stat, free, the root's EDEADLK. */
#include "harness.h"
#include "support.h"
#include "support_sync.h"

/* arg: a semaphore; sleeps 20 ms, then releases it once. */
static int sleep_then_release_body(void *arg) {
  if (gh_sleep(20) != 0) return 1;
  return gh_sem_release((gh_sem)(intptr_t)arg) == 0 ? 0 : 2;
}

TEST(sem_counting) {
  CHECK_ERR(gh_sem_new(-1), EINVAL);
  CHECK_ERR(gh_sem_new(INT64_MIN), EINVAL);
  CHECK_ERR(gh_sem_new_bounded(-1), EINVAL);
  gh_sem s = gh_sem_new(3);
  REQUIRE(s > 0);
  int64_t v = -1, w = -1;
  CHECK_EQ(gh_sem_stat(s, &v, &w), 0);
  CHECK_EQ(v, 3);
  CHECK_EQ(w, 0);
  CHECK_EQ(gh_sem_try_acquire(s), 0);
  CHECK_EQ(gh_sem_try_acquire(s), 0);
  CHECK_EQ(gh_sem_try_acquire(s), 0);
  CHECK_ERR(gh_sem_try_acquire(s), EAGAIN);
  CHECK_EQ(sem_value(s), 0);
  CHECK_EQ(gh_sem_release(s), 0);
  CHECK_EQ(sem_value(s), 1);
  /* A free permit: acquire does not wait, whatever the timeout (and the root has no threads). */
  CHECK_EQ(gh_sem_acquire(s, -1), 0);
  CHECK_EQ(sem_value(s), 0);
  /* A plain (unbounded) semaphore may be released past its initial value. */
  for (int i = 0; i < 5; i++) CHECK_EQ(gh_sem_release(s), 0);
  CHECK_EQ(sem_value(s), 5);
  for (int i = 0; i < 5; i++) CHECK_EQ(gh_sem_acquire(s, 0), 0);
  CHECK_ERR(gh_sem_acquire(s, 0), EAGAIN); /* a zero timeout never waits */
  CHECK_ERR(gh_sem_try_acquire(s), EAGAIN);
  CHECK_EQ(sem_value(s), 0);

  gh_sem z = gh_sem_new(0);
  REQUIRE(z > 0);
  CHECKF(z != s, "two live semaphores share the handle %lld", (long long)z);
  CHECK_EQ(sem_value(z), 0);
  CHECK_ERR(gh_sem_try_acquire(z), EAGAIN);
  CHECK_EQ(gh_sem_free(z), 0);
  CHECK_EQ(gh_sem_free(s), 0);
}

TEST(sem_acquire_release) {
  gh_sem s = gh_sem_new(0);
  REQUIRE(s > 0);
  struct op o;
  op_init(&o, s, 5000, 0);
  gh_thread t = gh_spawn(sem_acquire_body, &o);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(30), 0);
  CHECKF(o.started && !o.done, "gh_sem_acquire on an empty semaphore returned at once (rc %d "
         "errno=%s)", o.rc, th_errname(o.err));
  CHECK_EQ(sem_waiting(s), 1);
  CHECK_EQ(sem_value(s), 0);
  CHECK_EQ(gh_sem_release(s), 0);
  /* The permit went to the waiter, not to the pool of free permits. */
  CHECKF(sem_value(s) == 0, "after a release with a waiter, value = %lld (want 0: the permit is "
         "handed to the waiter)", (long long)sem_value(s));
  CHECK_ERR(gh_sem_try_acquire(s), EAGAIN);
  CHECK_EQ(JOIN(t), 0);
  CHECK_OP(o, 0, "acquire woken by release");
  CHECKF(o.el >= 29, "acquire returned after %.1f ms, before the release at ~30 ms", o.el);
  CHECK_EQ(sem_value(s), 0);
  CHECK_EQ(sem_waiting(s), 0);

  /* The root waits while a green thread will release: no EDEADLK, wakes at the release. */
  gh_thread rel = gh_spawn(sleep_then_release_body, (void *)(intptr_t)s);
  REQUIRE(rel > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  double t0 = now_ms();
  errno = 0;
  int rc = gh_sem_acquire(s, -1);
  int e = errno;
  double el = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(rc == 0, "root gh_sem_acquire while a thread sleeps then releases: %d errno=%s", rc,
         th_errname(e));
  CHECKF(el >= 19 && el < 500, "root acquire returned after %.1f ms (release at ~20 ms)", el);
  CHECK_EQ(JOIN(rel), 0);
  CHECK_EQ(sem_value(s), 0);
  CHECK_EQ(gh_sem_release(s), 0);
  CHECK_EQ(sem_value(s), 1);
  CHECK_EQ(gh_sem_free(s), 0);
}

TEST(sem_fifo_5_waiters) {
  enum { N = 5 };
  orders_reset();
  gh_sem s = gh_sem_new(0);
  REQUIRE(s > 0);
  struct op o[N];
  gh_thread t[N];
  for (int i = 0; i < N; i++) {
    op_init(&o[i], s, 5000, i);
    o[i].pre_sleep = (N - 1 - i) * 8; /* queue in reverse spawn order: 4 3 2 1 0 */
    t[i] = gh_spawn(sem_acquire_body, &o[i]);
    REQUIRE(t[i] > 0);
  }
  WAIT_FOR(sem_waiting(s) == N, 2000);
  CHECK_EQ(sem_waiting(s), N);
  CHECK_EQ(enq_n, N);
  CHECK_EQ(got_n, 0);
  char b1[128], b2[128];
  int reversed = 1;
  for (int i = 0; i < N; i++)
    if (enq_order[i] != N - 1 - i) reversed = 0;
  if (!reversed)
    th_note("queueing order was [%s], not the intended 4 3 2 1 0 (timing); FIFO is checked "
            "against the actual queueing order", fmt_ints(b1, sizeof b1, enq_order, enq_n));
  for (int k = 0; k < N; k++) {
    CHECK_EQ(gh_sem_release(s), 0);
    WAIT_FOR(got_n >= k + 1, 1000);
    CHECK_EQ(gh_sleep(3), 0); /* a bug waking more than one would show now */
    CHECKF(got_n == k + 1, "after %d release(s), %d waiter(s) got through", k + 1, got_n);
    CHECK_EQ(sem_waiting(s), N - k - 1);
    CHECK_EQ(sem_value(s), 0);
  }
  CHECKF(got_n == N && same_ints(got_order, enq_order, N),
         "waiters got the permit in order [%s], want the queueing order [%s]",
         fmt_ints(b1, sizeof b1, got_order, got_n), fmt_ints(b2, sizeof b2, enq_order, enq_n));
  for (int i = 0; i < N; i++) {
    JOIN(t[i]);
    CHECK_OP(o[i], 0, "FIFO waiter");
  }
  CHECK_EQ(gh_sem_free(s), 0);
}

static int sem_timeouts_body(void *arg) {
  struct op *o = arg; /* o[0]: timeout 30; o[1]: timeout 0 */
  for (int i = 0; i < 2; i++) {
    o[i].started = 1;
    double t0 = now_ms();
    errno = 0;
    o[i].rc = gh_sem_acquire(o[i].h, o[i].timeout);
    o[i].err = errno;
    o[i].el = now_ms() - t0;
    o[i].done = 1;
  }
  return 0;
}

TEST(sem_timeout) {
  gh_sem s = gh_sem_new(0);
  REQUIRE(s > 0);
  struct op o[2];
  op_init(&o[0], s, 30, 0);
  op_init(&o[1], s, 0, 1);
  gh_thread t = gh_spawn(sem_timeouts_body, o);
  REQUIRE(t > 0);
  CHECK_EQ(JOIN(t), 0);
  CHECK_OP(o[0], ETIMEDOUT, "green thread: acquire(empty, timeout 30)");
  CHECKF(o[0].el >= 29 && o[0].el < 300, "acquire(timeout 30) failed after %.1f ms", o[0].el);
  CHECK_OP(o[1], EAGAIN, "green thread: acquire(empty, timeout 0)");
  CHECKF(o[1].el < 20, "acquire(timeout 0) took %.1f ms (want at once)", o[1].el);
  /* A timed out waiter leaves the queue: the next release is a free permit. */
  CHECK_EQ(sem_waiting(s), 0);
  CHECK_EQ(gh_sem_release(s), 0);
  CHECK_EQ(sem_value(s), 1);
  CHECK_EQ(gh_sem_try_acquire(s), 0);

  /* In the root, with no other thread: a timeout is a timer, so ETIMEDOUT (not EDEADLK). */
  double t0 = now_ms();
  CHECK_ERR(gh_sem_acquire(s, 30), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECKF(el >= 29 && el < 300, "root acquire(timeout 30) failed after %.1f ms", el);
  t0 = now_ms();
  CHECK_ERR(gh_sem_acquire(s, 0), EAGAIN); /* a zero timeout never waits */
  CHECKF(now_ms() - t0 < 20, "root acquire(timeout 0) took %.1f ms", now_ms() - t0);
  CHECK_EQ(sem_waiting(s), 0);
  CHECK_EQ(sem_value(s), 0);
  CHECK_EQ(gh_sem_free(s), 0);
}

struct sem_dl {
  gh_sem s;
  int rc1, err1, rc2, err2, rc3, err3;
  double el1, el2, el3;
};

static int sem_deadline_body(void *arg) {
  struct sem_dl *d = arg;
  gh_deadline_push(20);
  double t0 = now_ms();
  errno = 0;
  d->rc1 = gh_sem_acquire(d->s, -1);
  d->err1 = errno;
  d->el1 = now_ms() - t0;
  t0 = now_ms();
  errno = 0;
  d->rc2 = gh_sem_acquire(d->s, 5000); /* the deadline has passed: fails at once */
  d->err2 = errno;
  d->el2 = now_ms() - t0;
  gh_deadline_pop();
  gh_deadline_push(5000); /* the per-call timeout is earlier: it wins */
  t0 = now_ms();
  errno = 0;
  d->rc3 = gh_sem_acquire(d->s, 20);
  d->err3 = errno;
  d->el3 = now_ms() - t0;
  gh_deadline_pop();
  return 0;
}

TEST(sem_deadline) {
  gh_sem s = gh_sem_new(0);
  REQUIRE(s > 0);
  struct sem_dl d;
  memset(&d, 0, sizeof d);
  d.s = s;
  d.rc1 = d.rc2 = d.rc3 = -2;
  gh_thread t = gh_spawn(sem_deadline_body, &d);
  REQUIRE(t > 0);
  CHECK_EQ(JOIN(t), 0);
  CHECKF(d.rc1 == -1 && d.err1 == ETIMEDOUT, "acquire(-1) under gh_deadline_push(20): %d "
         "errno=%s, want ETIMEDOUT", d.rc1, th_errname(d.err1));
  CHECKF(d.el1 >= 19 && d.el1 < 300, "the 20 ms deadline fired after %.1f ms", d.el1);
  CHECKF(d.rc2 == -1 && d.err2 == ETIMEDOUT && d.el2 < 20, "acquire(5000) after the deadline "
         "passed: %d errno=%s after %.1f ms, want ETIMEDOUT at once", d.rc2,
         th_errname(d.err2), d.el2);
  CHECKF(d.rc3 == -1 && d.err3 == ETIMEDOUT, "acquire(timeout 20) under a 5 s deadline: %d "
         "errno=%s", d.rc3, th_errname(d.err3));
  CHECKF(d.el3 >= 19 && d.el3 < 300, "acquire(timeout 20) under a 5 s deadline failed after "
         "%.1f ms", d.el3);
  CHECK_EQ(sem_waiting(s), 0);

  /* The root's deadline applies too (it is a timer: ETIMEDOUT rather than EDEADLK). */
  CHECK_EQ(gh_deadline_push(20), 0);
  double t0 = now_ms();
  errno = 0;
  int rc = gh_sem_acquire(s, -1);
  int e = errno;
  double el = now_ms() - t0;
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(rc == -1 && e == ETIMEDOUT, "root acquire(-1) under gh_deadline_push(20): %d errno=%s, "
         "want ETIMEDOUT", rc, th_errname(e));
  CHECKF(el < 300, "root acquire under a 20 ms deadline returned after %.1f ms", el);
  CHECK_EQ(sem_waiting(s), 0);
  CHECK_EQ(gh_sem_free(s), 0);
}

TEST(sem_kill_waiter) {
  orders_reset();
  gh_sem s = gh_sem_new(0);
  REQUIRE(s > 0);
  struct op a, b;
  op_init(&a, s, 5000, 0);
  op_init(&b, s, 5000, 1);
  b.pre_sleep = 5; /* queued behind a */
  gh_thread ta = gh_spawn(sem_acquire_body, &a);
  gh_thread tb = gh_spawn(sem_acquire_body, &b);
  REQUIRE(ta > 0 && tb > 0);
  WAIT_FOR(sem_waiting(s) == 2, 2000);
  CHECK_EQ(sem_waiting(s), 2);
  double t0 = now_ms();
  CHECK_EQ(gh_kill(ta), 0);
  WAIT_FOR(a.done, 1000);
  CHECK_OP(a, ECANCELED, "killed acquire");
  CHECKF(now_ms() - t0 < 200, "the killed waiter returned %.1f ms after the kill",
         now_ms() - t0);
  CHECK_EQ(sem_waiting(s), 1);
  CHECK_EQ(sem_value(s), 0);
  CHECK_EQ(gh_sem_release(s), 0);
  WAIT_FOR(b.done, 1000);
  CHECKF(b.done && b.rc == 0, "the waiter behind a killed one did not get the released permit "
         "(done %d rc %d errno=%s)", b.done, b.rc, th_errname(b.err));
  CHECK_EQ(sem_value(s), 0);
  CHECK_EQ(sem_waiting(s), 0);
  JOIN(ta);
  JOIN(tb);

  /* Release, then kill the waiter it was handed to before that waiter ran: the permit must not
   * vanish. Either the waiter got it (rc 0), or it went on to the next waiter / back to the
   * semaphore. */
  struct op a2, b2;
  op_init(&a2, s, 5000, 2);
  op_init(&b2, s, 3000, 3);
  b2.pre_sleep = 5;
  gh_thread ta2 = gh_spawn(sem_acquire_body, &a2);
  gh_thread tb2 = gh_spawn(sem_acquire_body, &b2);
  REQUIRE(ta2 > 0 && tb2 > 0);
  WAIT_FOR(sem_waiting(s) == 2, 2000);
  CHECK_EQ(sem_waiting(s), 2);
  CHECK_EQ(gh_sem_release(s), 0);
  CHECK_EQ(gh_kill(ta2), 0); /* before ta2 could run */
  WAIT_FOR(a2.done, 1000);
  CHECK_EQ(gh_sleep(10), 0);
  int held_a = a2.done && a2.rc == 0;
  int held_b = b2.done && b2.rc == 0;
  int64_t v = sem_value(s);
  th_note("release then kill of the first waiter: its acquire returned %d (%s); second waiter "
          "%s; value %lld", a2.rc, a2.rc == 0 ? "kept the permit" : th_errname(a2.err),
          held_b ? "got the permit" : "still waits", (long long)v);
  CHECKF(a2.rc == 0 || (a2.rc == -1 && a2.err == ECANCELED), "killed waiter: %d errno=%s",
         a2.rc, th_errname(a2.err));
  CHECKF(held_a + held_b + v == 1, "permit lost or duplicated: first waiter holds %d, second %d, "
         "value %lld (want a total of 1)", held_a, held_b, (long long)v);
  CHECKF(!(v > 0 && !b2.done), "a permit is free (value %lld) while a thread still waits",
         (long long)v);
  if (!b2.done) gh_sem_release(s);
  WAIT_FOR(b2.done, 1000);
  CHECK_OP(b2, 0, "second waiter");
  JOIN(ta2);
  JOIN(tb2);
  CHECK_EQ(gh_sem_free(s), 0);
}

TEST(sem_bounded) {
  gh_sem b = gh_sem_new_bounded(2);
  REQUIRE(b > 0);
  CHECK_EQ(sem_value(b), 2);
  CHECK_ERR(gh_sem_release(b), EOVERFLOW);
  CHECKF(sem_value(b) == 2, "value after a failed (EOVERFLOW) release: %lld, want 2",
         (long long)sem_value(b));
  CHECK_EQ(gh_sem_try_acquire(b), 0);
  CHECK_EQ(sem_value(b), 1);
  CHECK_EQ(gh_sem_release(b), 0);
  CHECK_EQ(sem_value(b), 2);
  CHECK_ERR(gh_sem_release(b), EOVERFLOW);
  CHECK_EQ(sem_value(b), 2);

  /* A release handed to a waiter is not an overflow, and does not raise the value. */
  gh_sem one = gh_sem_new_bounded(1);
  REQUIRE(one > 0);
  CHECK_EQ(gh_sem_acquire(one, 0), 0);
  struct op w;
  op_init(&w, one, 3000, 0);
  gh_thread t = gh_spawn(sem_acquire_body, &w);
  REQUIRE(t > 0);
  WAIT_FOR(sem_waiting(one) == 1, 1000);
  CHECK_EQ(gh_sem_release(one), 0); /* handed to w */
  CHECK_EQ(sem_value(one), 0);
  JOIN(t);
  CHECK_OP(w, 0, "bounded waiter");
  CHECK_EQ(sem_value(one), 0);
  CHECK_EQ(gh_sem_release(one), 0); /* w's permit comes back */
  CHECK_EQ(sem_value(one), 1);
  CHECK_ERR(gh_sem_release(one), EOVERFLOW);
  CHECK_EQ(sem_value(one), 1);

  gh_sem zero = gh_sem_new_bounded(0);
  REQUIRE(zero > 0);
  CHECK_ERR(gh_sem_release(zero), EOVERFLOW);
  CHECK_EQ(sem_value(zero), 0);
  CHECK_EQ(gh_sem_free(zero), 0);
  CHECK_EQ(gh_sem_free(one), 0);
  CHECK_EQ(gh_sem_free(b), 0);
}

TEST(sem_stat) {
  gh_sem s = gh_sem_new(2);
  REQUIRE(s > 0);
  CHECK_EQ(gh_sem_stat(s, NULL, NULL), 0);
  int64_t v = -1, w = -1;
  CHECK_EQ(gh_sem_stat(s, &v, NULL), 0);
  CHECK_EQ(v, 2);
  CHECK_EQ(gh_sem_stat(s, NULL, &w), 0);
  CHECK_EQ(w, 0);
  CHECK_EQ(gh_sem_try_acquire(s), 0);
  CHECK_EQ(gh_sem_try_acquire(s), 0);
  enum { N = 3 };
  struct op o[N];
  gh_thread t[N];
  for (int i = 0; i < N; i++) {
    op_init(&o[i], s, 5000, i);
    t[i] = gh_spawn(sem_acquire_body, &o[i]);
    REQUIRE(t[i] > 0);
  }
  WAIT_FOR(sem_waiting(s) == N, 1000);
  v = w = -1;
  CHECK_EQ(gh_sem_stat(s, &v, &w), 0);
  CHECK_EQ(v, 0);
  CHECK_EQ(w, N);
  for (int i = 0; i < N; i++) CHECK_EQ(gh_sem_release(s), 0);
  for (int i = 0; i < N; i++) {
    JOIN(t[i]);
    CHECK_OP(o[i], 0, "waiter");
  }
  CHECK_EQ(gh_sem_stat(s, &v, &w), 0);
  CHECK_EQ(v, 0);
  CHECK_EQ(w, 0);
  CHECK_EQ(gh_sem_release(s), 0);
  CHECK_EQ(gh_sem_release(s), 0);
  CHECK_EQ(gh_sem_stat(s, &v, &w), 0);
  CHECK_EQ(v, 2);
  CHECK_EQ(gh_sem_free(s), 0);
  v = 77;
  w = 78;
  CHECK_ERR(gh_sem_stat(s, &v, &w), EBADF);
  CHECKF(v == 77 && w == 78, "gh_sem_stat on a freed semaphore wrote its outputs (%lld, %lld)",
         (long long)v, (long long)w);
}

TEST(sem_free_and_stale) {
  gh_sem s = gh_sem_new(0);
  REQUIRE(s > 0);
  struct op o[2];
  gh_thread t[2];
  for (int i = 0; i < 2; i++) {
    op_init(&o[i], s, 3000, i);
    t[i] = gh_spawn(sem_acquire_body, &o[i]);
    REQUIRE(t[i] > 0);
  }
  WAIT_FOR(sem_waiting(s) == 2, 1000);
  CHECK_EQ(sem_waiting(s), 2);
  double t0 = now_ms();
  CHECK_EQ(gh_sem_free(s), 0);
  WAIT_FOR(o[0].done && o[1].done, 1000);
  double el = now_ms() - t0;
  for (int i = 0; i < 2; i++) CHECK_OP(o[i], EBADF, "acquire while the semaphore is freed");
  CHECKF(el < 200, "waiters woke %.1f ms after gh_sem_free", el);
  JOIN(t[0]);
  JOIN(t[1]);

  /* The handle is stale now, even after new semaphores are made. */
  gh_sem more[8];
  for (int i = 0; i < 8; i++) {
    more[i] = gh_sem_new(1);
    REQUIRE(more[i] > 0);
    CHECKF(more[i] != s, "a freed semaphore handle (%lld) was handed out again", (long long)s);
  }
  CHECK_ERR(gh_sem_release(s), EBADF);
  CHECK_ERR(gh_sem_try_acquire(s), EBADF);
  CHECK_ERR(gh_sem_acquire(s, 0), EBADF);
  CHECK_ERR(gh_sem_acquire(s, -1), EBADF);
  CHECK_ERR(gh_sem_stat(s, NULL, NULL), EBADF);
  CHECK_ERR(gh_sem_free(s), EBADF);
  for (int i = 0; i < 8; i++) {
    CHECK_EQ(sem_value(more[i]), 1); /* the stale handle touched none of them */
    CHECK_EQ(gh_sem_free(more[i]), 0);
  }
  /* Made-up handles. */
  const gh_sem bad[] = {0, -1, -2, 1, 2, 0x7fffffff, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_ERR(gh_sem_release(bad[i]), EBADF);
    CHECK_ERR(gh_sem_try_acquire(bad[i]), EBADF);
    CHECK_ERR(gh_sem_acquire(bad[i], 0), EBADF);
    CHECK_ERR(gh_sem_stat(bad[i], NULL, NULL), EBADF);
    CHECK_ERR(gh_sem_free(bad[i]), EBADF);
  }
}

TEST(sem_root_edeadlk) {
  gh_sem s = gh_sem_new(0);
  REQUIRE(s > 0);
  /* No deadline here: a deadline is a timer that could legitimately wake the root. */
  double t0 = now_ms();
  CHECK_ERR(gh_sem_acquire(s, -1), EDEADLK);
  CHECKF(now_ms() - t0 < 1000, "EDEADLK took %.1f ms", now_ms() - t0);
  CHECK_EQ(sem_waiting(s), 0);

  /* A green thread blocked forever on another semaphore cannot wake the root either. */
  gh_sem other = gh_sem_new(0);
  REQUIRE(other > 0);
  struct op o;
  op_init(&o, other, -1, 0);
  gh_thread t = gh_spawn(sem_acquire_body, &o);
  REQUIRE(t > 0);
  CHECK_EQ(gh_yield(), 0);
  CHECK_EQ(gh_yield(), 0);
  CHECK(o.started && !o.done);
  t0 = now_ms();
  CHECK_ERR(gh_sem_acquire(s, -1), EDEADLK);
  CHECKF(now_ms() - t0 < 1000, "EDEADLK (other thread stuck) took %.1f ms", now_ms() - t0);
  /* Unstick it. */
  CHECK_EQ(gh_sem_release(other), 0);
  JOIN(t);
  CHECK_OP(o, 0, "thread blocked on the other semaphore");
  /* Still usable afterwards. */
  CHECK_EQ(gh_sem_release(s), 0);
  CHECK_EQ(gh_sem_acquire(s, -1), 0);
  CHECK_EQ(gh_sem_free(other), 0);
  CHECK_EQ(gh_sem_free(s), 0);
}
