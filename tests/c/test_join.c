/* greenhub C API tests: gh_join. The status, a handle joined once, stale and garbage
 * handles, detached threads, joining oneself. */
#include "harness.h"
#include "support.h"

#include <limits.h>

TEST(join_returns_status) {
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

TEST(join_twice_ebadf) {
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

TEST(join_stale_id_not_reused) {
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

TEST(join_detached_einval) {
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

TEST(join_garbage_ids) {
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

TEST(join_self_edeadlk) {
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
