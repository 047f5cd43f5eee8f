/* greenhub C API tests: green threads, deadlines, deadlock detection, the log callback. */
#include "harness.h"

#include <limits.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/wait.h>

/* Bounds a test's root-level blocking calls: a bug gives ETIMEDOUT (a failure), not a hang. */
#define ROOT_DEADLINE_MS 10000

/* ------------------------------------------------------------------------------------------ */
/* small thread bodies                                                                        */

static int set_flag(void *arg) {
  *(int *)arg = 1;
  return 0;
}

static int return_arg(void *arg) { return (int)(intptr_t)arg; }

static int sleep_then_return(void *arg) {
  /* arg: milliseconds; returns 0 if the sleep succeeded, errno otherwise */
  if (gh_sleep((int64_t)(intptr_t)arg) != 0) return errno;
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* spawn: lazy start and order                                                                */

static void test_spawn_runs_on_yield(void) {
  int flag = 0;
  gh_thread t = gh_spawn(set_flag, &flag);
  REQUIRE(t > 0);
  CHECKF(flag == 0, "the new thread ran inside gh_spawn");
  CHECK_OK(gh_yield());
  CHECKF(flag == 1, "the new thread did not run during the spawner's gh_yield");
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 0);
}

static void test_spawn_runs_on_sleep0(void) {
  int flag = 0;
  gh_thread t = gh_spawn(set_flag, &flag);
  REQUIRE(t > 0);
  CHECKF(flag == 0, "the new thread ran inside gh_spawn");
  CHECK_EQ(gh_sleep(0), 0);
  CHECKF(flag == 1, "the new thread did not run during the spawner's gh_sleep(0)");
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 0);
}

static void test_spawn_runs_on_join(void) {
  int flag = 0;
  gh_thread t = gh_spawn(set_flag, &flag);
  REQUIRE(t > 0);
  CHECKF(flag == 0, "the new thread ran inside gh_spawn");
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK(flag == 1);
  CHECK_EQ(st, 0);
}

struct lazy_inner {
  int flag;
  int seen_before_yield;
  int seen_after_yield;
  int join_status;
};

static int lazy_spawner(void *arg) {
  struct lazy_inner *li = arg;
  gh_thread u = gh_spawn(set_flag, &li->flag);
  if (u <= 0) return 1;
  li->seen_before_yield = li->flag;
  gh_yield();
  li->seen_after_yield = li->flag;
  int st = -1;
  if (gh_join(u, &st) != 0) return 2;
  li->join_status = st;
  return 0;
}

static void test_spawn_from_thread_runs_on_yield(void) {
  struct lazy_inner li = {0, -1, -1, -1};
  gh_thread t = gh_spawn(lazy_spawner, &li);
  REQUIRE(t > 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 0);
  CHECKF(li.seen_before_yield == 0, "a thread spawned by a green thread ran inside gh_spawn");
  CHECKF(li.seen_after_yield == 1, "a thread spawned by a green thread did not run on its yield");
  CHECK_EQ(li.join_status, 0);
}

static int order_buf[64];
static int order_n;

static int append_id(void *arg) {
  if (order_n < 64) order_buf[order_n++] = (int)(intptr_t)arg;
  return 0;
}

static void test_spawn_fifo_order(void) {
  enum { N = 8 };
  gh_thread t[N];
  order_n = 0;
  for (int i = 0; i < N; i++) {
    t[i] = gh_spawn(append_id, (void *)(intptr_t)i);
    REQUIRE(t[i] > 0);
  }
  CHECKF(order_n == 0, "%d thread(s) ran before the spawner blocked", order_n);
  /* Join in reverse order: the run order must not depend on the join order. */
  for (int i = N - 1; i >= 0; i--) {
    int st = -1;
    CHECK_EQ(gh_join(t[i], &st), 0);
    CHECK_EQ(st, 0);
  }
  CHECK_EQ(order_n, N);
  char got[256] = "";
  int in_order = 1;
  for (int i = 0; i < order_n; i++) {
    if (order_buf[i] != i) in_order = 0;
    size_t l = strlen(got);
    snprintf(got + l, sizeof got - l, "%d ", order_buf[i]);
  }
  CHECKF(in_order, "threads ran in order [%s], want spawn order [0..%d]", got, N - 1);
}

/* ------------------------------------------------------------------------------------------ */
/* join                                                                                       */

static void test_join_returns_status(void) {
  const int values[] = {42, 0, 1, -7, 255, 256, 65537, INT_MAX, INT_MIN + 1};
  enum { N = sizeof values / sizeof values[0] };
  gh_thread t[N];
  for (int i = 0; i < N; i++) {
    t[i] = gh_spawn(return_arg, (void *)(intptr_t)values[i]);
    REQUIRE(t[i] > 0);
  }
  for (int i = 0; i < N; i++) {
    int st = 12345;
    CHECK_EQ(gh_join(t[i], &st), 0);
    CHECKF(st == values[i], "thread returned %d, join reported %d", values[i], st);
  }
}

static void test_join_twice_ebadf(void) {
  gh_thread t = gh_spawn(return_arg, (void *)(intptr_t)3);
  REQUIRE(t > 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 3);
  st = 999;
  CHECK_ERR(gh_join(t, &st), EBADF);
  CHECKF(st == 999, "status written on a failed join (%d)", st);
  CHECK_ERR(gh_kill(t), EBADF);
  char name[32];
  CHECK_ERR(gh_get_name(t, name, sizeof name), EBADF);
  CHECK_ERR(gh_set_name(t, "x"), EBADF);
}

