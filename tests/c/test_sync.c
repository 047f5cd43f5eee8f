/* greenhub C API tests: synchronization. Semaphores, events, channels, park/unpark, pools of
 * green threads, gh_serve, and the native thread pool (gh_tpool_*).
 *
 * Every wait that a bug could make endless is bounded: green threads use a timeout argument or a
 * deadline, the root pushes ROOT_DEADLINE_MS around joins, and WAIT_FOR polls with a time limit.
 * Root waits that must fail with EDEADLK run without any deadline (a deadline is a timer that
 * could legitimately wake the root); the runner's alarm bounds those.
 */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROOT_DEADLINE_MS 10000

/* A value that no call should ever write: outputs are written only on success. */
static char untouched_mark;
#define UNTOUCHED ((void *)&untouched_mark)

/* Markers passed as values / items. */
static char marker_a, marker_b, marker_c;

/* Polls `cond` (sleeping 1 ms between checks, which runs the hub) for at most `ms` ms. */
#define WAIT_FOR(cond, ms)                                                      \
  do {                                                                          \
    double wf_end_ = now_ms() + (ms);                                           \
    while (!(cond) && now_ms() < wf_end_) gh_sleep(1);                          \
  } while (0)

/* Joins t under a root deadline; checks it succeeded; returns the status (or -12345). */
static int join_at(const char *file, int line, gh_thread t) {
  int st = -12345;
  gh_deadline_push(ROOT_DEADLINE_MS);
  errno = 0;
  int r = gh_join(t, &st);
  int e = errno;
  gh_deadline_pop();
  if (r != 0) th_fail(file, line, e, "gh_join(%lld) failed", (long long)t);
  return st;
}
#define JOIN(t) join_at(__FILE__, __LINE__, (t))

static long os_tid(void) { return (long)syscall(SYS_gettid); }

static void sleep_native_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Captures report lines (gh_set_log): the count, the first two lines. */
struct logcap {
  int calls;
  char first[256];
  char second[256];
};
static void log_capture(void *ctx, const gh_report *report) {
  const char *line = report->text;
  struct logcap *c = ctx;
  if (c->calls == 0) snprintf(c->first, sizeof c->first, "%s", line ? line : "(null)");
  if (c->calls == 1) snprintf(c->second, sizeof c->second, "%s", line ? line : "(null)");
  c->calls++;
}

/* ---- order logs ---- */

static int enq_order[128], enq_n; /* who started waiting, in order */
static int got_order[128], got_n; /* who got through, in order */

static void orders_reset(void) {
  enq_n = got_n = 0;
  memset(enq_order, -1, sizeof enq_order);
  memset(got_order, -1, sizeof got_order);
}
static void enq_add(int i) {
  if (enq_n < 128) enq_order[enq_n++] = i;
}
static void got_add(int i) {
  if (got_n < 128) got_order[got_n++] = i;
}

static const char *fmt_ints(char *out, size_t cap, const int *a, int n) {
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    size_t l = strlen(out);
    snprintf(out + l, cap - l, "%s%d", i ? " " : "", a[i]);
  }
  return out;
}

