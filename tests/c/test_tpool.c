/* greenhub C API tests: the native thread pool (gh_tpool_*). The hub runs while a call
 * blocks an OS thread; calls run in parallel; deadlines and kills; the pool's size; the root
 * waiting on the pool is no deadlock. */
#include "harness.h"
#include "support.h"
#include "support_sync.h"

#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static long os_tid(void) { return (long)syscall(SYS_gettid); }

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

static int tick_body(void *arg) {
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

TEST(tpool_hub_not_blocked) {
  ticks = pongs = stop_aux = 0;
  gh_sock a, b;
  REQUIRE(make_pair(&a, &b) == 0);
  gh_thread tick = gh_spawn(tick_body, NULL);
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

TEST(tpool_parallel) {
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

TEST(tpool_deadline) {
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

TEST(tpool_kill) {
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

TEST(tpool_size) {
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
TEST(tpool_root_wait_not_deadlock) {
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