static void test_join_stale_id_not_reused(void) {
  gh_thread t = gh_spawn(return_arg, (void *)(intptr_t)5);
  REQUIRE(t > 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  /* New threads must not make the joined id valid again. */
  enum { N = 50 };
  gh_thread more[N];
  for (int i = 0; i < N; i++) {
    more[i] = gh_spawn(sleep_then_return, (void *)(intptr_t)5);
    REQUIRE(more[i] > 0);
    CHECKF(more[i] != t, "a joined thread id (%lld) was handed out again", (long long)t);
  }
  gh_yield();
  st = 999;
  CHECK_ERR(gh_join(t, &st), EBADF);
  CHECK_EQ(st, 999);
  for (int i = 0; i < N; i++) {
    st = -1;
    CHECK_EQ(gh_join(more[i], &st), 0);
    CHECK_EQ(st, 0);
  }
}

static void test_join_detached_einval(void) {
  int f1 = 0, f2 = 0;
  gh_thread t1 = gh_spawn_n(set_flag, &f1);
  REQUIRE(t1 > 0);
  gh_spawn_opts o;
  opts_init(&o);
  o.detached = true;
  gh_thread t2 = gh_spawn_ex(set_flag, &f2, &o);
  REQUIRE(t2 > 0);
  CHECK(t1 != t2);
  int st = 777;
  CHECK_ERR(gh_join(t1, &st), EINVAL);
  CHECK_ERR(gh_join(t2, &st), EINVAL);
  CHECKF(st == 777, "status written on a failed join (%d)", st);
  /* A detached id can be named and killed. */
  CHECK_EQ(gh_set_name(t1, "detached-one"), 0);
  char name[32] = "";
  CHECK_EQ(gh_get_name(t1, name, sizeof name), 0);
  CHECK(strcmp(name, "detached-one") == 0);
  gh_thread t3 = gh_spawn_n(sleep_then_return, (void *)(intptr_t)10000);
  REQUIRE(t3 > 0);
  CHECK_EQ(gh_kill(t3), 0);
  double t0 = now_ms();
  CHECK_EQ(gh_run(), 0);
  CHECKF(now_ms() - t0 < 1000, "gh_run waited %.0f ms for a killed detached sleeper",
         now_ms() - t0);
  CHECKF(f1 == 1 && f2 == 1, "detached threads did not run (f1=%d f2=%d)", f1, f2);
}

static int join_root_from_thread(void *arg) {
  int *err = arg;
  gh_deadline_push(1000);
  int st = 4444;
  errno = 0;
  int r = gh_join(0, &st);
  err[0] = r;
  err[1] = errno;
  err[2] = st;
  gh_deadline_pop();
  return 0;
}

static void test_join_garbage_ids(void) {
  const long long ids[] = {0x7fffffffLL, -5, 12345678901LL, -1, INT64_MAX, INT64_MIN, 1LL << 40};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    int st = 4321;
    errno = 0;
    int r = gh_join((gh_thread)ids[i], &st);
    int e = errno;
    CHECKF(r == -1 && e == EBADF, "gh_join(%lld): got %d errno=%s, want -1 EBADF", ids[i], r,
           th_errname(e));
    CHECKF(st == 4321, "gh_join(%lld) wrote the status on failure", ids[i]);
    errno = 0;
    r = gh_kill((gh_thread)ids[i]);
    e = errno;
    CHECKF(r == -1 && e == EBADF, "gh_kill(%lld): got %d errno=%s, want -1 EBADF", ids[i], r,
           th_errname(e));
  }
  /* The root (0) is not joinable: from the root it is a self-join, from a thread it is not a
   * joinable thread. Either way: -1, no hang. */
  gh_deadline_push(1000);
  int st = 4321;
  errno = 0;
  int r = gh_join(0, &st);
  int e = errno;
  gh_deadline_pop();
  CHECKF(r == -1 && (e == EDEADLK || e == EINVAL || e == EBADF),
         "gh_join(0) in the root: got %d errno=%s, want -1 EDEADLK/EINVAL/EBADF", r,
         th_errname(e));
  CHECK_EQ(st, 4321);
  if (r == -1) th_note("gh_join(0) from the root: errno=%s", th_errname(e));

  int res[3] = {0, 0, 0};
  gh_thread t = gh_spawn(join_root_from_thread, res);
  REQUIRE(t > 0);
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(res[0] == -1 && (res[1] == EINVAL || res[1] == EBADF),
         "gh_join(0) from a green thread: got %d errno=%s, want -1 EINVAL or EBADF", res[0],
         th_errname(res[1]));
  CHECK_EQ(res[2], 4444);
  if (res[0] == -1) th_note("gh_join(0) from a green thread: errno=%s", th_errname(res[1]));
}

static int join_self_body(void *arg) {
  int *out = arg;
  int st = 31337;
  errno = 0;
  out[0] = gh_join(gh_self(), &st);
  out[1] = errno;
  out[2] = st;
  return 0;
}

static void test_join_self_edeadlk(void) {
  int out[3] = {0, 0, 0};
  gh_thread t = gh_spawn(join_self_body, out);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  CHECKF(out[0] == -1 && out[1] == EDEADLK, "gh_join(gh_self()): got %d errno=%s, want EDEADLK",
         out[0], th_errname(out[1]));
  CHECK_EQ(out[2], 31337);
}

/* ------------------------------------------------------------------------------------------ */
/* self, sleep, spawn errors                                                                  */

struct self_info {
  gh_thread self;
  gh_thread child_id;
  gh_thread child_self;
};

static int record_self(void *arg) {
  *(gh_thread *)arg = gh_self();
  return 0;
}

static int self_spawner(void *arg) {
  struct self_info *si = arg;
  si->self = gh_self();
  si->child_id = gh_spawn(record_self, &si->child_self);
  if (si->child_id <= 0) return 1;
  int st;
  return gh_join(si->child_id, &st) == 0 ? 0 : 2;
}

static void test_self_ids(void) {
  CHECK_EQ(gh_self(), 0);
  struct self_info si = {-1, -1, -1};
  gh_thread t = gh_spawn(self_spawner, &si);
  REQUIRE(t > 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 0);
  CHECKF(si.self == t, "gh_self() inside = %lld, gh_spawn returned %lld", (long long)si.self,
         (long long)t);
  CHECK(si.self > 0);
  CHECKF(si.child_self == si.child_id && si.child_id > 0,
         "nested: gh_self() = %lld, gh_spawn returned %lld", (long long)si.child_self,
         (long long)si.child_id);
  CHECK(si.child_id != t);
  CHECK_EQ(gh_self(), 0);
}

struct sleeper {
  int ms;
  double slept;
  int rc;
};

static int wake_order[8];
static int wake_n;

static int sleeper_body(void *arg) {
  struct sleeper *s = arg;
  double t0 = now_ms();
  s->rc = gh_sleep(s->ms);
  s->slept = now_ms() - t0;
  if (wake_n < 8) wake_order[wake_n++] = s->ms;
  return 0;
}

static void test_sleep_ordering(void) {
  struct sleeper s[3] = {{30, 0, -2}, {10, 0, -2}, {20, 0, -2}};
  gh_thread t[3];
  wake_n = 0;
  double t0 = now_ms();
  for (int i = 0; i < 3; i++) {
    t[i] = gh_spawn(sleeper_body, &s[i]);
    REQUIRE(t[i] > 0);
  }
  gh_deadline_push(ROOT_DEADLINE_MS);
  for (int i = 0; i < 3; i++) {
    int st = -1;
    CHECK_EQ(gh_join(t[i], &st), 0);
  }
  gh_deadline_pop();
  double total = now_ms() - t0;
  CHECK_EQ(wake_n, 3);
  CHECKF(wake_order[0] == 10 && wake_order[1] == 20 && wake_order[2] == 30,
         "woke in order %d,%d,%d; want 10,20,30", wake_order[0], wake_order[1], wake_order[2]);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(s[i].rc, 0);
    CHECKF(s[i].slept >= s[i].ms - 1, "gh_sleep(%d) returned after %.1f ms (early)", s[i].ms,
           s[i].slept);
  }
  CHECKF(total < 500, "three sleeps of <= 30 ms took %.1f ms", total);
}

