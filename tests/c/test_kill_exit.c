/* greenhub C API tests: gh_kill (a sleeping thread, one not started yet, one blocked in a
 * join, bad handles) and gh_exit (from deep in a thread; refused in the root). */
#include "harness.h"
#include "support.h"

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

TEST(kill_sleeping_thread) {
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

TEST(kill_before_start) {
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

TEST(kill_thread_blocked_in_join) {
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

TEST(kill_garbage_and_finished) {
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

TEST(exit_in_thread) {
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

TEST(exit_in_root_eperm) {
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