static int same_ints(const int *a, const int *b, int n) {
  for (int i = 0; i < n; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

/* ---- one blocking operation run by a green thread ---- */

struct op {
  int64_t h;        /* the handle waited on */
  int64_t timeout;  /* timeout_ms argument */
  int idx;          /* index recorded in the order logs */
  int pre_sleep;    /* ms to sleep before the call */
  int deadline;     /* > 0: gh_deadline_push(deadline) around the call */
  void *item;       /* item to send / value to set */
  int release_after; /* semaphore: release right after a successful acquire */
  volatile int started, done;
  int rc, err;
  double el;        /* duration of the call, ms */
  void *val;        /* value / item received */
};

static void op_init(struct op *o, int64_t h, int64_t timeout, int idx) {
  memset(o, 0, sizeof *o);
  o->h = h;
  o->timeout = timeout;
  o->idx = idx;
  o->rc = -2;
  o->val = UNTOUCHED;
}

static void op_begin(struct op *o) {
  if (o->pre_sleep > 0) gh_sleep(o->pre_sleep);
  if (o->deadline > 0) gh_deadline_push(o->deadline);
  enq_add(o->idx);
  o->started = 1;
  errno = 0;
}

static void op_end(struct op *o, int rc, double t0) {
  o->rc = rc;
  o->err = errno;
  o->el = now_ms() - t0;
  if (o->deadline > 0) gh_deadline_pop();
  if (rc == 0) got_add(o->idx);
  o->done = 1;
}

static int sem_acquire_body(void *arg) {
  struct op *o = arg;
  op_begin(o);
  double t0 = now_ms();
  int rc = gh_sem_acquire(o->h, o->timeout);
  op_end(o, rc, t0);
  if (rc == 0 && o->release_after) gh_sem_release(o->h);
  return 0;
}

static int event_wait_body(void *arg) {
  struct op *o = arg;
  op_begin(o);
  double t0 = now_ms();
  int rc = gh_event_wait(o->h, &o->val, o->timeout);
  op_end(o, rc, t0);
  return 0;
}

static int chan_send_body(void *arg) {
  struct op *o = arg;
  op_begin(o);
  double t0 = now_ms();
  int rc = gh_chan_send(o->h, o->item, o->timeout);
  op_end(o, rc, t0);
  return 0;
}

static int chan_recv_body(void *arg) {
  struct op *o = arg;
  op_begin(o);
  double t0 = now_ms();
  int rc = gh_chan_recv(o->h, &o->val, o->timeout);
  op_end(o, rc, t0);
  return 0;
}

static int park_body(void *arg) {
  struct op *o = arg;
  op_begin(o);
  double t0 = now_ms();
  int rc = gh_park(&o->val);
  op_end(o, rc, t0);
  return 0;
}

/* Checks a finished op: rc 0, or -1 with errno `want_err`. */
#define CHECK_OP(o, want_err, what)                                                       \
  do {                                                                                    \
    if (!(o).done)                                                                        \
      th_fail(__FILE__, __LINE__, -1, "%s: the call has not returned", what);             \
    else if ((want_err) == 0 && (o).rc != 0)                                              \
      th_fail(__FILE__, __LINE__, -1, "%s: got %d errno=%s, want 0", what, (o).rc,        \
              th_errname((o).err));                                                       \
    else if ((want_err) != 0 && ((o).rc != -1 || (o).err != (want_err)))                  \
      th_fail(__FILE__, __LINE__, -1, "%s: got %d errno=%s, want -1 errno=%s", what,      \
              (o).rc, th_errname((o).err), th_errname(want_err));                         \
  } while (0)

static int64_t sem_value(gh_sem s) {
  int64_t v = -99;
  if (gh_sem_stat(s, &v, NULL) != 0) return -99;
  return v;
}
static int64_t sem_waiting(gh_sem s) {
  int64_t w = -99;
  if (gh_sem_stat(s, NULL, &w) != 0) return -99;
  return w;
}
static int64_t chan_len(gh_chan c) {
  int64_t v = -99;
  if (gh_chan_stat(c, &v, NULL, NULL) != 0) return -99;
  return v;
}
static int64_t chan_senders(gh_chan c) {
  int64_t v = -99;
  if (gh_chan_stat(c, NULL, &v, NULL) != 0) return -99;
  return v;
}
static int64_t chan_receivers(gh_chan c) {
  int64_t v = -99;
  if (gh_chan_stat(c, NULL, NULL, &v) != 0) return -99;
  return v;
}
static int64_t pool_running(gh_pool p) {
  int64_t v = -99;
  if (gh_pool_stat(p, NULL, &v, NULL) != 0) return -99;
  return v;
}
static int64_t pool_waiting(gh_pool p) {
  int64_t v = -99;
  if (gh_pool_stat(p, NULL, NULL, &v) != 0) return -99;
  return v;
}

/* ========================================================================================== */
/* semaphores                                                                                 */

/* arg: a semaphore; sleeps 20 ms, then releases it once. */
static int sleep_then_release_body(void *arg) {
  if (gh_sleep(20) != 0) return 1;
  return gh_sem_release((gh_sem)(intptr_t)arg) == 0 ? 0 : 2;
}

static void test_sem_counting(void) {
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

static void test_sem_acquire_release(void) {
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

static void test_sem_fifo_5_waiters(void) {
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

static void test_sem_timeout(void) {
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

static void test_sem_deadline(void) {
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

static void test_sem_kill_waiter(void) {
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

static void test_sem_bounded(void) {
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

static void test_sem_stat(void) {
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

static void test_sem_free_and_stale(void) {
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

static void test_sem_root_edeadlk(void) {
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

/* ---- the seed's pattern: no locks between blocking calls; a semaphore around I/O ---- */

enum { SEED_THREADS = 50, SEED_APPENDS = 20 };
static int seed_arr[SEED_THREADS * SEED_APPENDS + 16];
static int seed_n;

static int seed_append_body(void *arg) {
  int id = (int)(intptr_t)arg;
  for (int j = 0; j < SEED_APPENDS; j++) {
    seed_arr[seed_n++] = id * SEED_APPENDS + j + 1; /* no lock: no preemption */
    if (gh_yield() != 0) return 1;
  }
  return 0;
}

struct counter_ctx {
  gh_sem sem; /* 0: no semaphore */
  int counter;
  int inside, max_inside;
  int errors;
};

static int counter_body(void *arg) {
  struct counter_ctx *c = arg;
  for (int k = 0; k < 5; k++) {
    if (c->sem && gh_sem_acquire(c->sem, 5000) != 0) {
      c->errors++;
      return 1;
    }
    c->inside++;
    if (c->inside > c->max_inside) c->max_inside = c->inside;
    int v = c->counter; /* read */
    gh_sleep(1);        /* I/O in the middle: other threads run */
    c->counter = v + 1; /* modify-write */
    c->inside--;
    if (c->sem && gh_sem_release(c->sem) != 0) c->errors++;
  }
  return 0;
}

static void run_counter(struct counter_ctx *c, int nthreads) {
  gh_thread t[20];
  for (int i = 0; i < nthreads; i++) {
    t[i] = gh_spawn(counter_body, c);
    if (t[i] <= 0) {
      th_fail(__FILE__, __LINE__, errno, "spawn");
      return;
    }
  }
  for (int i = 0; i < nthreads; i++) CHECK_EQ(JOIN(t[i]), 0);
}

static void test_sem_seed_pattern(void) {
  seed_n = 0;
  memset(seed_arr, 0, sizeof seed_arr);
  gh_thread t[SEED_THREADS];
  for (int i = 0; i < SEED_THREADS; i++) {
    t[i] = gh_spawn(seed_append_body, (void *)(intptr_t)i);
    REQUIRE(t[i] > 0);
  }
  for (int i = 0; i < SEED_THREADS; i++) CHECK_EQ(JOIN(t[i]), 0);
  const int total = SEED_THREADS * SEED_APPENDS;
  CHECK_EQ(seed_n, total);
  long long sum = 0;
  static unsigned char seen[SEED_THREADS * SEED_APPENDS + 1];
  memset(seen, 0, sizeof seen);
  int dup = 0, out = 0;
  for (int i = 0; i < seed_n && i < total; i++) {
    sum += seed_arr[i];
    if (seed_arr[i] < 1 || seed_arr[i] > total) out++;
    else if (seen[seed_arr[i]]++) dup++;
  }
  CHECKF(sum == (long long)total * (total + 1) / 2 && dup == 0 && out == 0,
         "shared array: sum %lld (want %lld), %d duplicates, %d out of range", sum,
         (long long)total * (total + 1) / 2, dup, out);
  /* Interleaving really happened (each append was followed by a yield). */
  CHECKF(seed_arr[1] != seed_arr[0] + 1, "no interleaving: the first thread appended twice in a "
         "row although it yielded in between");

  /* With a semaphore(1) around read-modify-write that blocks in the middle: exact. */
  struct counter_ctx with;
  memset(&with, 0, sizeof with);
  with.sem = gh_sem_new(1);
  REQUIRE(with.sem > 0);
  run_counter(&with, 20);
  CHECK_EQ(with.errors, 0);
  CHECKF(with.counter == 100, "with a semaphore(1): counter = %d, want 100", with.counter);
  CHECKF(with.max_inside == 1, "with a semaphore(1): %d threads were inside at once",
         with.max_inside);
  CHECK_EQ(sem_value(with.sem), 1);
  CHECK_EQ(gh_sem_free(with.sem), 0);

  /* Without it: updates are lost (shown, not checked). */
  struct counter_ctx without;
  memset(&without, 0, sizeof without);
  run_counter(&without, 20);
  th_note("without the semaphore: counter = %d of 100 (%d updates lost), up to %d threads "
          "inside the read-modify-write at once", without.counter, 100 - without.counter,
          without.max_inside);
}

/* ========================================================================================== */
/* events                                                                                     */

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

static void test_event_wait_blocks_until_set(void) {
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

static void test_event_set_wakes_all(void) {
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

static void test_event_wait_after_set(void) {
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

static void test_event_clear(void) {
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

static void test_event_timeout_deadline_kill(void) {
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

static void test_event_free(void) {
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

/* ========================================================================================== */
/* channels                                                                                   */

#define ITEM(n) ((void *)(intptr_t)(n))

static void test_chan_new_invalid(void) {
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

static void test_chan_bounded_try(void) {
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

static void test_chan_send_timeout(void) {
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

static void test_chan_fifo(void) {
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

static void test_chan_blocked_senders_order(void) {
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

static void test_chan_unbounded_10000(void) {
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

static void test_chan_rendezvous(void) {
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

static void test_chan_rendezvous_send_timeout(void) {
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

static void test_chan_close(void) {
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

static void test_chan_kill_receiver(void) {
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

static void test_chan_kill_sender(void) {
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
static void test_chan_kill_after_handoff(void) {
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

static void test_chan_stat(void) {
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

static void test_chan_free(void) {
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

static void test_chan_root_edeadlk(void) {
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

/* ========================================================================================== */
/* park / unpark                                                                              */

static void test_park_unpark_value(void) {
  struct op o;
  op_init(&o, 0, -1, 0);
  o.deadline = 5000;
  gh_thread t = gh_spawn(park_body, &o);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(30), 0);
  CHECKF(o.started && !o.done, "gh_park returned with nobody unparking (rc %d errno=%s)", o.rc,
         th_errname(o.err));
  CHECK_EQ(gh_unpark(t, &marker_a), 0);
  JOIN(t);
  CHECK_OP(o, 0, "park woken by unpark");
  CHECKF(o.val == &marker_a, "park returned value %p, want %p", o.val, (void *)&marker_a);
  CHECKF(o.el >= 29, "park returned after %.1f ms, before the unpark at ~30 ms", o.el);
}

static int park_null_body(void *arg) {
  struct op *o = arg;
  gh_deadline_push(5000);
  o->started = 1;
  errno = 0;
  o->rc = gh_park(NULL);
  o->err = errno;
  gh_deadline_pop();
  o->done = 1;
  return 0;
}

struct park2 {
  int pre_sleep;
  int rc1, err1, rc2, err2;
  double el1, el2;
  void *v1, *v2;
};

static int park_twice_body(void *arg) {
  struct park2 *p = arg;
  if (p->pre_sleep) gh_sleep(p->pre_sleep);
  gh_deadline_push(1000);
  double t0 = now_ms();
  errno = 0;
  p->rc1 = gh_park(&p->v1);
  p->err1 = errno;
  p->el1 = now_ms() - t0;
  gh_deadline_pop();
  gh_deadline_push(30);
  t0 = now_ms();
  errno = 0;
  p->rc2 = gh_park(&p->v2);
  p->err2 = errno;
  p->el2 = now_ms() - t0;
  gh_deadline_pop();
  return 0;
}

static void test_unpark_before_park(void) {
  /* Unparked before it even started: its first park returns at once with the value; the token
   * is used up, so the second park waits (until its deadline). */
  struct park2 p;
  memset(&p, 0, sizeof p);
  p.v1 = p.v2 = UNTOUCHED;
  gh_thread t = gh_spawn(park_twice_body, &p);
  REQUIRE(t > 0);
  CHECK_EQ(gh_unpark(t, &marker_a), 0);
  JOIN(t);
  CHECKF(p.rc1 == 0 && p.v1 == &marker_a, "first park after an early unpark: rc %d errno=%s "
         "value %p (want %p)", p.rc1, th_errname(p.err1), p.v1, (void *)&marker_a);
  CHECKF(p.el1 < 20, "first park after an early unpark took %.1f ms (want at once)", p.el1);
  CHECKF(p.rc2 == -1 && p.err2 == ETIMEDOUT, "second park (token used up): rc %d errno=%s, want "
         "ETIMEDOUT", p.rc2, th_errname(p.err2));
  CHECKF(p.v2 == UNTOUCHED, "a timed out park wrote the value");

  /* Two unparks while it sleeps: one token is kept, the later value replaces the earlier. */
  memset(&p, 0, sizeof p);
  p.v1 = p.v2 = UNTOUCHED;
  p.pre_sleep = 20;
  t = gh_spawn(park_twice_body, &p);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(5), 0); /* it is in gh_sleep(20) now */
  CHECK_EQ(gh_unpark(t, &marker_a), 0);
  CHECK_EQ(gh_unpark(t, &marker_b), 0);
  JOIN(t);
  CHECKF(p.rc1 == 0 && p.v1 == &marker_b, "park after two unparks: rc %d errno=%s value %p "
         "(want the later %p; the earlier was %p)", p.rc1, th_errname(p.err1), p.v1,
         (void *)&marker_b, (void *)&marker_a);
  CHECKF(p.el1 < 20, "park with a pending unpark took %.1f ms", p.el1);
  CHECKF(p.rc2 == -1 && p.err2 == ETIMEDOUT, "second park after two unparks: rc %d errno=%s, "
         "want ETIMEDOUT (only one token is kept)", p.rc2, th_errname(p.err2));

  /* gh_park(NULL) is allowed. */
  struct op o;
  op_init(&o, 0, -1, 0);
  t = gh_spawn(park_null_body, &o);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(5), 0);
  CHECK_EQ(gh_unpark(t, &marker_c), 0);
  JOIN(t);
  CHECK_OP(o, 0, "gh_park(NULL)");
}

static void test_park_deadline(void) {
  struct op o;
  op_init(&o, 0, -1, 0);
  o.deadline = 20;
  gh_thread t = gh_spawn(park_body, &o);
  REQUIRE(t > 0);
  JOIN(t);
  CHECK_OP(o, ETIMEDOUT, "park under gh_deadline_push(20)");
  CHECKF(o.el >= 19 && o.el < 300, "the 20 ms deadline fired after %.1f ms", o.el);
  CHECKF(o.val == UNTOUCHED, "a timed out park wrote the value");
  /* The root parks under a deadline: it is a timer, so ETIMEDOUT. */
  void *v = UNTOUCHED;
  CHECK_EQ(gh_deadline_push(20), 0);
  double t0 = now_ms();
  errno = 0;
  int rc = gh_park(&v);
  int e = errno;
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(rc == -1 && e == ETIMEDOUT, "root gh_park under a 20 ms deadline: %d errno=%s", rc,
         th_errname(e));
  CHECKF(now_ms() - t0 < 300, "root park under a 20 ms deadline took %.1f ms", now_ms() - t0);
  CHECK(v == UNTOUCHED);
  /* Root, no threads, no deadline: nothing can unpark it. */
  t0 = now_ms();
  CHECK_ERR(gh_park(&v), EDEADLK);
  CHECKF(now_ms() - t0 < 1000, "EDEADLK took %.1f ms", now_ms() - t0);
}

struct unparker {
  gh_thread target;
  int delay_ms;
  void *value;
  int rc, err;
};

static int unparker_body(void *arg) {
  struct unparker *u = arg;
  if (gh_sleep(u->delay_ms) != 0) return 1;
  errno = 0;
  u->rc = gh_unpark(u->target, u->value);
  u->err = errno;
  return 0;
}

static void test_park_root(void) {
  /* 0 names the root: a green thread unparks the parked root. */
  struct unparker u = {0, 20, &marker_c, -2, 0};
  gh_thread t = gh_spawn(unparker_body, &u);
  REQUIRE(t > 0);
  void *v = UNTOUCHED;
  gh_deadline_push(ROOT_DEADLINE_MS);
  double t0 = now_ms();
  errno = 0;
  int rc = gh_park(&v);
  int e = errno;
  double el = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(rc == 0 && v == &marker_c, "root gh_park, unparked by a green thread with gh_unpark(0): "
         "rc %d errno=%s value %p (want %p)", rc, th_errname(e), v, (void *)&marker_c);
  CHECKF(el >= 19 && el < 500, "root park returned after %.1f ms (unpark at ~20 ms)", el);
  JOIN(t);
  CHECKF(u.rc == 0, "gh_unpark(0) from a green thread: %d errno=%s", u.rc, th_errname(u.err));
  /* A pending unpark for the root: its next park returns at once. */
  CHECK_EQ(gh_unpark(0, &marker_a), 0);
  v = UNTOUCHED;
  t0 = now_ms();
  CHECK_EQ(gh_park(&v), 0);
  CHECK(v == &marker_a);
  CHECKF(now_ms() - t0 < 20, "root park with a pending unpark took %.1f ms", now_ms() - t0);
  /* Token used up, nobody else: EDEADLK. */
  CHECK_ERR(gh_park(&v), EDEADLK);
}

static void test_park_kill(void) {
  struct op o;
  op_init(&o, 0, -1, 0);
  o.deadline = 5000;
  gh_thread t = gh_spawn(park_body, &o);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(10), 0);
  CHECK(o.started && !o.done);
  double t0 = now_ms();
  CHECK_EQ(gh_kill(t), 0);
  WAIT_FOR(o.done, 1000);
  CHECK_OP(o, ECANCELED, "killed park");
  CHECKF(now_ms() - t0 < 200, "killed park returned %.1f ms after the kill", now_ms() - t0);
  CHECK(o.val == UNTOUCHED);
  CHECK_EQ(gh_sleep(5), 0); /* it has ended (not joined yet) */
  CHECK_ERR(gh_unpark(t, NULL), EBADF);
  JOIN(t);
}

static int sleep_ms_body(void *arg) { return gh_sleep((int64_t)(intptr_t)arg) == 0 ? 0 : 1; }

static void test_unpark_ebadf(void) {
  gh_thread t = gh_spawn(sleep_ms_body, (void *)(intptr_t)5);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(40), 0); /* ended, not joined */
  CHECK_ERR(gh_unpark(t, NULL), EBADF);
  int st = JOIN(t);
  (void)st;
  CHECK_ERR(gh_unpark(t, NULL), EBADF); /* joined: stale */
  const gh_thread bad[] = {-1, -3, 0x7fffffff, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_ERR(gh_unpark(bad[i], NULL), EBADF);
  /* Handles of other kinds are not threads. */
  gh_sem s = gh_sem_new(0);
  REQUIRE(s > 0);
  CHECK_ERR(gh_unpark((gh_thread)s, NULL), EBADF);
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  CHECK_ERR(gh_unpark((gh_thread)l, NULL), EBADF);
  gh_close(l);
  CHECK_EQ(gh_sem_free(s), 0);
}

/* A thread blocked in some other wait; unpark must not end that wait. Afterwards the thread's
 * next gh_park returns at once with the value. */
enum { W_SLEEP, W_RECV, W_SEM, W_EVENT, W_CHAN, W_JOIN, W_COUNT };
static const char *const w_names[W_COUNT] = {"gh_sleep(60)", "gh_recv", "gh_sem_acquire",
                                             "gh_event_wait", "gh_chan_recv", "gh_join"};

struct unp {
  int kind;
  int64_t h; /* socket / sem / event / chan / thread */
  volatile int in_wait, wait_done;
  ssize_t wait_rc;
  int wait_err;
  double wait_el;
  char buf[16];
  void *got;
  int park_rc, park_err;
  double park_el;
  void *park_val;
};

static int unp_body(void *arg) {
  struct unp *u = arg;
  gh_deadline_push(5000);
  u->in_wait = 1;
  double t0 = now_ms();
  errno = 0;
  switch (u->kind) {
    case W_SLEEP: u->wait_rc = gh_sleep(60); break;
    case W_RECV: u->wait_rc = gh_recv(u->h, u->buf, sizeof u->buf); break;
    case W_SEM: u->wait_rc = gh_sem_acquire(u->h, -1); break;
    case W_EVENT: u->wait_rc = gh_event_wait(u->h, &u->got, -1); break;
    case W_CHAN: u->wait_rc = gh_chan_recv(u->h, &u->got, -1); break;
    case W_JOIN: u->wait_rc = gh_join(u->h, NULL); break;
  }
  u->wait_err = errno;
  u->wait_el = now_ms() - t0;
  u->wait_done = 1;
  t0 = now_ms();
  errno = 0;
  u->park_val = UNTOUCHED;
  u->park_rc = gh_park(&u->park_val);
  u->park_err = errno;
  u->park_el = now_ms() - t0;
  gh_deadline_pop();
  return 0;
}

/* early: unpark before the thread even starts its wait (a pending token), else while it
 * waits. */
static void unpark_other_waits(int early) {
  for (int kind = 0; kind < W_COUNT; kind++) {
    char name[64];
    snprintf(name, sizeof name, "%s%s", w_names[kind], early ? " (unparked before it)" : "");
    struct unp u;
    memset(&u, 0, sizeof u);
    u.kind = kind;
    u.wait_rc = -2;
    u.got = UNTOUCHED;
    gh_sock a = 0, b = 0;
    gh_thread other = 0;
    switch (kind) {
      case W_RECV:
        if (make_pair(&a, &b) != 0) return;
        u.h = b;
        break;
      case W_SEM: u.h = gh_sem_new(0); break;
      case W_EVENT: u.h = gh_event_new(); break;
      case W_CHAN: u.h = gh_chan_new(1); break;
      case W_JOIN:
        other = gh_spawn(sleep_ms_body, (void *)(intptr_t)60);
        u.h = other;
        break;
      default: break;
    }
    if (kind != W_SLEEP) REQUIRE(u.h > 0);
    gh_thread t = gh_spawn(unp_body, &u);
    REQUIRE(t > 0);
    if (early) CHECK_EQ(gh_unpark(t, &marker_a), 0); /* before it ran */
    CHECK_EQ(gh_sleep(10), 0);
    CHECKF(u.in_wait && !u.wait_done, "%s: not blocked (rc %zd errno=%s)", name, u.wait_rc,
           th_errname(u.wait_err));
    if (!early) CHECK_EQ(gh_unpark(t, &marker_a), 0);
    CHECK_EQ(gh_sleep(30), 0);
    CHECKF(!u.wait_done, "%s was ended by gh_unpark (rc %zd errno=%s after %.1f ms)", name,
           u.wait_rc, th_errname(u.wait_err), u.wait_el);
    /* Now its own event. */
    switch (kind) {
      case W_RECV: CHECK_EQ(gh_sendall(a, "xyz", 3), 0); break;
      case W_SEM: CHECK_EQ(gh_sem_release(u.h), 0); break;
      case W_EVENT: CHECK_EQ(gh_event_set(u.h, &marker_b), 0); break;
      case W_CHAN: CHECK_EQ(gh_chan_try_send(u.h, &marker_b), 0); break;
      default: break; /* sleep and join end by themselves (~60 ms) */
    }
    JOIN(t);
    switch (kind) {
      case W_SLEEP:
        CHECKF(u.wait_rc == 0 && u.wait_el >= 59, "gh_sleep(60) with an unpark in between: rc "
               "%zd errno=%s after %.1f ms", u.wait_rc, th_errname(u.wait_err), u.wait_el);
        break;
      case W_RECV:
        CHECKF(u.wait_rc == 3 && memcmp(u.buf, "xyz", 3) == 0, "gh_recv with an unpark in "
               "between: rc %zd errno=%s", u.wait_rc, th_errname(u.wait_err));
        break;
      case W_EVENT:
      case W_CHAN:
        CHECKF(u.wait_rc == 0 && u.got == &marker_b, "%s with an unpark in between: rc %zd "
               "errno=%s value %p (want %p)", name, u.wait_rc, th_errname(u.wait_err), u.got,
               (void *)&marker_b);
        break;
      default:
        CHECKF(u.wait_rc == 0, "%s with an unpark in between: rc %zd errno=%s", name, u.wait_rc,
               th_errname(u.wait_err));
        break;
    }
    CHECKF(u.park_rc == 0 && u.park_val == &marker_a && u.park_el < 20, "%s: the park after it "
           "should return at once with the pending value: rc %d errno=%s value %p (want %p) "
           "after %.1f ms", name, u.park_rc, th_errname(u.park_err), u.park_val,
           (void *)&marker_a, u.park_el);
    switch (kind) {
      case W_RECV:
        gh_close(a);
        gh_close(b);
        break;
      case W_SEM: gh_sem_free(u.h); break;
      case W_EVENT: gh_event_free(u.h); break;
      case W_CHAN: gh_chan_free(u.h); break;
      default: break;
    }
  }
}

static void test_unpark_does_not_wake_other_waits(void) { unpark_other_waits(0); }
static void test_unpark_pending_does_not_end_other_waits(void) { unpark_other_waits(1); }

/* ========================================================================================== */
/* pools of green threads                                                                     */

struct pool_ctx {
  int limit;      /* the most that may run at once (for the over-limit count) */
  int sleep_ms;   /* worker: sleep this long ... */
  gh_event go;    /* ... or, if set (> 0), wait for this event */
  int cur, max, over;
  int started, finished, errs;
};

static int pool_worker(void *arg) {
  struct pool_ctx *c = arg;
  c->started++;
  c->cur++;
  if (c->cur > c->max) c->max = c->cur;
  if (c->cur > c->limit) c->over++;
  int rc = c->go > 0 ? gh_event_wait(c->go, NULL, 5000) : gh_sleep(c->sleep_ms);
  if (rc != 0) c->errs++;
  c->cur--;
  c->finished++;
  return 0;
}

struct spawner {
  gh_pool p;
  gh_fn fn;
  void *arg;
  int n;         /* threads to spawn */
  int detached;  /* spawn them detached (else joinable, ids kept) */
  int pre_sleep; /* ms before the first spawn */
  int idx;       /* for the order logs */
  struct pool_ctx *ctx;
  volatile int spawned, done;
  int rc, err;
  gh_thread ids[8];
  double t_spawn[8];
  int finished_at_spawn[8];
};

static int spawner_body(void *arg) {
  struct spawner *s = arg;
  if (s->pre_sleep) gh_sleep(s->pre_sleep);
  gh_deadline_push(5000);
  enq_add(s->idx);
  gh_spawn_opts o;
  opts_init(&o);
  o.detached = s->detached != 0;
  o.name = "pool-worker";
  for (int i = 0; i < s->n && i < 8; i++) {
    errno = 0;
    s->ids[i] = gh_pool_spawn(s->p, s->fn, s->arg, &o);
    if (s->ids[i] <= 0) {
      s->rc = -1;
      s->err = errno;
      break;
    }
    if (i == 0) got_add(s->idx);
    s->t_spawn[i] = now_ms();
    s->finished_at_spawn[i] = s->ctx ? s->ctx->finished : 0;
    s->spawned++;
  }
  gh_deadline_pop();
  s->done = 1;
  return 0;
}

static void spawner_init(struct spawner *s, gh_pool p, struct pool_ctx *ctx, int n) {
  memset(s, 0, sizeof *s);
  s->p = p;
  s->fn = pool_worker;
  s->arg = ctx;
  s->ctx = ctx;
  s->n = n;
  s->detached = 1;
}

static void test_pool_limits_concurrency(void) {
  enum { N = 10 };
  gh_pool p = gh_pool_new(3);
  REQUIRE(p > 0);
  struct pool_ctx c;
  memset(&c, 0, sizeof c);
  c.limit = 3;
  c.sleep_ms = 10;
  gh_thread t[N];
  double ts[N];
  gh_deadline_push(ROOT_DEADLINE_MS);
  double t0 = now_ms();
  for (int i = 0; i < N; i++) {
    errno = 0;
    t[i] = gh_pool_spawn(p, pool_worker, &c, NULL); /* blocks the root while 3 run */
    ts[i] = now_ms() - t0;
    if (t[i] <= 0) {
      th_fail(__FILE__, __LINE__, errno, "gh_pool_spawn #%d", i);
      gh_deadline_pop();
      return;
    }
  }
  CHECK_EQ(gh_pool_wait(p), 0);
  double el = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(c.finished == N, "gh_pool_wait returned with %d of %d threads finished", c.finished, N);
  CHECKF(c.max == 3 && c.over == 0, "pool of 3: at most %d ran at once (%d times over 3), want "
         "exactly 3", c.max, c.over);
  CHECK_EQ(c.errs, 0);
  CHECKF(ts[2] < 5, "the first 3 spawns took %.1f ms (the pool had room)", ts[2]);
  CHECKF(ts[3] >= 9, "the 4th spawn into a full pool returned after %.1f ms (want >= ~10: it "
         "waits for a slot)", ts[3]);
  CHECKF(el >= 35, "10 threads of 10 ms in a pool of 3 took %.1f ms (want >= ~40: 4 rounds)",
         el);
  for (int i = 0; i < N; i++) CHECK_EQ(JOIN(t[i]), 0); /* NULL opts: joinable */
  int64_t size = -1, running = -1, waiting = -1;
  CHECK_EQ(gh_pool_stat(p, &size, &running, &waiting), 0);
  CHECK(size == 3 && running == 0 && waiting == 0);
  th_note("10 x 10 ms in a pool of 3: %.1f ms", el);
  CHECK_EQ(gh_pool_free(p), 0);
}

static void test_pool_spawn_blocks_while_full(void) {
  orders_reset();
  gh_pool p = gh_pool_new(2);
  REQUIRE(p > 0);
  struct pool_ctx c;
  memset(&c, 0, sizeof c);
  c.limit = 2;
  c.sleep_ms = 50;
  struct spawner s;
  spawner_init(&s, p, &c, 3);
  double t0 = now_ms();
  gh_thread st = gh_spawn(spawner_body, &s);
  REQUIRE(st > 0);
  CHECK_EQ(gh_sleep(20), 0);
  CHECKF(s.spawned == 2, "spawner into a pool of 2: %d spawn(s) returned after 20 ms, want 2 "
         "(the 3rd waits)", s.spawned);
  int64_t size = -1, running = -1, waiting = -1;
  CHECK_EQ(gh_pool_stat(p, &size, &running, &waiting), 0);
  CHECKF(size == 2 && running == 2 && waiting == 1, "stat: size %lld running %lld waiting %lld, "
         "want 2 2 1", (long long)size, (long long)running, (long long)waiting);
  JOIN(st);
  CHECKF(s.rc == 0 && s.spawned == 3, "spawner: %d spawned, rc %d errno=%s", s.spawned, s.rc,
         th_errname(s.err));
  CHECKF(s.t_spawn[2] - t0 >= 45, "the 3rd spawn returned %.1f ms after the start (want >= ~50, "
         "when a worker ended)", s.t_spawn[2] - t0);
  CHECKF(s.finished_at_spawn[2] >= 1, "the 3rd spawn returned before any worker finished");
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_pool_wait(p), 0);
  gh_deadline_pop();
  CHECK_EQ(c.finished, 3);
  CHECK(c.max == 2 && c.over == 0);
  CHECK_EQ(gh_pool_free(p), 0);

  /* Waiting spawners get in in FIFO order. */
  orders_reset();
  gh_pool q = gh_pool_new(1);
  REQUIRE(q > 0);
  struct pool_ctx g;
  memset(&g, 0, sizeof g);
  g.limit = 1;
  g.go = gh_event_new();
  REQUIRE(g.go > 0);
  gh_spawn_opts det;
  opts_init(&det);
  det.detached = true;
  CHECK(gh_pool_spawn(q, pool_worker, &g, &det) > 0); /* holds the only slot until go */
  enum { M = 3 };
  struct spawner sp[M];
  gh_thread spt[M];
  for (int i = 0; i < M; i++) {
    spawner_init(&sp[i], q, &g, 1);
    sp[i].idx = i;
    sp[i].pre_sleep = 2 + (M - 1 - i) * 8; /* queue in reverse: 2 1 0 */
    spt[i] = gh_spawn(spawner_body, &sp[i]);
    REQUIRE(spt[i] > 0);
  }
  WAIT_FOR(pool_waiting(q) == M, 2000);
  CHECK_EQ(pool_waiting(q), M);
  CHECK_EQ(got_n, 0);
  CHECK_EQ(gh_event_set(g.go, NULL), 0);
  for (int i = 0; i < M; i++) JOIN(spt[i]);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_pool_wait(q), 0);
  gh_deadline_pop();
  char b1[64], b2[64];
  CHECKF(got_n == M && same_ints(got_order, enq_order, M), "waiting spawners got in as [%s], "
         "want their queueing order [%s]", fmt_ints(b1, sizeof b1, got_order, got_n),
         fmt_ints(b2, sizeof b2, enq_order, enq_n));
  CHECK(g.finished == M + 1 && g.over == 0);
  CHECK_EQ(gh_pool_free(q), 0);
  CHECK_EQ(gh_event_free(g.go), 0);
}

struct pool_waiter {
  gh_pool p;
  struct pool_ctx *ctx;
  int rc, err;
  int finished_at_return;
};

static int pool_wait_body(void *arg) {
  struct pool_waiter *w = arg;
  gh_deadline_push(5000);
  errno = 0;
  w->rc = gh_pool_wait(w->p);
  w->err = errno;
  w->finished_at_return = w->ctx->finished;
  gh_deadline_pop();
  return 0;
}

static void test_pool_wait(void) {
  /* An empty pool: returns at once, even in the root with no threads. */
  gh_pool e = gh_pool_new(2);
  REQUIRE(e > 0);
  double t0 = now_ms();
  CHECK_EQ(gh_pool_wait(e), 0);
  CHECKF(now_ms() - t0 < 20, "gh_pool_wait on an empty pool took %.1f ms", now_ms() - t0);
  CHECK_EQ(gh_pool_free(e), 0);

  gh_pool p = gh_pool_new(4);
  REQUIRE(p > 0);
  struct pool_ctx c;
  memset(&c, 0, sizeof c);
  c.limit = 4;
  c.sleep_ms = 20;
  gh_spawn_opts det;
  opts_init(&det);
  det.detached = true;
  struct pool_waiter w = {p, &c, -2, 0, -1};
  gh_thread wt = gh_spawn(pool_wait_body, &w); /* a green thread waits too */
  REQUIRE(wt > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  for (int i = 0; i < 6; i++) CHECK(gh_pool_spawn(p, pool_worker, &c, &det) > 0);
  CHECK_EQ(gh_pool_wait(p), 0);
  gh_deadline_pop();
  CHECKF(c.finished == 6, "gh_pool_wait returned with %d of 6 (detached) threads finished",
         c.finished);
  CHECK_EQ(pool_running(p), 0);
  JOIN(wt);
  CHECKF(w.rc == 0 && w.finished_at_return == 6, "gh_pool_wait in a green thread: rc %d "
         "errno=%s with %d of 6 finished", w.rc, th_errname(w.err), w.finished_at_return);
  t0 = now_ms();
  CHECK_EQ(gh_pool_wait(p), 0);
  CHECKF(now_ms() - t0 < 20, "a second gh_pool_wait took %.1f ms", now_ms() - t0);

  /* The deadline applies to gh_pool_wait. */
  c.sleep_ms = 200;
  CHECK(gh_pool_spawn(p, pool_worker, &c, &det) > 0);
  CHECK_EQ(gh_deadline_push(20), 0);
  t0 = now_ms();
  CHECK_ERR(gh_pool_wait(p), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(el >= 19 && el < 150, "gh_pool_wait under a 20 ms deadline failed after %.1f ms", el);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_pool_wait(p), 0);
  gh_deadline_pop();
  CHECK_EQ(c.finished, 7);
  CHECK_EQ(gh_pool_free(p), 0);
}

static void test_pool_resize(void) {
  gh_pool p = gh_pool_new(1);
  REQUIRE(p > 0);
  struct pool_ctx c;
  memset(&c, 0, sizeof c);
  c.limit = 100;
  c.go = gh_event_new();
  REQUIRE(c.go > 0);
  struct spawner s;
  spawner_init(&s, p, &c, 4);
  gh_thread st = gh_spawn(spawner_body, &s);
  REQUIRE(st > 0);
  WAIT_FOR(pool_waiting(p) == 1, 1000);
  CHECK_EQ(s.spawned, 1);
  CHECK_EQ(pool_running(p), 1);
  CHECK_ERR(gh_pool_resize(p, 0), EINVAL);
  CHECK_ERR(gh_pool_resize(p, -1), EINVAL);
  CHECK_EQ(gh_pool_resize(p, 3), 0);
  WAIT_FOR(s.spawned == 3 && c.started == 3, 1000);
  CHECKF(s.spawned == 3, "after resize 1 -> 3: %d spawned, want 3", s.spawned);
  int64_t size = -1, running = -1, waiting = -1;
  CHECK_EQ(gh_pool_stat(p, &size, &running, &waiting), 0);
  CHECKF(size == 3 && running == 3 && waiting == 1, "after resize to 3: size %lld running %lld "
         "waiting %lld, want 3 3 1", (long long)size, (long long)running, (long long)waiting);
  CHECK_EQ(gh_pool_resize(p, 5), 0);
  WAIT_FOR(s.done, 1000);
  CHECKF(s.spawned == 4 && s.rc == 0, "after resize to 5: %d spawned (rc %d errno=%s), want 4",
         s.spawned, s.rc, th_errname(s.err));
  CHECK_EQ(gh_pool_stat(p, &size, &running, &waiting), 0);
  CHECKF(size == 5 && running == 4 && waiting == 0, "after resize to 5: size %lld running %lld "
         "waiting %lld, want 5 4 0", (long long)size, (long long)running, (long long)waiting);
  JOIN(st);

  /* Shrinking: the running threads go on; new spawns wait until fewer than the new size run. */
  CHECK_EQ(gh_pool_resize(p, 1), 0);
  CHECK_EQ(pool_running(p), 4);
  struct spawner s2;
  spawner_init(&s2, p, &c, 1);
  gh_thread st2 = gh_spawn(spawner_body, &s2);
  REQUIRE(st2 > 0);
  CHECK_EQ(gh_sleep(20), 0);
  CHECKF(s2.spawned == 0, "a spawn got in while 4 threads run in a pool shrunk to 1");
  CHECK_EQ(pool_waiting(p), 1);
  CHECK_EQ(gh_event_set(c.go, NULL), 0);
  JOIN(st2);
  CHECKF(s2.spawned == 1 && s2.finished_at_spawn[0] == 4, "spawn into the shrunk pool: spawned "
         "%d with %d of the 4 running threads finished (want all 4)", s2.spawned,
         s2.finished_at_spawn[0]);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_pool_wait(p), 0);
  gh_deadline_pop();
  CHECK_EQ(c.finished, 5);
  CHECK_EQ(c.errs, 0);
  CHECK_EQ(gh_pool_stat(p, &size, NULL, NULL), 0);
  CHECK_EQ(size, 1);
  CHECK_EQ(gh_pool_free(p), 0);
  CHECK_EQ(gh_event_free(c.go), 0);
}

static void test_pool_stat_free_invalid(void) {
  CHECK_ERR(gh_pool_new(0), EINVAL);
  CHECK_ERR(gh_pool_new(-1), EINVAL);
  gh_pool p = gh_pool_new(2);
  REQUIRE(p > 0);
  CHECK_EQ(gh_pool_stat(p, NULL, NULL, NULL), 0);
  int64_t size = -1, running = -1, waiting = -1;
  CHECK_EQ(gh_pool_stat(p, &size, &running, &waiting), 0);
  CHECK(size == 2 && running == 0 && waiting == 0);
  struct pool_ctx c;
  memset(&c, 0, sizeof c);
  c.limit = 2;
  c.go = gh_event_new();
  REQUIRE(c.go > 0);
  /* Failed spawns take no slot. */
  CHECK_ERR(gh_pool_spawn(p, NULL, &c, NULL), EINVAL);
  gh_spawn_opts small;
  opts_init(&small);
  small.stack_size = 100;
  CHECK_ERR(gh_pool_spawn(p, pool_worker, &c, &small), EINVAL);
  CHECK_EQ(pool_running(p), 0);
  gh_thread w1 = gh_pool_spawn(p, pool_worker, &c, NULL);
  gh_thread w2 = gh_pool_spawn(p, pool_worker, &c, NULL);
  REQUIRE(w1 > 0 && w2 > 0);
  CHECK_EQ(pool_running(p), 2);
  struct spawner s;
  spawner_init(&s, p, &c, 1);
  gh_thread st = gh_spawn(spawner_body, &s);
  REQUIRE(st > 0);
  WAIT_FOR(pool_waiting(p) == 1, 1000);
  CHECK_EQ(pool_waiting(p), 1);
  double t0 = now_ms();
  CHECK_EQ(gh_pool_free(p), 0);
  WAIT_FOR(s.done, 1000);
  CHECKF(s.done && s.rc == -1 && s.err == EBADF, "spawner waiting while the pool is freed: done "
         "%d rc %d errno=%s, want EBADF", s.done, s.rc, th_errname(s.err));
  CHECKF(now_ms() - t0 < 200, "the waiting spawner woke %.1f ms after gh_pool_free",
         now_ms() - t0);
  /* The running threads go on. */
  CHECK_EQ(c.finished, 0);
  CHECK_EQ(gh_event_set(c.go, NULL), 0);
  CHECK_EQ(JOIN(w1), 0);
  CHECK_EQ(JOIN(w2), 0);
  CHECK_EQ(c.finished, 2);
  JOIN(st);
  size = 42;
  CHECK_ERR(gh_pool_stat(p, &size, NULL, NULL), EBADF);
  CHECK_EQ(size, 42);
  CHECK_ERR(gh_pool_spawn(p, pool_worker, &c, NULL), EBADF);
  CHECK_ERR(gh_pool_wait(p), EBADF);
  CHECK_ERR(gh_pool_resize(p, 3), EBADF);
  CHECK_ERR(gh_pool_free(p), EBADF);
  const gh_pool bad[] = {0, -1, 0x7fffffff, INT64_MAX};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_ERR(gh_pool_stat(bad[i], NULL, NULL, NULL), EBADF);
    CHECK_ERR(gh_pool_spawn(bad[i], pool_worker, &c, NULL), EBADF);
    CHECK_ERR(gh_pool_free(bad[i]), EBADF);
  }
  CHECK_EQ(gh_event_free(c.go), 0);
}

/* Gets a socket through opts.sock and returns at once. */
static int own_sock_body(void *arg) {
  (void)arg;
  return 0; /* returns at once: the pool thread's socket must be closed as it ends */
}

static int event_wait_forever_body(void *arg) {
  errno = 0;
  return gh_event_wait((gh_event)(intptr_t)arg, NULL, -1) == 0 ? 0 : errno;
}

static void test_pool_wait_root_edeadlk(void) {
  gh_pool p = gh_pool_new(2);
  gh_event ev = gh_event_new();
  REQUIRE(p > 0 && ev > 0);
  gh_spawn_opts det;
  opts_init(&det);
  det.detached = true;
  REQUIRE(gh_pool_spawn(p, event_wait_forever_body, (void *)(intptr_t)ev, &det) > 0);
  /* The pool's only thread waits for an event nothing can set: no deadline here. */
  double t0 = now_ms();
  CHECK_ERR(gh_pool_wait(p), EDEADLK);
  CHECKF(now_ms() - t0 < 1000, "EDEADLK took %.1f ms", now_ms() - t0);
  CHECK_EQ(pool_running(p), 1);
  CHECK_EQ(gh_event_set(ev, NULL), 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_pool_wait(p), 0);
  gh_deadline_pop();
  CHECK_EQ(pool_running(p), 0);
  CHECK_EQ(gh_pool_free(p), 0);
  CHECK_EQ(gh_event_free(ev), 0);
}

static void test_pool_spawner_kill_deadline_sock(void) {
  gh_pool p = gh_pool_new(1);
  REQUIRE(p > 0);
  struct pool_ctx c;
  memset(&c, 0, sizeof c);
  c.limit = 1;
  c.go = gh_event_new();
  REQUIRE(c.go > 0);
  gh_thread w = gh_pool_spawn(p, pool_worker, &c, NULL); /* holds the slot until go */
  REQUIRE(w > 0);
  /* A waiting spawner that is killed leaves the queue with ECANCELED... */
  struct spawner k, after;
  spawner_init(&k, p, &c, 1);
  spawner_init(&after, p, &c, 1);
  after.pre_sleep = 5;
  gh_thread tk = gh_spawn(spawner_body, &k);
  gh_thread ta = gh_spawn(spawner_body, &after);
  REQUIRE(tk > 0 && ta > 0);
  WAIT_FOR(pool_waiting(p) == 2, 1000);
  CHECK_EQ(pool_waiting(p), 2);
  CHECK_EQ(gh_kill(tk), 0);
  WAIT_FOR(k.done, 1000);
  CHECKF(k.done && k.rc == -1 && k.err == ECANCELED, "killed waiting spawner: done %d rc %d "
         "errno=%s, want ECANCELED", k.done, k.rc, th_errname(k.err));
  CHECK_EQ(pool_waiting(p), 1);
  JOIN(tk);
  /* ... and the deadline applies to that wait. */
  CHECK_EQ(gh_deadline_push(20), 0);
  double t0 = now_ms();
  CHECK_ERR(gh_pool_spawn(p, pool_worker, &c, NULL), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(el >= 19 && el < 300, "gh_pool_spawn into a full pool under a 20 ms deadline failed "
         "after %.1f ms", el);
  CHECK_EQ(pool_waiting(p), 1);
  CHECK_EQ(pool_running(p), 1);
  /* The remaining spawner gets the slot once the worker ends; nobody else took it. */
  CHECK_EQ(gh_event_set(c.go, NULL), 0);
  JOIN(ta);
  CHECKF(after.spawned == 1, "the spawner queued behind a killed one did not get in (rc %d "
         "errno=%s)", after.rc, th_errname(after.err));
  CHECK_EQ(JOIN(w), 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_pool_wait(p), 0);
  gh_deadline_pop();
  CHECK_EQ(c.finished, 2);

  /* opts.sock as in gh_spawn_ex: the pool thread owns it and it is closed when it ends. */
  gh_sock a, b;
  REQUIRE(make_pair(&a, &b) == 0);
  gh_spawn_opts o;
  opts_init(&o);
  o.sock = b;
  gh_thread t = gh_pool_spawn(p, own_sock_body, NULL, &o);
  REQUIRE(t > 0);
  CHECK_EQ(JOIN(t), 0);
  CHECK_ERR(gh_close(b), EBADF); /* closed with its owner */
  char buf[4];
  gh_settimeout(a, 2000);
  CHECK_EQ(gh_recv(a, buf, sizeof buf), 0); /* the peer sees EOF */
  gh_close(a);
  CHECK_EQ(gh_pool_free(p), 0);
  CHECK_EQ(gh_event_free(c.go), 0);
}

static int event_block_body(void *arg) {
  errno = 0;
  if (gh_event_wait((gh_event)(intptr_t)arg, NULL, 5000) != 0) return errno;
  return 0;
}

static int exit3_body(void *arg) {
  (void)arg;
  gh_exit(3);
  return 99;
}

static void test_pool_slot_freed_on_kill_and_exit(void) {
  static struct logcap cap;
  memset(&cap, 0, sizeof cap);
  gh_set_log(log_capture, &cap); /* two threads end with a non-zero status here */
  gh_pool p = gh_pool_new(1);
  REQUIRE(p > 0);
  gh_event never = gh_event_new();
  REQUIRE(never > 0);
  gh_thread a = gh_pool_spawn(p, event_block_body, (void *)(intptr_t)never, NULL);
  REQUIRE(a > 0);
  struct spawner s1, s2;
  spawner_init(&s1, p, NULL, 1);
  s1.fn = exit3_body;
  s1.detached = 0;
  spawner_init(&s2, p, NULL, 1);
  s2.fn = sleep_ms_body;
  s2.arg = (void *)(intptr_t)1;
  s2.detached = 0;
  s2.pre_sleep = 5;
  gh_thread t1 = gh_spawn(spawner_body, &s1);
  gh_thread t2 = gh_spawn(spawner_body, &s2);
  REQUIRE(t1 > 0 && t2 > 0);
  WAIT_FOR(pool_waiting(p) == 2, 1000);
  CHECK_EQ(pool_waiting(p), 2);
  CHECK_EQ(gh_kill(a), 0); /* a killed pool thread gives its slot back ... */
  JOIN(t1);
  CHECKF(s1.spawned == 1, "after killing the pool's only thread, the waiting spawner did not get "
         "in (rc %d errno=%s)", s1.rc, th_errname(s1.err));
  JOIN(t2); /* ... and so does one that called gh_exit */
  CHECKF(s2.spawned == 1, "after a pool thread called gh_exit, the waiting spawner did not get in "
         "(rc %d errno=%s)", s2.rc, th_errname(s2.err));
  CHECK_EQ(JOIN(a), ECANCELED);
  if (s1.spawned == 1) CHECK_EQ(JOIN(s1.ids[0]), 3);
  if (s2.spawned == 1) CHECK_EQ(JOIN(s2.ids[0]), 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_pool_wait(p), 0);
  gh_deadline_pop();
  CHECK_EQ(pool_running(p), 0);
  CHECK_EQ(gh_pool_free(p), 0);
  CHECK_EQ(gh_event_free(never), 0);
  gh_set_log(NULL, NULL);
  /* Pool threads are reported like any other: status 125 (ECANCELED) and 3 (gh_exit). */
  CHECKF(cap.calls == 2 && text_has_number(cap.first, a) && text_has_number(cap.first, ECANCELED)
         && text_has_number(cap.second, 3), "reports of the killed (status %d) and exited "
         "(status 3) pool threads: %d line(s): \"%s\" / \"%s\"", ECANCELED, cap.calls,
         cap.first, cap.second);
}

/* ========================================================================================== */
/* gh_serve                                                                                   */

struct srv {
  int hold_ms;     /* after reading a line, hold the connection this long */
  int cur, max, calls;
  int errs;
  gh_thread ids[16];
  int stops;
};

/* Echoes one line; "stop\n" answers "bye\n" and returns GH_SERVE_STOP; "slow\n" answers
 * "late\n" after 150 ms. Does not close its socket: gh_serve does, after it returns. */
static int echo_handler(gh_sock s, void *arg) {
  struct srv *sv = arg;
  if (sv->calls < 16) sv->ids[sv->calls] = gh_self();
  sv->calls++;
  sv->cur++;
  if (sv->cur > sv->max) sv->max = sv->cur;
  int ret = 0;
  char line[256];
  gh_deadline_push(5000);
  ssize_t n = gh_readline(s, line, sizeof line);
  if (n > 0 && sv->hold_ms > 0) gh_sleep(sv->hold_ms);
  if (n == 5 && memcmp(line, "stop\n", 5) == 0) {
    if (gh_sendall(s, "bye\n", 4) != 0) sv->errs++;
    sv->stops++;
    ret = GH_SERVE_STOP;
  } else if (n == 5 && memcmp(line, "slow\n", 5) == 0) {
    gh_sleep(150);
    if (gh_sendall(s, "late\n", 5) != 0) sv->errs++;
  } else if (n > 0) {
    if (gh_sendall(s, line, (size_t)n) != 0) sv->errs++;
  } else {
    sv->errs++;
  }
  gh_deadline_pop();
  sv->cur--;
  return ret;
}

struct client {
  uint16_t port;
  const char *line;
  int pre_ms;   /* before connecting */
  int delay_ms; /* before sending */
  int rc, err;
  char reply[128];
  ssize_t reply_n;
  ssize_t eof_n;
  int eof_err;
  double t_reply;
  volatile int done;
};

static int client_body(void *arg) {
  struct client *c = arg;
  gh_deadline_push(5000);
  c->rc = -1;
  c->reply_n = c->eof_n = -2;
  if (c->pre_ms) gh_sleep(c->pre_ms);
  errno = 0;
  gh_sock s = gh_connect("127.0.0.1", c->port);
  if (s <= 0) {
    c->err = errno;
    goto out;
  }
  if (c->delay_ms) gh_sleep(c->delay_ms);
  if (gh_sendall(s, c->line, strlen(c->line)) != 0) {
    c->err = errno;
    goto out;
  }
  errno = 0;
  c->reply_n = gh_readline(s, c->reply, sizeof c->reply - 1);
  c->err = errno;
  c->t_reply = now_ms();
  c->reply[c->reply_n > 0 ? c->reply_n : 0] = '\0';
  char more[16];
  errno = 0;
  c->eof_n = gh_recv(s, more, sizeof more); /* the handler's socket is closed after it returns */
  c->eof_err = errno;
  c->rc = 0;
out:
  gh_deadline_pop();
  c->done = 1;
  return 0; /* s (if any) is closed when the thread ends */
}

static void client_init(struct client *c, uint16_t port, const char *line) {
  memset(c, 0, sizeof *c);
  c->port = port;
  c->line = line;
}

#define CHECK_CLIENT(c, want)                                                               \
  CHECKF((c).done && (c).rc == 0 && strcmp((c).reply, (want)) == 0 && (c).eof_n == 0,       \
         "client sent \"%.*s\": done %d rc %d (%s), reply %zd \"%s\" (want \"%.*s\"), then "   \
         "recv %zd errno=%s (want 0: closed)", (int)strlen((c).line) - 1, (c).line, (c).done, \
         (c).rc, th_errname((c).err), (c).reply_n, (c).reply, (int)strlen(want) - 1, (want), \
         (c).eof_n, th_errname((c).eof_err))

/* Spawns the clients, joins them, then runs the stop client. */
struct controller {
  struct client *clients;
  int n;
  int gap_ms; /* between client spawns */
  struct client stop;
};

static int controller_body(void *arg) {
  struct controller *ct = arg;
  gh_thread t[16];
  for (int i = 0; i < ct->n && i < 16; i++) {
    if (i && ct->gap_ms) gh_sleep(ct->gap_ms);
    t[i] = gh_spawn(client_body, &ct->clients[i]);
  }
  gh_deadline_push(5000);
  for (int i = 0; i < ct->n && i < 16; i++)
    if (t[i] > 0) gh_join(t[i], NULL);
  gh_deadline_pop();
  client_body(&ct->stop);
  return 0;
}

static void test_serve_echo_and_stop(void) {
  uint16_t port = 0;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  static struct logcap cap;
  memset(&cap, 0, sizeof cap);
  gh_set_log(log_capture, &cap);
  struct srv sv;
  memset(&sv, 0, sizeof sv);
  struct client cl[3];
  client_init(&cl[0], port, "hello 0\n");
  client_init(&cl[1], port, "hello 1\n");
  client_init(&cl[2], port, "a somewhat longer line number 2\n");
  struct controller ct;
  memset(&ct, 0, sizeof ct);
  ct.clients = cl;
  ct.n = 3;
  client_init(&ct.stop, port, "stop\n");
  gh_thread t = gh_spawn(controller_body, &ct);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  double t0 = now_ms();
  errno = 0;
  int rc = gh_serve(l, echo_handler, &sv, 10);
  int e = errno;
  double el = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(rc == 0, "gh_serve after a handler returned GH_SERVE_STOP: %d errno=%s, want 0", rc,
         th_errname(e));
  CHECKF(el < 3000, "gh_serve ran %.1f ms", el);
  JOIN(t);
  gh_set_log(NULL, NULL);
  for (int i = 0; i < 3; i++) CHECK_CLIENT(cl[i], cl[i].line);
  CHECK_CLIENT(ct.stop, "bye\n");
  CHECK_EQ(sv.calls, 4);
  CHECK_EQ(sv.stops, 1);
  CHECK_EQ(sv.errs, 0);
  for (int i = 0; i < sv.calls && i < 16; i++) {
    CHECKF(sv.ids[i] > 0, "handler %d ran in the root (gh_self() = %lld)", i,
           (long long)sv.ids[i]);
    for (int j = 0; j < i; j++)
      CHECKF(sv.ids[i] != sv.ids[j], "handlers %d and %d ran in the same green thread", j, i);
  }
  CHECKF(cap.calls == 0, "GH_SERVE_STOP (or an echo handler) was reported as a failure: \"%s\"",
         cap.first);
  /* The listener is still ours and still works. */
  gh_addr a;
  CHECK_EQ(gh_local_addr(l, &a), 0);
  CHECK_EQ(gh_close(l), 0);
}

static void test_serve_concurrency_limit(void) {
  enum { N = 5 };
  uint16_t port = 0;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  struct srv sv;
  memset(&sv, 0, sizeof sv);
  sv.hold_ms = 30; /* every handler holds its connection 30 ms */
  struct client cl[N];
  static const char *const lines[N] = {"c0\n", "c1\n", "c2\n", "c3\n", "c4\n"};
  for (int i = 0; i < N; i++) client_init(&cl[i], port, lines[i]);
  struct controller ct;
  memset(&ct, 0, sizeof ct);
  ct.clients = cl;
  ct.n = N;
  client_init(&ct.stop, port, "stop\n");
  gh_thread t = gh_spawn(controller_body, &ct);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  double t0 = now_ms();
  errno = 0;
  int rc = gh_serve(l, echo_handler, &sv, 2);
  int e = errno;
  double el = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(rc == 0, "gh_serve: %d errno=%s, want 0", rc, th_errname(e));
  JOIN(t);
  for (int i = 0; i < N; i++) CHECK_CLIENT(cl[i], lines[i]);
  CHECK_CLIENT(ct.stop, "bye\n");
  CHECKF(sv.max == 2, "concurrency 2 with 5 clients holding their connection: at most %d "
         "handlers ran at once, want exactly 2", sv.max);
  CHECK_EQ(sv.calls, N + 1);
  double last = 0;
  for (int i = 0; i < N; i++)
    if (cl[i].t_reply - t0 > last) last = cl[i].t_reply - t0;
  CHECKF(last >= 85, "5 handlers of 30 ms, 2 at a time, were all done after %.1f ms (want >= "
         "~90: 3 rounds)", last);
  th_note("5 x 30 ms handlers at concurrency 2: last reply after %.1f ms; serve ran %.1f ms",
          last, el);
  CHECK_EQ(gh_close(l), 0);
}

static void test_serve_stop_others_go_on(void) {
  uint16_t port = 0;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  struct srv sv;
  memset(&sv, 0, sizeof sv);
  struct client slow, stop;
  client_init(&slow, port, "slow\n");
  client_init(&stop, port, "stop\n");
  stop.pre_ms = 20; /* connects once the slow handler is running */
  gh_thread ts = gh_spawn(client_body, &slow);
  gh_thread tc = gh_spawn(client_body, &stop);
  REQUIRE(ts > 0 && tc > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  errno = 0;
  int rc = gh_serve(l, echo_handler, &sv, 10);
  int e = errno;
  int running_at_return = sv.cur;
  int slow_done_at_return = slow.done;
  gh_deadline_pop();
  CHECKF(rc == 0, "gh_serve: %d errno=%s, want 0", rc, th_errname(e));
  CHECKF(running_at_return == 1 && !slow_done_at_return, "when gh_serve returned, %d handler(s) "
         "ran (want 1: the slow one), slow client done = %d", running_at_return,
         slow_done_at_return);
  JOIN(ts);
  JOIN(tc);
  CHECK_CLIENT(slow, "late\n");
  CHECK_CLIENT(stop, "bye\n");
  CHECK_EQ(sv.cur, 0);
  CHECK_EQ(gh_close(l), 0);
}

struct serve_in_thread {
  gh_sock l;
  struct srv *sv;
  int rc, err;
  double el;
};

static int serve_thread_body(void *arg) {
  struct serve_in_thread *s = arg;
  gh_deadline_push(5000);
  double t0 = now_ms();
  errno = 0;
  s->rc = gh_serve(s->l, echo_handler, s->sv, 4);
  s->err = errno;
  s->el = now_ms() - t0;
  gh_deadline_pop();
  return 0;
}

static int close_later_body(void *arg) {
  if (gh_sleep(30) != 0) return 1;
  return gh_close((gh_sock)(intptr_t)arg) == 0 ? 0 : 2;
}

static void test_serve_listener_closed(void) {
  /* gh_serve in a green thread; the root closes the listener. */
  uint16_t port = 0;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  struct srv sv;
  memset(&sv, 0, sizeof sv);
  struct serve_in_thread s = {l, &sv, -2, 0, 0};
  gh_thread t = gh_spawn(serve_thread_body, &s);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(30), 0);
  CHECK_EQ(gh_close(l), 0);
  JOIN(t);
  CHECKF(s.rc == -1 && s.err == EBADF, "gh_serve whose listener was closed: %d errno=%s, want "
         "-1 EBADF", s.rc, th_errname(s.err));
  CHECKF(s.el >= 29 && s.el < 300, "gh_serve returned after %.1f ms (close at ~30 ms)", s.el);

  /* gh_serve in the root; a green thread closes the listener. */
  l = listen_local(&port);
  REQUIRE(l > 0);
  gh_thread c = gh_spawn(close_later_body, (void *)(intptr_t)l);
  REQUIRE(c > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  double t0 = now_ms();
  errno = 0;
  int rc = gh_serve(l, echo_handler, &sv, 4);
  int e = errno;
  double el = now_ms() - t0;
  gh_deadline_pop();
  CHECKF(rc == -1 && e == EBADF, "root gh_serve whose listener a thread closed: %d errno=%s, "
         "want -1 EBADF", rc, th_errname(e));
  CHECKF(el < 300, "root gh_serve returned after %.1f ms (close at ~30 ms)", el);
  CHECK_EQ(JOIN(c), 0);
  CHECK_EQ(sv.calls, 0);

  /* A stale listener fails at once. */
  CHECK_ERR(gh_serve(l, echo_handler, &sv, 4), EBADF);
  CHECK_ERR(gh_serve(0x7fffffff, echo_handler, &sv, 4), EBADF);
}

static int exit_handler(gh_sock s, void *arg) {
  struct srv *sv = arg;
  sv->calls++;
  char line[64];
  gh_deadline_push(5000);
  ssize_t n = gh_readline(s, line, sizeof line);
  if (n == 5 && memcmp(line, "stop\n", 5) == 0) {
    gh_sendall(s, "bye\n", 4);
    gh_deadline_pop();
    return GH_SERVE_STOP;
  }
  if (n > 0) gh_sendall(s, line, (size_t)n);
  gh_exit(0); /* ends the handler thread without returning to gh_serve's wrapper */
  return 1;
}

static void test_serve_handler_exit(void) {
  uint16_t port = 0;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  struct srv sv;
  memset(&sv, 0, sizeof sv);
  struct client cl[3];
  client_init(&cl[0], port, "e0\n");
  client_init(&cl[1], port, "e1\n");
  client_init(&cl[2], port, "e2\n");
  struct controller ct;
  memset(&ct, 0, sizeof ct);
  ct.clients = cl;
  ct.n = 3;
  client_init(&ct.stop, port, "stop\n");
  gh_thread t = gh_spawn(controller_body, &ct);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  errno = 0;
  int rc = gh_serve(l, exit_handler, &sv, 1); /* one at a time: each gh_exit must free the slot */
  int e = errno;
  gh_deadline_pop();
  CHECKF(rc == 0, "gh_serve with handlers ending by gh_exit: %d errno=%s, want 0 (the stop "
         "handler must get a slot)", rc, th_errname(e));
  JOIN(t);
  for (int i = 0; i < 3; i++) CHECK_CLIENT(cl[i], cl[i].line); /* EOF: closed at gh_exit too */
  CHECK_CLIENT(ct.stop, "bye\n");
  CHECK_EQ(sv.calls, 4);
  CHECK_EQ(gh_close(l), 0);
}

static void test_serve_deadline_kill_invalid(void) {
  uint16_t port = 0;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  struct srv sv;
  memset(&sv, 0, sizeof sv);
  CHECK_ERR(gh_serve(l, echo_handler, &sv, 0), EINVAL);
  CHECK_ERR(gh_serve(l, echo_handler, &sv, -1), EINVAL);
  /* The caller's deadline applies. */
  CHECK_EQ(gh_deadline_push(30), 0);
  double t0 = now_ms();
  CHECK_ERR(gh_serve(l, echo_handler, &sv, 2), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(el >= 29 && el < 300, "gh_serve under a 30 ms deadline returned after %.1f ms", el);
  /* Killing the serving thread ends gh_serve with ECANCELED. */
  struct serve_in_thread s = {l, &sv, -2, 0, 0};
  gh_thread t = gh_spawn(serve_thread_body, &s);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(20), 0);
  CHECK_EQ(gh_kill(t), 0);
  JOIN(t);
  CHECKF(s.rc == -1 && s.err == ECANCELED, "killed gh_serve: %d errno=%s, want ECANCELED", s.rc,
         th_errname(s.err));
  CHECKF(s.el < 300, "killed gh_serve returned after %.1f ms", s.el);
  /* The listener still works: a later gh_serve serves and stops. */
  struct client st;
  client_init(&st, port, "stop\n");
  gh_thread ct = gh_spawn(client_body, &st);
  REQUIRE(ct > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_serve(l, echo_handler, &sv, 2), 0);
  gh_deadline_pop();
  JOIN(ct);
  CHECK_CLIENT(st, "bye\n");
  CHECK_EQ(sv.calls, 1);
  CHECK_EQ(gh_close(l), 0);
}

/* ========================================================================================== */
/* native thread pool                                                                         */

struct tp_job {
  int ms;          /* native sleep */
  void *ret;       /* what the function returns */
  long tid;        /* OS thread it ran on */
  int finished;    /* set (atomically) when the function is done */
  double t_end;
  gh_event foreign_ev; /* if > 0: the function tries to use this hub handle */
  int foreign_rc, foreign_err;
};

static void *tp_sleep_fn(void *arg) {
  struct tp_job *j = arg;
  __atomic_store_n(&j->tid, os_tid(), __ATOMIC_SEQ_CST);
  if (j->foreign_ev > 0) {
    errno = 0;
    j->foreign_rc = gh_event_set(j->foreign_ev, NULL); /* another OS thread's handle */
    j->foreign_err = errno;
  }
  sleep_native_ms(j->ms);
  j->t_end = now_ms();
  __atomic_store_n(&j->finished, 1, __ATOMIC_SEQ_CST);
  return j->ret;
}

static int tp_finished(struct tp_job *j) { return __atomic_load_n(&j->finished, __ATOMIC_SEQ_CST); }

struct tp_call {
  struct tp_job *job;
  int deadline; /* > 0: gh_deadline_push */
  int rc, err;
  void *result;
  double t_start, el;
  int ticks_before, ticks_after;
  int pongs_before, pongs_after;
  int finished_at_return;
  volatile int done;
};

static volatile int ticks, pongs, stop_aux;

static int ticker_body(void *arg) {
  (void)arg;
  while (!stop_aux) {
    if (gh_sleep(10) != 0) return 1;
    ticks++;
  }
  return 0;
}

static int pong_server_body(void *arg) {
  gh_sock s = (gh_sock)(intptr_t)arg;
  char line[64];
  ssize_t n;
  gh_deadline_push(10000);
  while ((n = gh_readline(s, line, sizeof line)) > 0)
    if (gh_sendall(s, line, (size_t)n) != 0) break;
  gh_deadline_pop();
  return 0;
}

static int ping_client_body(void *arg) {
  gh_sock s = (gh_sock)(intptr_t)arg;
  char line[64];
  gh_deadline_push(10000);
  while (!stop_aux) {
    if (gh_sendall(s, "ping\n", 5) != 0) break;
    if (gh_readline(s, line, sizeof line) != 5) break;
    pongs++;
    if (gh_sleep(10) != 0) break;
  }
  gh_deadline_pop();
  return 0;
}

static int tp_call_body(void *arg) {
  struct tp_call *c = arg;
  if (c->deadline > 0) gh_deadline_push(c->deadline);
  c->ticks_before = ticks;
  c->pongs_before = pongs;
  c->result = UNTOUCHED;
  c->t_start = now_ms();
  errno = 0;
  c->rc = gh_tpool_execute(tp_sleep_fn, c->job, &c->result);
  c->err = errno;
  c->el = now_ms() - c->t_start;
  c->finished_at_return = tp_finished(c->job);
  c->ticks_after = ticks;
  c->pongs_after = pongs;
  if (c->deadline > 0) gh_deadline_pop();
  c->done = 1;
  return 0;
}

static void test_tpool_hub_not_blocked(void) {
  ticks = pongs = stop_aux = 0;
  gh_sock a, b;
  REQUIRE(make_pair(&a, &b) == 0);
  gh_thread tick = gh_spawn(ticker_body, NULL);
  gh_thread srv = gh_spawn(pong_server_body, (void *)(intptr_t)b);
  gh_thread cli = gh_spawn(ping_client_body, (void *)(intptr_t)a);
  REQUIRE(tick > 0 && srv > 0 && cli > 0);
  CHECK_EQ(gh_sleep(15), 0);
  gh_event ev = gh_event_new();
  REQUIRE(ev > 0);
  struct tp_job j;
  memset(&j, 0, sizeof j);
  j.ms = 200;
  j.ret = (void *)(intptr_t)0x1234;
  j.foreign_ev = ev;
  struct tp_call c;
  memset(&c, 0, sizeof c);
  c.job = &j;
  c.rc = -2;
  gh_thread t = gh_spawn(tp_call_body, &c);
  REQUIRE(t > 0);
  JOIN(t);
  stop_aux = 1;
  CHECKF(c.rc == 0, "gh_tpool_execute: %d errno=%s", c.rc, th_errname(c.err));
  CHECKF(c.result == (void *)(intptr_t)0x1234, "result %p, want 0x1234", c.result);
  CHECKF(c.el >= 195 && c.el < 1000, "a 200 ms function returned after %.1f ms", c.el);
  CHECKF(c.finished_at_return, "gh_tpool_execute returned before the function finished");
  int dt = c.ticks_after - c.ticks_before, dp = c.pongs_after - c.pongs_before;
  CHECKF(dt >= 5, "the 10 ms ticker ticked %d time(s) during the 200 ms call (want >= 5: the "
         "hub must keep running)", dt);
  CHECKF(dp >= 5, "the ping/pong pair exchanged %d line(s) during the 200 ms call (want >= 5)",
         dp);
  th_note("during the 200 ms call: %d ticks, %d pongs", dt, dp);
  CHECKF(j.tid != 0 && j.tid != os_tid(), "the function ran on OS thread %ld; the hub is %ld "
         "(want another thread)", j.tid, os_tid());
  CHECKF(j.foreign_rc == -1 && j.foreign_err == EBADF, "the function used the hub's event handle "
         "from its worker thread: rc %d errno=%s, want EBADF", j.foreign_rc,
         th_errname(j.foreign_err));
  CHECK_EQ(gh_event_is_set(ev), 0);
  CHECK_EQ(gh_event_free(ev), 0);
  JOIN(tick);
  JOIN(cli);
  gh_close(a); /* the server sees EOF */
  JOIN(srv);
  gh_close(b);

  /* From the root, with no other thread: the worker will complete it, so no EDEADLK. */
  struct tp_job r;
  memset(&r, 0, sizeof r);
  r.ms = 20;
  r.ret = &marker_b;
  void *res = UNTOUCHED;
  gh_deadline_push(ROOT_DEADLINE_MS);
  errno = 0;
  int rc = gh_tpool_execute(tp_sleep_fn, &r, &res);
  int e = errno;
  CHECKF(rc == 0 && res == &marker_b, "root gh_tpool_execute: %d errno=%s result %p (want %p)",
         rc, th_errname(e), res, (void *)&marker_b);
  r.finished = 0;
  r.ret = NULL;
  CHECK_EQ(gh_tpool_execute(tp_sleep_fn, &r, NULL), 0); /* result may be NULL */
  CHECK(tp_finished(&r));
  gh_deadline_pop();
  CHECK_ERR(gh_tpool_execute(NULL, &r, &res), EINVAL);
}

static void test_tpool_parallel(void) {
  enum { N = 4 };
  if (gh_tpool_get_size() < N) CHECK_EQ(gh_tpool_set_size(N), 0);
  struct tp_job j[N];
  struct tp_call c[N];
  gh_thread t[N];
  double t0 = now_ms();
  for (int i = 0; i < N; i++) {
    memset(&j[i], 0, sizeof j[i]);
    j[i].ms = 200;
    j[i].ret = (void *)(intptr_t)(i + 1);
    memset(&c[i], 0, sizeof c[i]);
    c[i].job = &j[i];
    c[i].rc = -2;
    t[i] = gh_spawn(tp_call_body, &c[i]);
    REQUIRE(t[i] > 0);
  }
  for (int i = 0; i < N; i++) JOIN(t[i]);
  double el = now_ms() - t0;
  for (int i = 0; i < N; i++)
    CHECKF(c[i].rc == 0 && c[i].result == (void *)(intptr_t)(i + 1), "call %d: rc %d errno=%s "
           "result %p", i, c[i].rc, th_errname(c[i].err), c[i].result);
  CHECKF(el < 600, "4 parallel 200 ms calls (pool size %zu) took %.1f ms (want < 600)",
         gh_tpool_get_size(), el);
  th_note("4 x 200 ms on the thread pool: %.1f ms", el);
  for (int i = 0; i < N; i++)
    for (int k = 0; k < i; k++)
      CHECKF(j[i].tid != j[k].tid, "calls %d and %d ran on the same OS thread %ld", k, i,
             j[i].tid);
}

static void test_tpool_deadline(void) {
  struct tp_job j;
  memset(&j, 0, sizeof j);
  j.ms = 300;
  j.ret = &marker_a;
  struct tp_call c;
  memset(&c, 0, sizeof c);
  c.job = &j;
  c.rc = -2;
  c.deadline = 50;
  gh_thread t = gh_spawn(tp_call_body, &c);
  REQUIRE(t > 0);
  JOIN(t);
  CHECKF(c.rc == -1 && c.err == ETIMEDOUT, "gh_tpool_execute of a 300 ms function under a 50 ms "
         "deadline: %d errno=%s, want ETIMEDOUT", c.rc, th_errname(c.err));
  CHECKF(c.el >= 49 && c.el < 200, "it failed after %.1f ms (want ~50)", c.el);
  CHECKF(!c.finished_at_return, "the function had already finished when the call timed out");
  CHECKF(c.result == UNTOUCHED, "a timed out call wrote the result (%p)", c.result);
  CHECK_EQ(gh_sleep(400), 0);
  CHECKF(tp_finished(&j), "the function did not complete on its worker after the timeout");
  CHECKF(c.result == UNTOUCHED, "the late result was written after the timeout (%p)", c.result);

  /* The root's deadline too. */
  struct tp_job r;
  memset(&r, 0, sizeof r);
  r.ms = 300;
  r.ret = &marker_b;
  void *res = UNTOUCHED;
  CHECK_EQ(gh_deadline_push(50), 0);
  double t0 = now_ms();
  CHECK_ERR(gh_tpool_execute(tp_sleep_fn, &r, &res), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(el >= 49 && el < 200, "root: timed out after %.1f ms (want ~50)", el);
  CHECK_EQ(gh_sleep(400), 0);
  CHECK(tp_finished(&r));
  CHECKF(res == UNTOUCHED, "root: the late result was written (%p)", res);
}

static void test_tpool_kill(void) {
  struct tp_job j;
  memset(&j, 0, sizeof j);
  j.ms = 300;
  j.ret = &marker_a;
  struct tp_call c;
  memset(&c, 0, sizeof c);
  c.job = &j;
  c.rc = -2;
  gh_thread t = gh_spawn(tp_call_body, &c);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(30), 0);
  CHECK(!c.done);
  double t0 = now_ms();
  CHECK_EQ(gh_kill(t), 0);
  WAIT_FOR(c.done, 1000);
  double el = now_ms() - t0;
  JOIN(t);
  CHECKF(c.rc == -1 && c.err == ECANCELED, "killed gh_tpool_execute: %d errno=%s, want ECANCELED",
         c.rc, th_errname(c.err));
  CHECKF(el < 100, "the killed call returned %.1f ms after the kill", el);
  CHECKF(!c.finished_at_return, "the function had finished when the killed call returned");
  CHECK(c.result == UNTOUCHED);
  CHECK_EQ(gh_sleep(400), 0);
  CHECKF(tp_finished(&j), "the function did not complete on its worker after the kill");
  CHECK(c.result == UNTOUCHED);
}

static void test_tpool_size(void) {
  const char *env = getenv("GREENHUB_TPOOL_SIZE");
  const char *nf = getenv("GH_TEST_NOFORK");
  if (!env && !(nf && *nf && strcmp(nf, "0") != 0))
    CHECKF(gh_tpool_get_size() == 20, "default thread pool size %zu, want 20",
           gh_tpool_get_size());
  size_t before = gh_tpool_get_size();
  CHECK_ERR(gh_tpool_set_size(0), EINVAL);
  CHECK_EQ(gh_tpool_get_size(), before);
  CHECK_EQ(gh_tpool_set_size(3), 0);
  CHECK_EQ(gh_tpool_get_size(), 3);
  CHECK_EQ(gh_tpool_set_size(8), 0);
  CHECK_EQ(gh_tpool_get_size(), 8);
  /* Size 1: two 100 ms calls run one after the other. */
  CHECK_EQ(gh_tpool_set_size(1), 0);
  CHECK_EQ(gh_tpool_get_size(), 1);
  struct tp_job j[2];
  struct tp_call c[2];
  gh_thread t[2];
  double t0 = now_ms();
  for (int i = 0; i < 2; i++) {
    memset(&j[i], 0, sizeof j[i]);
    j[i].ms = 100;
    memset(&c[i], 0, sizeof c[i]);
    c[i].job = &j[i];
    c[i].rc = -2;
    t[i] = gh_spawn(tp_call_body, &c[i]);
    REQUIRE(t[i] > 0);
  }
  JOIN(t[0]);
  JOIN(t[1]);
  double el = now_ms() - t0;
  CHECK(c[0].rc == 0 && c[1].rc == 0);
  CHECKF(el >= 190, "pool size 1: two 100 ms calls took %.1f ms (want >= ~200: one at a time)",
         el);
  /* Size 2, six 50 ms calls: they queue, all complete, in >= 3 rounds. */
  CHECK_EQ(gh_tpool_set_size(2), 0);
  enum { M = 6 };
  struct tp_job jm[M];
  struct tp_call cm[M];
  gh_thread tm[M];
  t0 = now_ms();
  for (int i = 0; i < M; i++) {
    memset(&jm[i], 0, sizeof jm[i]);
    jm[i].ms = 50;
    jm[i].ret = (void *)(intptr_t)(100 + i);
    memset(&cm[i], 0, sizeof cm[i]);
    cm[i].job = &jm[i];
    cm[i].rc = -2;
    tm[i] = gh_spawn(tp_call_body, &cm[i]);
    REQUIRE(tm[i] > 0);
  }
  for (int i = 0; i < M; i++) JOIN(tm[i]);
  el = now_ms() - t0;
  for (int i = 0; i < M; i++)
    CHECKF(cm[i].rc == 0 && cm[i].result == (void *)(intptr_t)(100 + i), "queued call %d: rc %d "
           "errno=%s result %p", i, cm[i].rc, th_errname(cm[i].err), cm[i].result);
  CHECKF(el >= 145 && el < 1000, "pool size 2: six 50 ms calls took %.1f ms (want ~150)", el);
  CHECK_EQ(gh_tpool_set_size(before), 0);
}

struct tp_then_release {
  gh_sem s;
  gh_chan c;
  struct tp_job job;
  int rc, err;
};

static int tp_then_release_body(void *arg) {
  struct tp_then_release *x = arg;
  errno = 0;
  x->rc = gh_tpool_execute(tp_sleep_fn, &x->job, NULL);
  x->err = errno;
  if (x->s) gh_sem_release(x->s);
  if (x->c) gh_chan_try_send(x->c, ITEM(9));
  return 0;
}

/* A green thread waiting for a worker thread can still wake the root: the root's wait is not a
 * deadlock. No deadline here, since a deadline would hide a wrong EDEADLK behind a timer. */
static void test_tpool_root_wait_not_deadlock(void) {
  struct tp_then_release x;
  memset(&x, 0, sizeof x);
  x.s = gh_sem_new(0);
  REQUIRE(x.s > 0);
  x.job.ms = 50;
  gh_thread t = gh_spawn(tp_then_release_body, &x);
  REQUIRE(t > 0);
  double t0 = now_ms();
  errno = 0;
  int rc = gh_sem_acquire(x.s, -1);
  int e = errno;
  double el = now_ms() - t0;
  CHECKF(rc == 0, "root gh_sem_acquire while the releasing thread waits in gh_tpool_execute: %d "
         "errno=%s after %.1f ms, want 0 after ~50 ms", rc, th_errname(e), el);
  JOIN(t);
  CHECK_EQ(x.rc, 0);
  CHECK_EQ(gh_sem_free(x.s), 0);

  memset(&x, 0, sizeof x);
  x.c = gh_chan_new(0);
  REQUIRE(x.c > 0);
  x.job.ms = 50;
  t = gh_spawn(tp_then_release_body, &x);
  REQUIRE(t > 0);
  void *it = UNTOUCHED;
  errno = 0;
  rc = gh_chan_recv(x.c, &it, -1);
  e = errno;
  CHECKF(rc == 0 && it == ITEM(9), "root gh_chan_recv while the sending thread waits in "
         "gh_tpool_execute: %d errno=%s", rc, th_errname(e));
  JOIN(t);
  CHECK_EQ(gh_chan_free(x.c), 0);
}

/* ========================================================================================== */
/* a wait satisfied before its timeout/deadline leaves nothing behind                         */

enum { ST_SEM, ST_EVENT, ST_CHAN_RECV, ST_CHAN_SEND, ST_SEM_DEADLINE, ST_POOL_DEADLINE,
       ST_TPOOL_DEADLINE, ST_COUNT };
static const char *const st_names[ST_COUNT] = {
    "gh_sem_acquire(timeout 50)", "gh_event_wait(timeout 50)", "gh_chan_recv(timeout 50)",
    "gh_chan_send(timeout 50)", "gh_sem_acquire under a 50 ms deadline",
    "gh_pool_spawn under a 50 ms deadline", "gh_tpool_execute under a 50 ms deadline"};

struct stale {
  int kind;
  int64_t h;
  gh_event later; /* set by the root at ~120 ms */
  struct tp_job job;
  int rc1, err1;
  double el1;
  int rc2, err2;
  double el2;
  int rc3, err3;
  double el3;
};

static void *tp_quick_fn(void *arg) {
  sleep_native_ms(10);
  return arg;
}

static int stale_body(void *arg) {
  struct stale *x = arg;
  double t0 = now_ms();
  errno = 0;
  void *it = NULL;
  switch (x->kind) {
    case ST_SEM: x->rc1 = gh_sem_acquire(x->h, 50); break;
    case ST_EVENT: x->rc1 = gh_event_wait(x->h, NULL, 50); break;
    case ST_CHAN_RECV: x->rc1 = gh_chan_recv(x->h, &it, 50); break;
    case ST_CHAN_SEND: x->rc1 = gh_chan_send(x->h, ITEM(2), 50); break;
    case ST_SEM_DEADLINE:
      gh_deadline_push(50);
      x->rc1 = gh_sem_acquire(x->h, -1);
      x->err1 = errno;
      gh_deadline_pop();
      errno = x->err1;
      break;
    case ST_POOL_DEADLINE: {
      gh_deadline_push(50);
      gh_spawn_opts o;
      opts_init(&o);
      o.detached = true;
      gh_thread t = gh_pool_spawn(x->h, sleep_ms_body, (void *)(intptr_t)1, &o);
      x->rc1 = t > 0 ? 0 : -1;
      x->err1 = errno;
      gh_deadline_pop();
      errno = x->err1;
      break;
    }
    case ST_TPOOL_DEADLINE:
      gh_deadline_push(50);
      x->rc1 = gh_tpool_execute(tp_quick_fn, NULL, NULL);
      x->err1 = errno;
      gh_deadline_pop();
      errno = x->err1;
      break;
  }
  x->err1 = errno;
  x->el1 = now_ms() - t0;
  /* Wait for something else past the first wait's timeout (50 ms): a stale timer must not end
   * it. A sleep first, then an event the root sets at ~120 ms. */
  t0 = now_ms();
  errno = 0;
  x->rc2 = gh_sleep(60);
  x->err2 = errno;
  x->el2 = now_ms() - t0;
  t0 = now_ms();
  errno = 0;
  x->rc3 = gh_event_wait(x->later, NULL, 2000);
  x->err3 = errno;
  x->el3 = now_ms() - t0;
  return 0;
}

static void test_stale_timeouts(void) {
  for (int kind = 0; kind < ST_COUNT; kind++) {
    struct stale x;
    memset(&x, 0, sizeof x);
    x.kind = kind;
    x.rc1 = x.rc2 = x.rc3 = -2;
    x.later = gh_event_new();
    REQUIRE(x.later > 0);
    gh_thread blocker = 0;
    gh_event go = 0;
    switch (kind) {
      case ST_SEM:
      case ST_SEM_DEADLINE: x.h = gh_sem_new(0); break;
      case ST_EVENT: x.h = gh_event_new(); break;
      case ST_CHAN_RECV: x.h = gh_chan_new(1); break;
      case ST_CHAN_SEND:
        x.h = gh_chan_new(1);
        if (x.h > 0) CHECK_EQ(gh_chan_try_send(x.h, ITEM(1)), 0);
        break;
      case ST_POOL_DEADLINE:
        x.h = gh_pool_new(1);
        go = gh_event_new();
        if (x.h > 0 && go > 0)
          blocker = gh_pool_spawn(x.h, event_block_body, (void *)(intptr_t)go, NULL);
        CHECK(blocker > 0);
        break;
      default: x.h = 1; break;
    }
    REQUIRE(x.h > 0);
    gh_thread t = gh_spawn(stale_body, &x);
    REQUIRE(t > 0);
    CHECK_EQ(gh_sleep(10), 0);
    switch (kind) { /* satisfy the first wait at ~10 ms */
      case ST_SEM:
      case ST_SEM_DEADLINE: CHECK_EQ(gh_sem_release(x.h), 0); break;
      case ST_EVENT: CHECK_EQ(gh_event_set(x.h, NULL), 0); break;
      case ST_CHAN_RECV: CHECK_EQ(gh_chan_try_send(x.h, ITEM(1)), 0); break;
      case ST_CHAN_SEND: CHECK_EQ(gh_chan_try_recv(x.h, NULL), 0); break;
      case ST_POOL_DEADLINE: CHECK_EQ(gh_event_set(go, NULL), 0); break;
      default: break; /* the tpool call takes 10 ms by itself */
    }
    CHECK_EQ(gh_sleep(110), 0);
    CHECK_EQ(gh_event_set(x.later, NULL), 0);
    JOIN(t);
    const char *name = st_names[kind];
    CHECKF(x.rc1 == 0 && x.el1 < 45, "%s satisfied at ~10 ms: rc %d errno=%s after %.1f ms", name,
           x.rc1, th_errname(x.err1), x.el1);
    CHECKF(x.rc2 == 0 && x.el2 >= 59, "after %s: gh_sleep(60) returned %d errno=%s after %.1f ms "
           "(a stale timer?)", name, x.rc2, th_errname(x.err2), x.el2);
    CHECKF(x.rc3 == 0, "after %s: an event wait ended with %d errno=%s after %.1f ms (want 0 at "
           "the set, ~50 ms later)", name, x.rc3, th_errname(x.err3), x.el3);
    switch (kind) {
      case ST_SEM:
      case ST_SEM_DEADLINE: gh_sem_free(x.h); break;
      case ST_EVENT: gh_event_free(x.h); break;
      case ST_CHAN_RECV:
      case ST_CHAN_SEND: gh_chan_free(x.h); break;
      case ST_POOL_DEADLINE:
        if (blocker > 0) JOIN(blocker);
        gh_deadline_push(ROOT_DEADLINE_MS);
        gh_pool_wait(x.h);
        gh_deadline_pop();
        gh_pool_free(x.h);
        gh_event_free(go);
        break;
      default: break;
    }
    gh_event_free(x.later);
  }
}

/* ========================================================================================== */
/* handles across kinds and OS threads                                                        */

struct foreign_sync {
  gh_sem s;
  gh_event e;
  gh_chan c;
  gh_pool p;
  int rc[6], err[6];
};

static void *foreign_sync_main(void *arg) {
  struct foreign_sync *f = arg;
  errno = 0;
  f->rc[0] = gh_sem_release(f->s);
  f->err[0] = errno;
  errno = 0;
  f->rc[1] = gh_event_set(f->e, NULL);
  f->err[1] = errno;
  errno = 0;
  f->rc[2] = gh_chan_try_send(f->c, NULL);
  f->err[2] = errno;
  errno = 0;
  f->rc[3] = gh_pool_stat(f->p, NULL, NULL, NULL);
  f->err[3] = errno;
  errno = 0;
  f->rc[4] = gh_sem_free(f->s);
  f->err[4] = errno;
  errno = 0;
  f->rc[5] = gh_chan_close(f->c);
  f->err[5] = errno;
  return NULL;
}

static void test_sync_handle_kinds_and_threads(void) {
  gh_sem s = gh_sem_new(0);
  gh_event e = gh_event_new();
  gh_chan c = gh_chan_new(4);
  gh_pool p = gh_pool_new(1);
  REQUIRE(s > 0 && e > 0 && c > 0 && p > 0);
  /* A handle of one kind is not a handle of another. */
  CHECK_ERR(gh_sem_release(e), EBADF);
  CHECK_ERR(gh_sem_release(c), EBADF);
  CHECK_ERR(gh_sem_release(p), EBADF);
  CHECK_ERR(gh_event_set(s, NULL), EBADF);
  CHECK_ERR(gh_event_set(c, NULL), EBADF);
  CHECK_ERR(gh_event_is_set(p), EBADF);
  CHECK_ERR(gh_chan_try_send(s, NULL), EBADF);
  CHECK_ERR(gh_chan_try_send(e, NULL), EBADF);
  CHECK_ERR(gh_chan_try_send(p, NULL), EBADF);
  CHECK_ERR(gh_pool_stat(s, NULL, NULL, NULL), EBADF);
  CHECK_ERR(gh_pool_stat(c, NULL, NULL, NULL), EBADF);
  CHECK_ERR(gh_sem_free(c), EBADF);
  CHECK_ERR(gh_chan_free(s), EBADF);
  CHECK_ERR(gh_event_free(p), EBADF);
  CHECK_ERR(gh_pool_free(e), EBADF);
  gh_thread t = gh_spawn(sleep_ms_body, (void *)(intptr_t)1);
  REQUIRE(t > 0);
  CHECK_ERR(gh_sem_release(t), EBADF);
  CHECK_ERR(gh_chan_try_send(t, NULL), EBADF);
  CHECK_EQ(JOIN(t), 0);
  uint16_t port;
  gh_sock l = listen_local(&port);
  REQUIRE(l > 0);
  CHECK_ERR(gh_sem_release(l), EBADF);
  CHECK_ERR(gh_event_set(l, NULL), EBADF);
  CHECK_ERR(gh_chan_try_send(l, NULL), EBADF);
  CHECK_ERR(gh_pool_stat(l, NULL, NULL, NULL), EBADF);
  CHECK_ERR(gh_serve(s, echo_handler, NULL, 1), EBADF); /* a semaphore is not a listener */
  gh_close(l);
  /* Nothing above changed anything. */
  CHECK_EQ(sem_value(s), 0);
  CHECK_EQ(gh_event_is_set(e), 0);
  CHECK_EQ(chan_len(c), 0);
  CHECK_EQ(pool_running(p), 0);

  /* Another OS thread gets EBADF for this hub's handles. */
  struct foreign_sync f;
  memset(&f, 0, sizeof f);
  f.s = s;
  f.e = e;
  f.c = c;
  f.p = p;
  pthread_t pt;
  REQUIRE(pthread_create(&pt, NULL, foreign_sync_main, &f) == 0);
  pthread_join(pt, NULL);
  static const char *const what[6] = {"gh_sem_release", "gh_event_set", "gh_chan_try_send",
                                      "gh_pool_stat", "gh_sem_free", "gh_chan_close"};
  for (int i = 0; i < 6; i++)
    CHECKF(f.rc[i] == -1 && f.err[i] == EBADF, "%s from another OS thread: %d errno=%s, want "
           "EBADF", what[i], f.rc[i], th_errname(f.err[i]));
  CHECK_EQ(sem_value(s), 0);
  CHECK_EQ(gh_event_is_set(e), 0);
  CHECK_EQ(chan_len(c), 0);
  CHECK_EQ(gh_chan_try_send(c, NULL), 0); /* not closed */
  CHECK_EQ(gh_sem_free(s), 0);
  CHECK_EQ(gh_event_free(e), 0);
  CHECK_EQ(gh_chan_free(c), 0);
  CHECK_EQ(gh_pool_free(p), 0);
}

/* ========================================================================================== */

const test_case sync_tests[] = {
    {"sem_counting", test_sem_counting},
    {"sem_acquire_release", test_sem_acquire_release},
    {"sem_fifo_5_waiters", test_sem_fifo_5_waiters},
    {"sem_timeout", test_sem_timeout},
    {"sem_deadline", test_sem_deadline},
    {"sem_kill_waiter", test_sem_kill_waiter},
    {"sem_bounded", test_sem_bounded},
    {"sem_stat", test_sem_stat},
    {"sem_free_and_stale", test_sem_free_and_stale},
    {"sem_root_edeadlk", test_sem_root_edeadlk},
    {"sem_seed_pattern", test_sem_seed_pattern},
    {"event_wait_blocks_until_set", test_event_wait_blocks_until_set},
    {"event_set_wakes_all", test_event_set_wakes_all},
    {"event_wait_after_set", test_event_wait_after_set},
    {"event_clear", test_event_clear},
    {"event_timeout_deadline_kill", test_event_timeout_deadline_kill},
    {"event_free", test_event_free},
    {"chan_new_invalid", test_chan_new_invalid},
    {"chan_bounded_try", test_chan_bounded_try},
    {"chan_send_timeout", test_chan_send_timeout},
    {"chan_fifo", test_chan_fifo},
    {"chan_blocked_senders_order", test_chan_blocked_senders_order},
    {"chan_unbounded_10000", test_chan_unbounded_10000},
    {"chan_rendezvous", test_chan_rendezvous},
    {"chan_rendezvous_send_timeout", test_chan_rendezvous_send_timeout},
    {"chan_close", test_chan_close},
    {"chan_kill_receiver", test_chan_kill_receiver},
    {"chan_kill_sender", test_chan_kill_sender},
    {"chan_kill_after_handoff", test_chan_kill_after_handoff},
    {"chan_stat", test_chan_stat},
    {"chan_free", test_chan_free},
    {"chan_root_edeadlk", test_chan_root_edeadlk},
    {"park_unpark_value", test_park_unpark_value},
    {"park_unpark_before_park", test_unpark_before_park},
    {"park_deadline", test_park_deadline},
    {"park_root", test_park_root},
    {"park_kill", test_park_kill},
    {"park_unpark_ebadf", test_unpark_ebadf},
    {"park_unpark_does_not_wake_other_waits", test_unpark_does_not_wake_other_waits},
    {"park_unpark_pending_other_waits", test_unpark_pending_does_not_end_other_waits},
    {"pool_limits_concurrency", test_pool_limits_concurrency},
    {"pool_spawn_blocks_while_full", test_pool_spawn_blocks_while_full},
    {"pool_wait", test_pool_wait},
    {"pool_resize", test_pool_resize},
    {"pool_stat_free_invalid", test_pool_stat_free_invalid},
    {"pool_slot_freed_on_kill_and_exit", test_pool_slot_freed_on_kill_and_exit},
    {"pool_spawner_kill_deadline_sock", test_pool_spawner_kill_deadline_sock},
    {"pool_wait_root_edeadlk", test_pool_wait_root_edeadlk},
    {"serve_echo_and_stop", test_serve_echo_and_stop},
    {"serve_concurrency_limit", test_serve_concurrency_limit},
    {"serve_stop_others_go_on", test_serve_stop_others_go_on},
    {"serve_listener_closed", test_serve_listener_closed},
    {"serve_deadline_kill_invalid", test_serve_deadline_kill_invalid},
    {"serve_handler_exit", test_serve_handler_exit},
    {"tpool_hub_not_blocked", test_tpool_hub_not_blocked},
    {"tpool_parallel", test_tpool_parallel},
    {"tpool_deadline", test_tpool_deadline},
    {"tpool_kill", test_tpool_kill},
    {"tpool_size", test_tpool_size},
    {"tpool_root_wait_not_deadlock", test_tpool_root_wait_not_deadlock},
    {"sem_chan_event_pool_tpool_stale_timeouts", test_stale_timeouts},
    {"sem_event_chan_pool_handle_kinds", test_sync_handle_kinds_and_threads},
    {NULL, NULL},
};