/* Preemption simulated with a signal handler that busy-waits 1.2 ms, fired every 1.3 ms by a
 * POSIX timer (SIGUSR1; alarm()'s timer is left alone). A gh_sleep without any deadline must
 * never fail with ETIMEDOUT, however late the thread gets to actually park. */
static void busy_1200us(int sig) {
  (void)sig;
  int saved = errno;
  double t0 = now_ms();
  while (now_ms() - t0 < 1.2) {
  }
  errno = saved;
}

static struct {
  double end;
  long sleeps;
  int fails;
  int first_err;
  double first_el;
} preempt;

static int preempted_sleeper(void *arg) {
  (void)arg;
  while (now_ms() < preempt.end) {
    double t0 = now_ms();
    errno = 0;
    int r = gh_sleep(1);
    int e = errno;
    preempt.sleeps++;
    if (r != 0 && preempt.fails++ == 0) {
      preempt.first_err = e;
      preempt.first_el = now_ms() - t0;
    }
  }
  return 0;
}

static void test_sleep_no_spurious_timeout(void) {
  struct sigaction sa, old_sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = busy_1200us;
  sa.sa_flags = SA_RESTART;
  REQUIRE(sigaction(SIGUSR1, &sa, &old_sa) == 0);
  timer_t tm;
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGUSR1;
  REQUIRE(timer_create(CLOCK_MONOTONIC, &sev, &tm) == 0);
  memset(&preempt, 0, sizeof preempt);
  preempt.end = now_ms() + 1000;
  int spawned = 0;
  for (int i = 0; i < 2000; i++)
    if (gh_spawn_n(preempted_sleeper, NULL) > 0) spawned++;
  struct itimerspec its = {{0, 1300000}, {0, 1300000}};
  timer_settime(tm, 0, &its, NULL);
  gh_deadline_push(30000);
  int r = gh_run();
  gh_deadline_pop();
  timer_delete(tm);
  sigaction(SIGUSR1, &old_sa, NULL);
  CHECK_EQ(spawned, 2000);
  CHECK_EQ(r, 0);
  CHECKF(preempt.fails == 0, "%d of %ld gh_sleep(1) calls (no deadline pushed) failed; first: "
         "errno=%s after %.2f ms", preempt.fails, preempt.sleeps, th_errname(preempt.first_err),
         preempt.first_el);
  th_note("%ld sleeps under simulated preemption", preempt.sleeps);
}

static void test_sleep_in_root(void) {
  double t0 = now_ms();
  CHECK_EQ(gh_sleep(0), 0);
  CHECK_EQ(gh_yield(), 0);
  double t1 = now_ms();
  CHECKF(t1 - t0 < 50, "gh_sleep(0)/gh_yield with nothing to run took %.1f ms", t1 - t0);
  CHECK_EQ(gh_sleep(20), 0);
  double t2 = now_ms();
  CHECKF(t2 - t1 >= 19, "gh_sleep(20) in the root returned after %.1f ms", t2 - t1);
  CHECKF(t2 - t1 < 500, "gh_sleep(20) in the root took %.1f ms", t2 - t1);
}

static void test_sleep_negative_einval(void) {
  CHECK_ERR(gh_sleep(-1), EINVAL);
  CHECK_ERR(gh_sleep(INT64_MIN), EINVAL);
  CHECK_EQ(gh_sleep(1), 0);
}

static void test_spawn_null_einval(void) {
  int dummy = 0;
  CHECK_ERR(gh_spawn(NULL, &dummy), EINVAL);
  CHECK_ERR(gh_spawn_n(NULL, &dummy), EINVAL);
  gh_spawn_opts o;
  opts_init(&o);
  CHECK_ERR(gh_spawn_ex(NULL, &dummy, &o), EINVAL);
  CHECK_EQ(gh_run(), 0);
}

static void test_spawn_ex_options(void) {
  /* NULL opts: the defaults (joinable). */
  gh_thread t = gh_spawn_ex(return_arg, (void *)(intptr_t)21, NULL);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 21);
  /* join with a NULL status pointer */
  t = gh_spawn(return_arg, (void *)(intptr_t)22);
  REQUIRE(t > 0);
  CHECK_EQ(gh_join(t, NULL), 0);
  CHECK_ERR(gh_join(t, NULL), EBADF);
  gh_spawn_opts o;
  opts_init(&o);
  int flag = 0;
  o.stack_size = 1; /* below 16 KiB */
  CHECK_ERR(gh_spawn_ex(set_flag, &flag, &o), EINVAL);
  o.stack_size = 16 * 1024 - 1;
  CHECK_ERR(gh_spawn_ex(set_flag, &flag, &o), EINVAL);
  opts_init(&o);
  o.name = "\xff\xfe bad utf-8";
  CHECK_ERR(gh_spawn_ex(set_flag, &flag, &o), EINVAL);
  CHECK_EQ(gh_run(), 0);
  CHECKF(flag == 0, "a rejected spawn ran its function");
  gh_deadline_pop();
}

/* ------------------------------------------------------------------------------------------ */
/* names                                                                                      */

struct name_seen {
  char name[64];
  int rc;
};

static int read_own_name(void *arg) {
  struct name_seen *ns = arg;
  ns->rc = gh_get_name(gh_self(), ns->name, sizeof ns->name);
  return 0;
}

