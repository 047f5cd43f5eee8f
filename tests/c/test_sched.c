/* greenhub C API tests: scheduling between the root, green threads, timers and I/O. Loops that
 * a regression would make endless are bounded by the clock (a watchdog), so they fail instead. */
#include "harness.h"
#include "support.h"

#define WATCHDOG_MS 2000

struct reader {
  gh_sock s;
  volatile int done;
  ssize_t got;
};

static int read_once(void *arg) {
  struct reader *r = arg;
  char buf[16];
  gh_deadline_push(WATCHDOG_MS * 2);
  r->got = gh_recv(r->s, buf, sizeof buf);
  gh_deadline_pop();
  r->done = 1;
  return 0;
}

/* `while (!done) gh_yield();` in the root: each turn must let I/O be noticed. The root used to
 * run again at once, never polling, so a thread waiting on a socket never woke. */
static void root_yield_loop_wakes_io_waiter(int (*yield)(void)) {
  gh_sock a, b;
  gh_deadline_push(ROOT_DEADLINE_MS);
  int paired = make_pair(&a, &b);
  gh_deadline_pop();
  if (paired != 0) return;
  struct reader r = {a, 0, -2};
  gh_thread t = gh_spawn(read_once, &r);
  REQUIRE(t > 0);
  CHECK_EQ(yield(), 0); /* the reader runs and waits in gh_recv */
  CHECK(!r.done);
  CHECK_EQ(gh_send(b, "x", 1), 1); /* completes at once: no wait, no poll */
  double end = now_ms() + WATCHDOG_MS;
  long turns = 0;
  while (!r.done && now_ms() < end) {
    CHECK_EQ(yield(), 0);
    turns++;
  }
  CHECKF(r.done, "the reader never woke: %ld root yields in %d ms", turns, WATCHDOG_MS);
  CHECKF(turns <= 3, "the reader woke after %ld root yields, want at most 3", turns);
  CHECK_EQ(r.got, 1);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
  gh_close(a);
  gh_close(b);
}

static int sleep_zero(void) { return gh_sleep(0); }

TEST(root_yield_loop_wakes_io_waiter) {
  root_yield_loop_wakes_io_waiter(gh_yield);
}

TEST(root_sleep0_loop_wakes_io_waiter) {
  root_yield_loop_wakes_io_waiter(sleep_zero);
}

static int sleep_then_done(void *arg) {
  volatile int *done = arg;
  if (gh_sleep(20) == 0) *done = 1;
  return 0;
}

/* The same loop must let due timers fire: a sleeping thread never woke either. */
TEST(root_yield_loop_fires_timers) {
  volatile int done = 0;
  gh_thread t = gh_spawn(sleep_then_done, (void *)&done);
  REQUIRE(t > 0);
  double t0 = now_ms(), end = t0 + WATCHDOG_MS;
  while (!done && now_ms() < end) CHECK_EQ(gh_yield(), 0);
  double el = now_ms() - t0;
  CHECKF(done, "a 20 ms sleep never ended while the root yielded for %d ms", WATCHDOG_MS);
  CHECKF(el < 500, "a 20 ms sleep ended after %.0f ms of root yields", el);
  gh_deadline_push(ROOT_DEADLINE_MS);
  int st;
  CHECK_EQ(gh_join(t, &st), 0);
  gh_deadline_pop();
}
