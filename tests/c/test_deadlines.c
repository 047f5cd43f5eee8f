/* greenhub C API tests: deadlines (gh_deadline_push, gh_deadline_pop). In the root and in
 * threads, nested (the earliest applies), per thread, around joins. */
#include "harness.h"
#include "support.h"

struct dl_result {
  int rc, err;
  double el;
  int rc_after, err_after;
  int rc_popped;
  int pop_rc, pop_err;
};

static void deadline_sleep_sequence(struct dl_result *r) {
  r->pop_rc = gh_deadline_push(20);
  double t0 = now_ms();
  errno = 0;
  r->rc = gh_sleep(1000);
  r->err = errno;
  r->el = now_ms() - t0;
  errno = 0;
  r->rc_after = gh_sleep(1); /* the passed deadline is still in force */
  r->err_after = errno;
  gh_deadline_pop();
  r->rc_popped = gh_sleep(1);
  errno = 0;
  r->pop_rc = gh_deadline_pop();
  r->pop_err = errno;
}

static void check_dl_result(const struct dl_result *r, const char *where) {
  CHECKF(r->rc == -1 && r->err == ETIMEDOUT, "%s: gh_sleep(1000) under a 20 ms deadline: %d "
         "errno=%s, want ETIMEDOUT", where, r->rc, th_errname(r->err));
  CHECKF(r->el >= 19 && r->el < 500, "%s: the 20 ms deadline fired after %.1f ms", where, r->el);
  CHECKF(r->rc_after == -1 && r->err_after == ETIMEDOUT,
         "%s: a blocking call after the deadline passed (not popped): %d errno=%s, want "
         "ETIMEDOUT", where, r->rc_after, th_errname(r->err_after));
  CHECKF(r->rc_popped == 0, "%s: gh_sleep(1) after the pop failed", where);
  CHECKF(r->pop_rc == -1 && r->pop_err == EINVAL, "%s: pop of an empty stack: %d errno=%s", where,
         r->pop_rc, th_errname(r->pop_err));
}

TEST(deadline_sleep_root) {
  struct dl_result r;
  memset(&r, 0, sizeof r);
  deadline_sleep_sequence(&r);
  check_dl_result(&r, "root");
}

static int deadline_thread_body(void *arg) {
  deadline_sleep_sequence(arg);
  return 0;
}

TEST(deadline_sleep_thread) {
  struct dl_result r;
  memset(&r, 0, sizeof r);
  gh_thread t = gh_spawn(deadline_thread_body, &r);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  check_dl_result(&r, "green thread");
}

TEST(deadline_nested) {
  double t0 = now_ms();
  CHECK_EQ(gh_deadline_push(300), 0);
  CHECK_EQ(gh_deadline_push(20), 0);
  double t1 = now_ms();
  CHECK_ERR(gh_sleep(1000), ETIMEDOUT);
  double el = now_ms() - t1;
  CHECKF(el >= 19 && el < 250, "inner 20 ms deadline (outer 300) fired after %.1f ms", el);
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(gh_sleep(10) == 0, "after popping the inner deadline, gh_sleep(10) failed (errno=%s)",
         th_errname(errno));
  CHECK_ERR(gh_sleep(5000), ETIMEDOUT);
  el = now_ms() - t0;
  CHECKF(el >= 299 && el < 900, "restored outer 300 ms deadline fired %.1f ms after its push", el);
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECK_ERR(gh_deadline_pop(), EINVAL);
}

TEST(deadline_earliest_applies) {
  CHECK_EQ(gh_deadline_push(20), 0);
  CHECK_EQ(gh_deadline_push(1000), 0); /* later than the outer one: the outer still applies */
  double t0 = now_ms();
  CHECK_ERR(gh_sleep(2000), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECKF(el < 500, "push(20) then push(1000): gh_sleep timed out after %.1f ms (want ~20)", el);
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECK_EQ(gh_sleep(1), 0);
}

TEST(deadline_negative_none) {
  CHECK_EQ(gh_deadline_push(-1), 0);
  CHECK_EQ(gh_sleep(30), 0);
  CHECK_EQ(gh_deadline_push(20), 0);
  CHECK_ERR(gh_sleep(1000), ETIMEDOUT);
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(gh_sleep(5) == 0, "under push(-1) only, gh_sleep(5) failed errno=%s", th_errname(errno));
  CHECK_EQ(gh_deadline_pop(), 0); /* the "no deadline" entry still needs its pop */
  CHECK_ERR(gh_deadline_pop(), EINVAL);
}

static int pop_in_fresh_thread(void *arg) {
  int *out = arg;
  errno = 0;
  out[0] = gh_deadline_pop();
  out[1] = errno;
  return 0;
}

TEST(deadline_pop_empty) {
  CHECK_ERR(gh_deadline_pop(), EINVAL);
  CHECK_EQ(gh_deadline_push(5000), 0);
  /* The stack is per thread: a new thread's stack is empty even if the root's is not. */
  int out[2] = {-2, 0};
  gh_thread t = gh_spawn(pop_in_fresh_thread, out);
  REQUIRE(t > 0);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(out[0] == -1 && out[1] == EINVAL, "pop in a fresh thread: %d errno=%s, want EINVAL",
         out[0], th_errname(out[1]));
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECK_ERR(gh_deadline_pop(), EINVAL);
}

struct per_thread_dl {
  int rc, err;
};

static int sleep100_record(void *arg) {
  struct per_thread_dl *p = arg;
  errno = 0;
  p->rc = gh_sleep(100);
  p->err = errno;
  gh_deadline_push(10); /* left pushed on return: must not leak anywhere */
  return 0;
}

TEST(deadline_per_thread) {
  struct per_thread_dl p = {-2, 0};
  gh_thread t = gh_spawn(sleep100_record, &p);
  REQUIRE(t > 0);
  CHECK_EQ(gh_deadline_push(50), 0);
  double t0 = now_ms();
  CHECK_ERR(gh_sleep(1000), ETIMEDOUT);
  CHECKF(now_ms() - t0 < 500, "root deadline 50 ms fired after %.1f ms", now_ms() - t0);
  CHECK_EQ(gh_deadline_pop(), 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  CHECKF(p.rc == 0, "the root's deadline affected another thread's gh_sleep(100): %d errno=%s",
         p.rc, th_errname(p.err));
  CHECK_EQ(gh_sleep(30), 0); /* the thread's leftover push(10) does not affect the root */
  CHECK_ERR(gh_deadline_pop(), EINVAL);
}

TEST(deadline_join) {
  gh_thread t = gh_spawn(sleep_then_return, (void *)(intptr_t)5000);
  REQUIRE(t > 0);
  CHECK_EQ(gh_deadline_push(30), 0);
  int st = 8888;
  double t0 = now_ms();
  CHECK_ERR(gh_join(t, &st), ETIMEDOUT);
  double el = now_ms() - t0;
  CHECK_EQ(gh_deadline_pop(), 0);
  CHECKF(el >= 29 && el < 500, "gh_join under a 30 ms deadline returned after %.1f ms", el);
  CHECKF(st == 8888, "a timed out gh_join wrote the status (%d)", st);
  /* Still joinable after the timed out join. */
  CHECK_EQ(gh_kill(t), 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  CHECKF(st == ECANCELED, "killed sleeper reported status %d (its sleep's errno), want %d", st,
         ECANCELED);
}