static void test_thread_names(void) {
  char src[40] = "worker-1";
  struct name_seen ns;
  memset(&ns, 0, sizeof ns);
  ns.rc = -2;
  gh_spawn_opts o;
  opts_init(&o);
  o.name = src;
  gh_thread t = gh_spawn_ex(read_own_name, &ns, &o);
  REQUIRE(t > 0);
  memcpy(src, "XXXXXXXX", 8); /* the name must have been copied */

  char buf[64];
  memset(buf, '#', sizeof buf);
  CHECK_EQ(gh_get_name(t, buf, sizeof buf), 0);
  CHECKF(strcmp(buf, "worker-1") == 0, "gh_get_name = \"%.63s\", want \"worker-1\"", buf);

  /* ERANGE: "worker-1" needs 9 bytes. The buffer must stay untouched. */
  char small[16];
  memset(small, 'X', sizeof small);
  CHECK_ERR(gh_get_name(t, small, 8), ERANGE);
  int untouched = 1;
  for (size_t i = 0; i < sizeof small; i++)
    if (small[i] != 'X') untouched = 0;
  CHECKF(untouched, "gh_get_name wrote into the buffer while failing with ERANGE");
  CHECK_ERR(gh_get_name(t, small, 1), ERANGE);
  memset(small, 'X', sizeof small);
  CHECK_EQ(gh_get_name(t, small, 9), 0);
  CHECK(memcmp(small, "worker-1", 9) == 0);

  CHECK_EQ(gh_set_name(t, "renamed"), 0);
  memset(buf, '#', sizeof buf);
  CHECK_EQ(gh_get_name(t, buf, sizeof buf), 0);
  CHECKF(strcmp(buf, "renamed") == 0, "after gh_set_name: \"%.63s\"", buf);

  /* At most 31 bytes are kept. */
  char longname[41];
  memset(longname, 'a', 40);
  longname[40] = '\0';
  CHECK_EQ(gh_set_name(t, longname), 0);
  memset(buf, '#', sizeof buf);
  CHECK_EQ(gh_get_name(t, buf, sizeof buf), 0);
  size_t ln = strnlen(buf, sizeof buf);
  CHECKF(ln == 31, "a 40-byte name came back with %zu bytes (want 31)", ln);
  CHECK_ERR(gh_set_name(t, NULL), EINVAL);
  CHECK_ERR(gh_set_name(t, "\xc3\x28 not utf-8"), EINVAL);
  CHECK_EQ(gh_set_name(t, "final"), 0);
  /* The root (0) can be named too. */
  CHECK_EQ(gh_set_name(0, "main-root"), 0);
  memset(buf, '#', sizeof buf);
  CHECK_EQ(gh_get_name(0, buf, sizeof buf), 0);
  CHECKF(strcmp(buf, "main-root") == 0, "root name \"%.63s\"", buf);

  gh_deadline_push(ROOT_DEADLINE_MS);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  CHECK_EQ(ns.rc, 0);
  CHECKF(strcmp(ns.name, "final") == 0, "thread read its own name as \"%.63s\", want \"final\"",
         ns.name);
  CHECK_ERR(gh_get_name(t, buf, sizeof buf), EBADF);

  /* A thread spawned without a name: gh_get_name succeeds with some NUL-terminated text. */
  gh_thread u = gh_spawn(return_arg, NULL);
  REQUIRE(u > 0);
  memset(buf, '#', sizeof buf);
  int r = gh_get_name(u, buf, sizeof buf);
  CHECKF(r == 0, "gh_get_name on an unnamed thread failed: errno=%s", th_errname(errno));
  if (r == 0) {
    CHECK(memchr(buf, '\0', sizeof buf) != NULL);
    th_note("name of an unnamed thread: \"%.63s\"", buf);
  }
  CHECK_EQ(gh_join(u, &st), 0);
}

/* ------------------------------------------------------------------------------------------ */
/* kill                                                                                       */

struct killed {
  int rc1, err1;
  int rc2, err2;
  int rc3, err3;
  double slept;
  int loops;
};

static int kill_victim_sleep(void *arg) {
  struct killed *k = arg;
  double t0 = now_ms();
  errno = 0;
  k->rc1 = gh_sleep(10000);
  k->err1 = errno;
  k->slept = now_ms() - t0;
  errno = 0;
  k->rc2 = gh_sleep(1); /* later blocking calls fail too */
  k->err2 = errno;
  errno = 0;
  k->rc3 = gh_yield();
  k->err3 = errno;
  /* A loop that only ends when blocking calls fail must end. */
  while (gh_sleep(1000) == 0 && k->loops < 5) k->loops++;
  return 5;
}

static void test_kill_sleeping_thread(void) {
  struct killed k;
  memset(&k, 0, sizeof k);
  k.rc1 = k.rc2 = k.rc3 = -2;
  gh_thread t = gh_spawn(kill_victim_sleep, &k);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(0), 0); /* let it start and block */
  double t0 = now_ms();
  CHECK_EQ(gh_kill(t), 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  double took = now_ms() - t0;
  CHECKF(k.rc1 == -1 && k.err1 == ECANCELED, "killed gh_sleep: got %d errno=%s, want ECANCELED",
         k.rc1, th_errname(k.err1));
  CHECKF(k.slept < 500, "killed gh_sleep(10000) returned after %.1f ms", k.slept);
  CHECKF(k.rc2 == -1 && k.err2 == ECANCELED,
         "a blocking call after the kill: got %d errno=%s, want ECANCELED", k.rc2,
         th_errname(k.err2));
  CHECKF(k.rc3 == -1 && k.err3 == ECANCELED, "gh_yield after the kill: got %d errno=%s, want "
         "ECANCELED", k.rc3, th_errname(k.err3));
  CHECK_EQ(k.loops, 0);
  CHECKF(st == 5, "status of the killed thread: %d, want 5 (what it returned)", st);
  CHECKF(took < 500, "kill + join took %.1f ms", took);
  CHECK_ERR(gh_kill(t), EBADF);
}

struct kill_early {
  int ran;
  int rc, err;
};

static int kill_victim_fresh(void *arg) {
  struct kill_early *k = arg;
  k->ran = 1;
  errno = 0;
  k->rc = gh_sleep(10);
  k->err = errno;
  return 6;
}

static void test_kill_before_start(void) {
  struct kill_early k = {0, -2, 0};
  gh_thread t = gh_spawn(kill_victim_fresh, &k);
  REQUIRE(t > 0);
  CHECK_EQ(gh_kill(t), 0);
  CHECK_EQ(k.ran, 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  CHECKF(k.ran == 1, "a thread killed before it started never ran");
  CHECKF(k.rc == -1 && k.err == ECANCELED,
         "first blocking call of a thread killed before start: got %d errno=%s, want ECANCELED",
         k.rc, th_errname(k.err));
  CHECK_EQ(st, 6);
}

struct kill_join {
  gh_thread target;
  int rc, err;
};

static int kill_victim_join(void *arg) {
  struct kill_join *kj = arg;
  int st = 0;
  errno = 0;
  kj->rc = gh_join(kj->target, &st);
  kj->err = errno;
  return 0;
}


static void test_kill_thread_blocked_in_join(void) {
  gh_thread u = gh_spawn(sleep_then_return, (void *)(intptr_t)200);
  REQUIRE(u > 0);
  struct kill_join kj = {u, -2, 0};
  gh_thread t = gh_spawn(kill_victim_join, &kj);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(0), 0);
  CHECK_EQ(gh_kill(t), 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st = -1;
  double t0 = now_ms();
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(now_ms() - t0 < 150, "join of a killed thread blocked in gh_join took %.1f ms",
         now_ms() - t0);
  CHECKF(kj.rc == -1 && kj.err == ECANCELED, "killed gh_join: got %d errno=%s, want ECANCELED",
         kj.rc, th_errname(kj.err));
  /* The thread it was waiting for is unaffected and still joinable. */
  st = -1;
  CHECK_EQ(gh_join(u, &st), 0);
  CHECK_EQ(st, 0);
  gh_deadline_pop();
}

static void test_kill_garbage_and_finished(void) {
  CHECK_ERR(gh_kill(0x7fffffff), EBADF);
  CHECK_ERR(gh_kill(-3), EBADF);
  CHECK_ERR(gh_kill(0), EINVAL); /* the root */
  gh_thread t = gh_spawn(return_arg, (void *)(intptr_t)1);
  REQUIRE(t > 0);
  CHECK_EQ(gh_sleep(5), 0); /* it ends, not joined yet */
  CHECK_EQ(gh_kill(t), 0);  /* killing an ended thread does nothing */
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 1);
  CHECK_ERR(gh_kill(t), EBADF);
}

