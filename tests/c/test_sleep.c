/* greenhub C API tests: gh_sleep. Wake-up order, the root sleeping, no spurious
 * timeout however late a thread gets to park, bad arguments. */
#include "harness.h"
#include "support.h"

#include <signal.h>
#include <time.h>

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

TEST(sleep_ordering) {
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

TEST(sleep_no_spurious_timeout) {
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

TEST(sleep_in_root) {
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

TEST(sleep_negative_einval) {
  CHECK_ERR(gh_sleep(-1), EINVAL);
  CHECK_ERR(gh_sleep(INT64_MIN), EINVAL);
  CHECK_EQ(gh_sleep(1), 0);
}
