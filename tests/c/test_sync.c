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
  int rc = gh_event_wait(o->h, o->timeout, &o->val);
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
  CHECK_ERR(gh_sem_acquire(s, 0), ETIMEDOUT);
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