/* ------------------------------------------------------------------------------------------ */
/* exit                                                                                       */

static int exit_after_marks;

static void exit_deep(int depth, int status) {
  if (depth == 0) {
    gh_exit(status);
    exit_after_marks |= 1;
    return;
  }
  exit_deep(depth - 1, status);
  exit_after_marks |= 2;
}

static int exit_body(void *arg) {
  gh_deadline_push(5000); /* exiting with a pushed deadline is fine */
  exit_deep(3, (int)(intptr_t)arg);
  exit_after_marks |= 4;
  return 99;
}

static void test_exit_in_thread(void) {
  exit_after_marks = 0;
  gh_thread t = gh_spawn(exit_body, (void *)(intptr_t)7);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  CHECKF(st == 7, "gh_exit(7) from a nested call: join status %d", st);
  CHECKF(exit_after_marks == 0, "code after gh_exit ran (marks 0x%x)", exit_after_marks);
  /* The process is fine: more threads work. */
  gh_thread u = gh_spawn(return_arg, (void *)(intptr_t)8);
  REQUIRE(u > 0);
  CHECK_EQ(gh_join(u, &st), 0);
  CHECK_EQ(st, 8);
}

static void test_exit_in_root_eperm(void) {
  int reached = 0;
  errno = 0;
  gh_exit(3);
  int e = errno;
  reached = 1;
  CHECK(reached);
  CHECKF(e == EPERM, "gh_exit in the root: errno=%s, want EPERM", th_errname(e));
  /* Still usable afterwards. */
  gh_thread t = gh_spawn(return_arg, (void *)(intptr_t)4);
  REQUIRE(t > 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 4);
}

/* ------------------------------------------------------------------------------------------ */
/* gh_run                                                                                     */

static struct {
  int a_done, c_done, d_yields;
} run_st;

static int run_a(void *arg) {
  (void)arg;
  if (gh_sleep(10) != 0) return -1;
  run_st.a_done = 1;
  return 1;
}

static int run_c(void *arg) {
  (void)arg;
  if (gh_sleep(20) != 0) return -1;
  run_st.c_done = 1;
  return 0;
}

static int run_b(void *arg) {
  (void)arg;
  return gh_spawn_n(run_c, NULL) > 0 ? 2 : -1;
}

static int run_d(void *arg) {
  (void)arg;
  for (int i = 0; i < 10; i++) {
    gh_yield();
    run_st.d_yields++;
  }
  return 3;
}

static int run_from_thread(void *arg) {
  int *out = arg;
  gh_deadline_push(1000);
  errno = 0;
  out[0] = gh_run();
  out[1] = errno;
  gh_deadline_pop();
  return 0;
}

static void test_run_completes_all(void) {
  memset(&run_st, 0, sizeof run_st);
  double t0 = now_ms();
  CHECK_EQ(gh_run(), 0); /* nothing to run */
  CHECKF(now_ms() - t0 < 100, "gh_run with no threads took %.1f ms", now_ms() - t0);
  gh_thread a = gh_spawn(run_a, NULL);
  gh_thread b = gh_spawn(run_b, NULL);
  gh_thread d = gh_spawn(run_d, NULL);
  REQUIRE(a > 0 && b > 0 && d > 0);
  CHECK_EQ(gh_run(), 0);
  CHECK_EQ(run_st.a_done, 1);
  CHECKF(run_st.c_done == 1, "gh_run returned before a detached grandchild finished");
  CHECK_EQ(run_st.d_yields, 10);
  int st = -1;
  CHECK_EQ(gh_join(a, &st), 0);
  CHECK_EQ(st, 1);
  CHECK_EQ(gh_join(b, &st), 0);
  CHECK_EQ(st, 2);
  CHECK_EQ(gh_join(d, &st), 0);
  CHECK_EQ(st, 3);
  CHECK_EQ(gh_run(), 0);
}

static void test_run_from_thread_fails(void) {
  int out[2] = {-2, 0};
  gh_thread t = gh_spawn(run_from_thread, out);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  CHECKF(out[0] == -1, "gh_run inside a green thread (root only): returned %d errno=%s", out[0],
         th_errname(out[1]));
  if (out[0] == -1) th_note("gh_run inside a green thread: errno=%s", th_errname(out[1]));
}

/* ------------------------------------------------------------------------------------------ */
/* stacks                                                                                     */

static int use_stack(void *arg) {
  size_t n = (size_t)(intptr_t)arg;
  volatile char big[n];
  for (size_t i = 0; i < n; i += 256) big[i] = (char)(i >> 8);
  big[n - 1] = 1;
  unsigned sum = 0;
  for (size_t i = 0; i < n; i += 4096) sum += (unsigned char)big[i];
  (void)sum;
  return big[n - 1] == 1 ? 0 : 1;
}

