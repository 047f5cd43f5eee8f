/* greenhub C API tests: gh_run (the root runs every thread to its end) and deadlock
 * detection (the root gets EDEADLK when nothing can ever wake it). */
#include "harness.h"
#include "support.h"

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

TEST(run_completes_all) {
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

TEST(run_from_thread_fails) {
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

TEST(deadlock_join_cycle) {
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

TEST(deadlock_run) {
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