static void test_stack_size_setting(void) {
  size_t old = gh_get_stack_size();
  CHECKF(old >= 16 * 1024, "default stack size %zu < 16 KiB", old);
  th_note("default stack size: %zu bytes", old);
  CHECK_ERR(gh_set_stack_size(1), EINVAL);
  CHECK_ERR(gh_set_stack_size(0), EINVAL);
  CHECK_ERR(gh_set_stack_size(16 * 1024 - 1), EINVAL);
  CHECK_EQ(gh_get_stack_size(), old);
  CHECK_EQ(gh_set_stack_size(256 * 1024), 0);
  CHECK_EQ(gh_get_stack_size(), 256 * 1024);

  gh_deadline_push(ROOT_DEADLINE_MS);
  /* 128 KiB of locals on the 256 KiB default. */
  gh_thread t = gh_spawn(use_stack, (void *)(intptr_t)(128 * 1024));
  REQUIRE(t > 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(st == 0, "thread using 128 KiB on a 256 KiB stack: status %d", st);

  CHECK_EQ(gh_set_stack_size(16 * 1024), 0); /* the lower bound itself is valid */
  CHECK_EQ(gh_get_stack_size(), 16 * 1024);

  /* A per-spawn stack size overrides the (small) default. */
  CHECK_EQ(gh_set_stack_size(64 * 1024), 0);
  gh_spawn_opts o;
  opts_init(&o);
  o.stack_size = 1024 * 1024;
  t = gh_spawn_ex(use_stack, (void *)(intptr_t)(512 * 1024), &o);
  REQUIRE(t > 0);
  st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECKF(st == 0, "thread using 512 KiB with opts.stack_size = 1 MiB: status %d", st);
  gh_deadline_pop();
  CHECK_EQ(gh_set_stack_size(old), 0);
  CHECK_EQ(gh_get_stack_size(), old);
}

/* Runs this test binary again as "--print-stack-size" with GREENHUB_STACK_SIZE set to value
 * (NULL: unset); returns what it printed (gh_get_stack_size()), or 0 on error. */
static size_t stack_size_in_child(const char *value) {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  pid_t pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    if (value)
      setenv("GREENHUB_STACK_SIZE", value, 1);
    else
      unsetenv("GREENHUB_STACK_SIZE");
    char *args[] = {(char *)"test_api", (char *)"--print-stack-size", NULL};
    execv("/proc/self/exe", args);
    _exit(127);
  }
  close(fds[1]);
  char out[64] = "";
  size_t len = 0;
  ssize_t n;
  while (len < sizeof out - 1 && (n = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
    len += (size_t)n;
  out[len] = '\0';
  close(fds[0]);
  int wst;
  waitpid(pid, &wst, 0);
  return (size_t)strtoull(out, NULL, 10);
}

static void test_stack_size_from_env(void) {
  size_t def = stack_size_in_child(NULL);
  CHECKF(def == 128 * 1024, "default stack size without GREENHUB_STACK_SIZE: %zu, want 131072",
         def);
  size_t k = stack_size_in_child("300k");
  CHECKF(k == 300 * 1024, "GREENHUB_STACK_SIZE=300k: %zu, want 307200", k);
  size_t m = stack_size_in_child("1m");
  CHECKF(m == 1024 * 1024, "GREENHUB_STACK_SIZE=1m: %zu, want 1048576", m);
  size_t b = stack_size_in_child("65536");
  CHECKF(b == 65536, "GREENHUB_STACK_SIZE=65536: %zu, want 65536", b);
  size_t bad = stack_size_in_child("lots");
  th_note("GREENHUB_STACK_SIZE=lots gives %zu; =1000 (below 16 KiB) gives %zu", bad,
          stack_size_in_child("1000"));
  CHECKF(bad >= 16 * 1024, "an unparsable GREENHUB_STACK_SIZE gave a default of %zu", bad);
}

static volatile int recurse_limit = INT_MAX;

static int recurse(int n) {
  volatile char pad[512];
  pad[0] = (char)n;
  pad[511] = (char)(n >> 8);
  if (n >= recurse_limit) return 0;
  return recurse(n + 1) + pad[0] + pad[511];
}

static int overflow_body(void *arg) {
  *(int *)arg = 1;
  return recurse(0);
}

static void test_stack_overflow_status(void) {
  gh_sock a = 0, b = 0;
  gh_deadline_push(ROOT_DEADLINE_MS);
  if (make_pair(&a, &b) != 0) {
    gh_deadline_pop();
    return;
  }
  for (int round = 0; round < 2; round++) {
    int started = 0;
    gh_spawn_opts o;
    opts_init(&o);
    o.stack_size = 64 * 1024;
    if (round == 0) o.sock = a; /* the dying thread owns a socket */
    gh_thread t = gh_spawn_ex(overflow_body, &started, &o);
    REQUIRE(t > 0);
    int st = 0;
    CHECK_EQ(gh_join(t, &st), 0);
    CHECK_EQ(started, 1);
    CHECKF(st == INT32_MIN, "round %d: status of a thread that overflowed its stack: %d, want "
           "GH_STATUS_STACK_OVERFLOW", round, st);
  }
  /* Its socket was closed: the handle is stale and the peer sees EOF. */
  CHECK_ERR(gh_fileno(a), EBADF);
  char c;
  gh_settimeout(b, 2000);
  CHECK_EQ(gh_recv(b, &c, 1), 0);
  /* The process goes on. */
  gh_thread u = gh_spawn(return_arg, (void *)(intptr_t)11);
  REQUIRE(u > 0);
  int st = -1;
  CHECK_EQ(gh_join(u, &st), 0);
  CHECK_EQ(st, 11);
  gh_close(b);
  gh_deadline_pop();
}

static void test_spawn_huge_stack(void) {
  gh_spawn_opts o;
  opts_init(&o);
  int flag = 0;

  o.stack_size = (size_t)1 << 62; /* beyond the address space */
  CHECK_ERR2(gh_spawn_ex(set_flag, &flag, &o), ENOMEM, EAGAIN);

  o.stack_size = SIZE_MAX; /* page rounding must not wrap around */
  errno = 0;
  gh_thread t = gh_spawn_ex(set_flag, &flag, &o);
  int e = errno;
  CHECKF(t == -1 && (e == ENOMEM || e == EAGAIN || e == EINVAL),
         "stack_size SIZE_MAX: got %lld errno=%s, want -1 ENOMEM/EAGAIN (or EINVAL)",
         (long long)t, th_errname(e));

  o.stack_size = (size_t)1 << 46; /* 64 TiB */
  errno = 0;
  t = gh_spawn_ex(set_flag, &flag, &o);
  e = errno;
  if (t == -1) {
    CHECKF(e == ENOMEM || e == EAGAIN, "stack_size 1<<46: errno=%s, want ENOMEM or EAGAIN",
           th_errname(e));
  } else {
    th_fail(__FILE__, __LINE__, -1,
            "gh_spawn_ex with stack_size 1<<46 (64 TiB) succeeded (id %lld), want -1 "
            "ENOMEM/EAGAIN", (long long)t);
    if (t > 0) {
      int st = -1;
      CHECK_EQ(gh_join(t, &st), 0);
    }
  }

  /* A huge default is either refused or makes the spawns fail cleanly. */
  size_t old = gh_get_stack_size();
  errno = 0;
  if (gh_set_stack_size((size_t)1 << 62) == 0) {
    CHECK_ERR2(gh_spawn(set_flag, &flag), ENOMEM, EAGAIN);
    CHECK_EQ(gh_set_stack_size(old), 0);
  } else {
    th_note("gh_set_stack_size(1<<62) refused: errno=%s", th_errname(errno));
  }
  CHECK_EQ(gh_get_stack_size(), old);

  /* The process is fine afterwards. */
  flag = 0;
  t = gh_spawn(set_flag, &flag);
  REQUIRE(t > 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(flag, 1);
}

/* ------------------------------------------------------------------------------------------ */
/* deadlines                                                                                  */

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

static void test_deadline_sleep_root(void) {
  struct dl_result r;
  memset(&r, 0, sizeof r);
  deadline_sleep_sequence(&r);
  check_dl_result(&r, "root");
}

static int deadline_thread_body(void *arg) {
  deadline_sleep_sequence(arg);
  return 0;
}

static void test_deadline_sleep_thread(void) {
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

static void test_deadline_nested(void) {
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

static void test_deadline_earliest_applies(void) {
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

static void test_deadline_negative_none(void) {
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

static void test_deadline_pop_empty(void) {
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

static void test_deadline_per_thread(void) {
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

static void test_deadline_join(void) {
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

/* ------------------------------------------------------------------------------------------ */
/* deadlock detection                                                                         */

static gh_thread cyc_ids[2];
static struct {
  int rc, err, st;
} cyc_res[2];

static int cycle_body(void *arg) {
  int idx = (int)(intptr_t)arg;
  int st = -1;
  errno = 0;
  cyc_res[idx].rc = gh_join(cyc_ids[1 - idx], &st);
  cyc_res[idx].err = errno;
  cyc_res[idx].st = st;
  return 10 + idx;
}

static int spawn_cycle(void) {
  memset(cyc_res, 0, sizeof cyc_res);
  cyc_res[0].rc = cyc_res[1].rc = -2;
  cyc_ids[0] = gh_spawn(cycle_body, (void *)(intptr_t)0);
  cyc_ids[1] = gh_spawn(cycle_body, (void *)(intptr_t)1);
  return cyc_ids[0] > 0 && cyc_ids[1] > 0 ? 0 : -1;
}

/* After the root saw EDEADLK: the two threads are still stuck; kill them and join them. */
static void break_cycle(void) {
  CHECK_EQ(gh_kill(cyc_ids[0]), 0);
  CHECK_EQ(gh_kill(cyc_ids[1]), 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st = -1;
  CHECK_EQ(gh_join(cyc_ids[0], &st), 0);
  CHECK_EQ(st, 10);
  st = -1;
  CHECK_EQ(gh_join(cyc_ids[1], &st), 0);
  CHECK_EQ(st, 11);
  gh_deadline_pop();
  CHECKF(cyc_res[0].err == ECANCELED && cyc_res[1].err == ECANCELED,
         "killed cycle members' gh_join: errno %s / %s, want ECANCELED",
         th_errname(cyc_res[0].err), th_errname(cyc_res[1].err));
}

static void test_deadlock_join_cycle(void) {
  REQUIRE(spawn_cycle() == 0);
  /* No deadline here: a pending deadline could legitimately wake the root. */
  int st = -1;
  double t0 = now_ms();
  errno = 0;
  int r = gh_join(cyc_ids[0], &st);
  int e = errno;
  double el = now_ms() - t0;
  CHECKF(el < 2000, "gh_join on a join cycle took %.1f ms", el);
  if (r == -1) {
    CHECKF(e == EDEADLK, "root gh_join on a join cycle: errno=%s, want EDEADLK", th_errname(e));
    th_note("outcome: root's gh_join failed with %s after %.1f ms", th_errname(e), el);
    if (e == EDEADLK) break_cycle();
  } else {
    th_note("outcome: a cycle member got errno %s / %s; root join ok after %.1f ms",
            th_errname(cyc_res[0].err), th_errname(cyc_res[1].err), el);
    CHECK_EQ(r, 0);
    CHECK_EQ(st, 10);
    CHECKF(cyc_res[0].err == EDEADLK || cyc_res[1].err == EDEADLK,
           "root join succeeded but no cycle member got EDEADLK (rc %d/%d errno %s/%s)",
           cyc_res[0].rc, cyc_res[1].rc, th_errname(cyc_res[0].err), th_errname(cyc_res[1].err));
  }
}

static void test_deadlock_run(void) {
  REQUIRE(spawn_cycle() == 0);
  double t0 = now_ms();
  errno = 0;
  int r = gh_run();
  int e = errno;
  double el = now_ms() - t0;
  CHECKF(el < 2000, "gh_run with a join cycle took %.1f ms", el);
  if (r == -1) {
    CHECKF(e == EDEADLK, "gh_run with a join cycle: errno=%s, want EDEADLK", th_errname(e));
    th_note("outcome: gh_run failed with %s", th_errname(e));
    if (e == EDEADLK) {
      break_cycle();
      CHECK_EQ(gh_run(), 0);
    }
  } else {
    th_note("outcome: gh_run returned %d; cycle members errno %s / %s", r,
            th_errname(cyc_res[0].err), th_errname(cyc_res[1].err));
    CHECK_EQ(r, 0);
    CHECKF(cyc_res[0].err == EDEADLK || cyc_res[1].err == EDEADLK,
           "gh_run succeeded but no cycle member got EDEADLK");
  }
}

/* ------------------------------------------------------------------------------------------ */
/* log callback                                                                               */

struct logcap {
  int calls;
  int bad_newline;
  char lines[16][512];
};

static void log_cb(void *ctx, const gh_report *report) {
  const char *line = report->text;
  struct logcap *c = ctx;
  if (c->calls < 16) snprintf(c->lines[c->calls], sizeof c->lines[0], "%s", line);
  if (line && strchr(line, '\n')) c->bad_newline = 1;
  c->calls++;
}

static int find_log_line(const struct logcap *c, long long id, long long status) {
  for (int i = 0; i < c->calls && i < 16; i++)
    if (text_has_number(c->lines[i], id) && text_has_number(c->lines[i], status)) return i;
  return -1;
}

static void test_log_callback(void) {
  static struct logcap cap;
  memset(&cap, 0, sizeof cap);
  gh_set_log(log_cb, &cap);
  gh_deadline_push(ROOT_DEADLINE_MS);

  gh_thread t = gh_spawn(return_arg, (void *)(intptr_t)13);
  REQUIRE(t > 0);
  int st = -1;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(st, 13);
  int i = find_log_line(&cap, t, 13);
  CHECKF(i >= 0, "no log line mentions thread %lld and status 13 (%d lines; first: \"%s\")",
         (long long)t, cap.calls, cap.calls ? cap.lines[0] : "");
  if (i >= 0) th_note("log line: \"%s\"", cap.lines[i]);
  CHECKF(!cap.bad_newline, "a log line contains a newline");

  /* A detached thread's failure is logged too. */
  gh_thread d = gh_spawn_n(return_arg, (void *)(intptr_t)9);
  REQUIRE(d > 0);
  CHECK_EQ(gh_run(), 0);
  CHECKF(find_log_line(&cap, d, 9) >= 0, "no log line for detached thread %lld status 9",
         (long long)d);

  int before = cap.calls;
  gh_thread z = gh_spawn(return_arg, (void *)(intptr_t)0);
  REQUIRE(z > 0);
  CHECK_EQ(gh_join(z, &st), 0);
  if (cap.calls != before) th_note("a thread returning 0 was logged: \"%s\"", cap.lines[before]);

  /* NULL restores the default (stderr): the callback is no longer called. */
  gh_set_log(NULL, NULL);
  fflush(stderr);
  char path[] = "/tmp/gh-test-stderr-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  int saved = dup(2);
  dup2(fd, 2);
  before = cap.calls;
  gh_thread u = gh_spawn(return_arg, (void *)(intptr_t)14);
  if (u > 0) gh_join(u, &st);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  REQUIRE(u > 0);
  CHECKF(cap.calls == before, "the callback was called after gh_set_log(NULL, NULL)");
  char text[4096];
  ssize_t n = pread(fd, text, sizeof text - 1, 0);
  close(fd);
  text[n > 0 ? n : 0] = '\0';
  CHECKF(text_has_number(text, u) && text_has_number(text, 14),
         "default log (stderr) has no line with thread %lld and status 14: \"%.200s\"",
         (long long)u, text);
  gh_deadline_pop();
}

struct blocking_log {
  int calls;
  int rc, err;
  int yield_rc, yield_err;
};

static void blocking_log_cb(void *ctx, const gh_report *report) {
  struct blocking_log *b = ctx;
  (void)report;
  if (b->calls++ == 0) {
    errno = 0;
    b->rc = gh_sleep(1);
    b->err = errno;
  }
}

static void test_log_callback_must_not_block(void) {
  static struct blocking_log b;
  memset(&b, 0, sizeof b);
  b.rc = -2;
  gh_set_log(blocking_log_cb, &b);
  gh_thread t = gh_spawn(return_arg, (void *)(intptr_t)3);
  REQUIRE(t > 0);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  CHECK_EQ(gh_run(), 0);
  gh_deadline_pop();
  gh_set_log(NULL, NULL);
  CHECKF(b.calls >= 1, "the log callback was not called for a thread returning 3");
  CHECKF(b.rc == -1 && b.err == EDEADLK,
         "gh_sleep inside the log callback: %d errno=%s, want EDEADLK", b.rc, th_errname(b.err));
  /* The hub still works. */
  CHECK_EQ(gh_sleep(1), 0);
}

/* ------------------------------------------------------------------------------------------ */
/* many threads                                                                               */

static int many_sleep_errno[5000];

static int many_body(void *arg) {
  int i = (int)(intptr_t)arg;
  if (gh_sleep(1) != 0) {
    many_sleep_errno[i] = errno;
    return -1;
  }
  if (i % 2) gh_exit(i % 1000 + 1);
  return i % 1000 + 1;
}

static void test_many_threads_5000(void) {
  enum { N = 5000 };
  static gh_thread t[N];
  double t0 = now_ms();
  for (int i = 0; i < N; i++) {
    t[i] = gh_spawn(many_body, (void *)(intptr_t)i);
    if (t[i] <= 0) {
      th_fail(__FILE__, __LINE__, errno, "gh_spawn #%d of %d failed", i, N);
      break;
    }
  }
  gh_deadline_push(30000);
  int bad = 0, joined = 0, first_bad = -1, first_st = 0;
  for (int i = 0; i < N && t[i] > 0; i++) {
    int st = -1;
    if (gh_join(t[i], &st) != 0) {
      th_fail(__FILE__, __LINE__, errno, "gh_join of thread #%d failed", i);
      break;
    }
    joined++;
    if (st != i % 1000 + 1) {
      if (bad++ == 0) {
        first_bad = i;
        first_st = st;
      }
    }
  }
  gh_deadline_pop();
  CHECK_EQ(joined, N);
  CHECKF(bad == 0, "%d wrong statuses (first: thread #%d reported %d, want %d; -1 = its "
         "gh_sleep(1) failed with errno %s)", bad, first_bad, first_st, first_bad % 1000 + 1,
         first_bad >= 0 ? th_errname(many_sleep_errno[first_bad]) : "-");
  th_note("5000 threads spawned, slept and joined in %.0f ms", now_ms() - t0);
  CHECK_EQ(gh_run(), 0);
}

const test_case thread_tests[] = {
    {"spawn_runs_on_yield", test_spawn_runs_on_yield},
    {"spawn_runs_on_sleep0", test_spawn_runs_on_sleep0},
    {"spawn_runs_on_join", test_spawn_runs_on_join},
    {"spawn_from_thread_runs_on_yield", test_spawn_from_thread_runs_on_yield},
    {"spawn_fifo_order", test_spawn_fifo_order},
    {"spawn_null_einval", test_spawn_null_einval},
    {"spawn_ex_options", test_spawn_ex_options},
    {"sleep_negative_einval", test_sleep_negative_einval},
    {"join_returns_status", test_join_returns_status},
    {"join_twice_ebadf", test_join_twice_ebadf},
    {"join_stale_id_not_reused", test_join_stale_id_not_reused},
    {"join_detached_einval", test_join_detached_einval},
    {"join_garbage_ids", test_join_garbage_ids},
    {"join_self_edeadlk", test_join_self_edeadlk},
    {"self_ids", test_self_ids},
    {"sleep_ordering", test_sleep_ordering},
    {"sleep_in_root", test_sleep_in_root},
    {"sleep_no_spurious_timeout", test_sleep_no_spurious_timeout},
    {"thread_names", test_thread_names},
    {"kill_sleeping_thread", test_kill_sleeping_thread},
    {"kill_before_start", test_kill_before_start},
    {"kill_thread_blocked_in_join", test_kill_thread_blocked_in_join},
    {"kill_garbage_and_finished", test_kill_garbage_and_finished},
    {"exit_in_thread", test_exit_in_thread},
    {"exit_in_root_eperm", test_exit_in_root_eperm},
    {"run_completes_all", test_run_completes_all},
    {"run_from_thread_fails", test_run_from_thread_fails},
    {"stack_size_setting", test_stack_size_setting},
    {"stack_size_from_env", test_stack_size_from_env},
    {"stack_overflow_status", test_stack_overflow_status},
    {"spawn_huge_stack", test_spawn_huge_stack},
    {"deadline_sleep_root", test_deadline_sleep_root},
    {"deadline_sleep_thread", test_deadline_sleep_thread},
    {"deadline_nested", test_deadline_nested},
    {"deadline_earliest_applies", test_deadline_earliest_applies},
    {"deadline_negative_none", test_deadline_negative_none},
    {"deadline_pop_empty", test_deadline_pop_empty},
    {"deadline_per_thread", test_deadline_per_thread},
    {"deadline_join", test_deadline_join},
    {"deadlock_join_cycle", test_deadlock_join_cycle},
    {"deadlock_run", test_deadlock_run},
    {"log_callback", test_log_callback},
    {"log_callback_must_not_block", test_log_callback_must_not_block},
    {"many_threads_5000", test_many_threads_5000},
    {NULL, NULL},
};
